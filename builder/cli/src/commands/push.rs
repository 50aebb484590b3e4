//! `aip-builder push <MODULE_DIR> <REGISTRY/REPO[:TAG]> [--no-latest]`

use std::path::{Path, PathBuf};

use aip_distribute::{ModuleRef, PushEvent, PushReport};
use clap::Args;
use serde_json::json;

use crate::exit::CliError;
use crate::progress::{Format, Progress};
use crate::registry_args::{RegistryArgs, block_on, distribute_error, module_ref};

/// Push a module (artifact, signature, SBOM, manifest.yaml) to an OCI registry.
#[derive(Debug, Args)]
pub struct Opts {
    /// The module folder (e.g. modules/openai).
    module: PathBuf,
    /// Where: REGISTRY/REPO, optionally :TAG for one more tag.
    destination: String,
    /// Do not move the `latest` tag.
    #[arg(long)]
    no_latest: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        let dest = module_ref(&self.destination)?;
        let mut progress = Progress::new(self.format);
        let report = push_module(
            &self.module,
            &dest,
            !self.no_latest,
            &self.registry,
            &mut progress,
        )?;
        print_report(&report, self.format, &progress);
        Ok(())
    }
}

/// Pushes `module` to `dest`, reporting progress; shared with `build --push`.
pub fn push_module(
    module: &Path,
    dest: &ModuleRef,
    latest: bool,
    registry: &RegistryArgs,
    progress: &mut Progress,
) -> Result<PushReport, CliError> {
    let (config, _) = registry.config()?;
    progress.stage(
        "push",
        &format!("{} -> {}", module.display(), dest.repo_string()),
    );
    block_on(async {
        let client = registry.connect(&dest.registry, &config).await?;
        let mut on = |event: PushEvent| progress.note(&event.to_string());
        aip_distribute::publish(&client, module, dest, latest, &mut on)
            .await
            .map_err(|e| {
                if matches!(e, aip_distribute::DistributeError::Reference { .. }) {
                    return distribute_error(e);
                }
                distribute_error(e).note(format!(
                    "the push of {} to {} did not complete; the local module is unchanged, and running the same push again completes it (blobs already uploaded are not sent again)",
                    module.display(),
                    dest.repo_string()
                ))
            })
    })
}

/// Prints what a push did.
pub fn print_report(report: &PushReport, format: Format, progress: &Progress) {
    match format {
        Format::Json => crate::outln!(
            "{}",
            json!({"pushed": report, "seconds": progress.total_secs()})
        ),
        Format::Text => crate::outln!(
            "pushed {} (tags: {}; {} blobs uploaded, {} bytes; {} already present) in {:.1}s",
            report.reference,
            report.tags.join(", "),
            report.blobs_uploaded,
            report.bytes_uploaded,
            report.blobs_present,
            progress.total_secs()
        ),
    }
}
