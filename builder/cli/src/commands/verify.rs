//! `aip-builder verify <MODULE_DIR | REGISTRY/REPO@...> --key PUBKEYREF`

use std::path::Path;

use aip_register::VerifyReport;
use clap::Args;
use serde_json::json;

use crate::exit::{CliError, user};
use crate::progress::Format;
use crate::registry_args::{RegistryArgs, block_on, distribute_error, module_ref};

/// Verify a module's signature, digests and SBOM binding: a module folder,
/// or a module in a registry (in place, without installing it).
#[derive(Debug, Args)]
pub struct Opts {
    /// A module folder (e.g. modules/openai), an OCI layout a module was
    /// copied into (DIR or DIR:TAG, e.g. by skopeo copy), or
    /// REGISTRY/REPO[@VERSION|:TAG|@sha256:...].
    module: String,
    /// The public key: a file path or env://VAR. Default: `key` in the config file.
    #[arg(long)]
    key: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        let (config, key) = self.registry.config_and_key(self.key.as_deref())?;
        let key = key.ok_or_else(|| {
            user(anyhow::anyhow!(
                "give the public key to verify with: --key cosign.pub (or `key` in the config file)"
            ))
        })?;
        let result = if let Some((dir, tag)) = oci_layout(&self.module) {
            aip_distribute::read_layout_module(dir, tag)
                .map_err(distribute_error)
                .and_then(|module| {
                    aip_register::verify_staged(&module, &key)
                        .map_err(|e| verify_error(e, self.module.clone()))
                })
        } else if Path::new(&self.module).is_dir() {
            aip_register::verify_module(Path::new(&self.module), &key)
                .map_err(|e| verify_error(e, self.module.clone()))
        } else {
            let reference = module_ref(&self.module)?;
            block_on(async {
                let client = self.registry.connect(&reference.registry, &config).await?;
                let fetched = aip_distribute::fetch(&client, &reference)
                    .await
                    .map_err(distribute_error)?;
                aip_register::verify_staged(&fetched.module, &key).map_err(|e| {
                    verify_error(e, format!("{} ({})", fetched.resolved, fetched.digest))
                })
            })
        };
        match result {
            Ok(report) => {
                print_report(&report, self.format);
                Ok(())
            }
            Err(e) => {
                if self.format == Format::Json {
                    let check = e
                        .error
                        .downcast_ref::<FailedVerification>()
                        .and_then(|f| match &f.error {
                            aip_register::RegisterError::Verify(failure) => Some(failure.check()),
                            _ => None,
                        });
                    crate::outln!(
                        "{}",
                        json!({"verified": false, "check": check, "error": format!("{:#}", e.error)})
                    );
                }
                Err(e)
            }
        }
    }
}

/// `DIR` or `DIR:TAG` when DIR is an OCI image layout (not a module folder).
fn oci_layout(arg: &str) -> Option<(&Path, Option<&str>)> {
    let is_layout = |dir: &Path| dir.join("oci-layout").is_file();
    if is_layout(Path::new(arg)) {
        return Some((Path::new(arg), None));
    }
    let (dir, tag) = arg.rsplit_once(':')?;
    is_layout(Path::new(dir)).then_some((Path::new(dir), Some(tag)))
}

fn print_report(report: &VerifyReport, format: Format) {
    match format {
        Format::Json => crate::outln!("{}", json!({"verified": true, "report": report})),
        Format::Text => {
            for check in &report.checks {
                crate::outln!("ok  {} ({})", check.name, check.detail);
            }
            crate::outln!(
                "verified {} {} ({})",
                report.name,
                report.version,
                report.artifact_digest
            );
        }
    }
}

/// What failed to verify, and why, kept typed for `--format json`'s `check`.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {error}")]
struct FailedVerification {
    what: String,
    error: aip_register::RegisterError,
}

/// A failed verification as the user's error.
fn verify_error(error: aip_register::RegisterError, what: String) -> CliError {
    user(FailedVerification { what, error })
}
