//! `aip-builder info <REGISTRY/REPO[@VERSION]> [--key cosign.pub]`

use clap::Args;
use serde_json::json;

use crate::exit::CliError;
use crate::progress::Format;
use crate::registry_args::{RegistryArgs, block_on, distribute_error, module_ref};

/// Describe a module repository: versions, digests, sizes, signatures,
/// intents and SBOM.
#[derive(Debug, Args)]
pub struct Opts {
    /// REGISTRY/REPO; a version selects which manifest and SBOM are shown.
    reference: String,
    /// Check signatures with this public key (else only their presence).
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
        let reference = module_ref(&self.reference)?;
        let (config, key) = self.registry.config_and_key(self.key.as_deref())?;
        let info = block_on(async {
            let client = self.registry.connect(&reference.registry, &config).await?;
            aip_distribute::info(&client, &reference, key.as_ref())
                .await
                .map_err(distribute_error)
        })?;
        match self.format {
            Format::Json => crate::outln!("{}", json!(info)),
            Format::Text => {
                crate::outln!("{} ({})", info.name, info.repository);
                crate::outln!("  {}", info.description);
                crate::outln!("  runtime: {}", info.runtime);
                crate::outln!("  intents: {}", info.intents.join(", "));
                crate::outln!("  versions:");
                for v in &info.versions {
                    crate::outln!(
                        "    {:<14} {}  {:>10} bytes  signature: {:?}",
                        v.version,
                        v.digest,
                        v.size,
                        v.signature
                    );
                }
                for (tag, digest) in &info.other_tags {
                    crate::outln!("    {tag:<14} {digest}");
                }
                crate::outln!(
                    "  sbom ({}): {}, {} components, describes {}",
                    info.selected,
                    info.sbom.format,
                    info.sbom.components,
                    info.sbom.subject
                );
            }
        }
        Ok(())
    }
}
