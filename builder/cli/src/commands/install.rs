//! `aip-builder install <REGISTRY/REPO>[@VERSION|:TAG|@sha256:...] [--key cosign.pub] [--require-signed] [--out modules/]`

use std::path::PathBuf;

use aip_distribute::InstallOptions;
use aip_register::Verification;
use clap::Args;
use serde_json::json;

use crate::exit::{CliError, user};
use crate::progress::{Format, Progress};
use crate::registry_args::{RegistryArgs, block_on, distribute_error, module_ref};

/// Install a module from an OCI registry into modules/<name>/, verified.
#[derive(Debug, Args)]
pub struct Opts {
    /// REGISTRY/REPO, optionally @VERSION (1, 1.2, 1.2.3, latest), :TAG or
    /// @sha256:DIGEST. Default: the newest stable version.
    reference: String,
    /// The public key the signature must verify with (path or env://VAR).
    /// Default: `key` in the config file.
    #[arg(long)]
    key: Option<String>,
    /// Refuse, writing nothing, unless the signature verifies (also
    /// `require_signed = true` in the config file).
    #[arg(long)]
    require_signed: bool,
    /// Folder modules are installed in.
    #[arg(long, default_value = "modules")]
    out: PathBuf,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        let reference = module_ref(&self.reference)?;
        let (config, key) = self.registry.config_and_key(self.key.as_deref())?;
        let require_signed = self.require_signed || config.require_signed;
        if require_signed && key.is_none() {
            return Err(user(anyhow::anyhow!(
                "--require-signed needs the public key to verify with: give --key cosign.pub (or `key` in the config file)"
            )));
        }
        let mut progress = Progress::new(self.format);
        progress.stage("install", &format!("{reference} -> {}", self.out.display()));
        let installed = block_on(async {
            let client = self.registry.connect(&reference.registry, &config).await?;
            aip_distribute::install(
                &client,
                &reference,
                &InstallOptions {
                    keys: key.as_slice(),
                    require_signed,
                    destination: aip_register::Destination::Flat(self.out.clone()),
                },
            )
            .await
            .map_err(distribute_error)
        })?;
        let verified = match &installed.origin.verification {
            Verification::Verified { key } => format!("verified with key {key}"),
            Verification::Unverified { reason } => {
                progress.warn(&format!(
                    "installed {} UNVERIFIED: {reason}",
                    installed.name
                ));
                "UNVERIFIED".to_string()
            }
        };
        match self.format {
            Format::Json => crate::outln!(
                "{}",
                json!({"installed": installed, "seconds": progress.total_secs()})
            ),
            Format::Text => crate::outln!(
                "installed {} {} ({}) -> {} [{verified}] in {:.1}s",
                installed.name,
                installed.version,
                installed.origin.digest,
                installed.dir.display(),
                progress.total_secs()
            ),
        }
        Ok(())
    }
}
