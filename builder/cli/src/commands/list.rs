//! `aip-builder list [--modules DIR] [--registry REGISTRY] [--key cosign.pub]`

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::exit::CliError;
use crate::progress::{Format, Progress};
use crate::registry_args::{RegistryArgs, block_on, distribute_error};

/// List installed modules with their status (Installed, Not Installed,
/// Needs Update, Unverified).
#[derive(Debug, Args)]
pub struct Opts {
    /// Folder modules are installed in.
    #[arg(long, default_value = "modules")]
    modules: PathBuf,
    /// Also list what this registry (host[:port]) holds that is not installed.
    #[arg(long = "registry", value_name = "REGISTRY")]
    registry_host: Option<String>,
    /// Verify signatures with this public key (default: `key` in the config
    /// file; without one, the check made at install time is reported).
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
        let options = self
            .registry
            .client_options(self.registry_host.as_deref().unwrap_or_default(), &config);
        let (rows, warnings) = block_on(async {
            aip_distribute::status(
                &self.modules,
                self.registry_host.as_deref(),
                &options,
                key.as_ref(),
            )
            .await
            .map_err(distribute_error)
        })?;
        let mut progress = Progress::new(self.format);
        for warning in &warnings {
            progress.warn(warning);
        }
        match self.format {
            Format::Json => crate::outln!("{}", json!({"modules": rows, "warnings": warnings})),
            Format::Text => {
                if rows.is_empty() {
                    crate::outln!("no modules in {}", self.modules.display());
                }
                crate::outln!(
                    "{:<24} {:<12} {:<12} {:<14} SOURCE",
                    "NAME",
                    "VERSION",
                    "LATEST",
                    "STATUS"
                );
                for row in &rows {
                    crate::outln!(
                        "{:<24} {:<12} {:<12} {:<14} {}",
                        row.name,
                        row.version.as_deref().unwrap_or("-"),
                        row.latest.as_deref().unwrap_or("-"),
                        row.status.label(),
                        row.source.as_deref().unwrap_or("local build")
                    );
                    crate::outln!("    {}", row.detail);
                }
            }
        }
        Ok(())
    }
}
