//! `aip-builder verify <MODULE_DIR> --key PUBKEYREF`

use std::path::PathBuf;

use aip_sign::{KeyRef, PublicKey};
use clap::Args;
use serde_json::json;

use crate::exit::{CliError, user};
use crate::progress::Format;

/// Verify a module's signature, digests and SBOM binding.
#[derive(Debug, Args)]
pub struct Opts {
    /// The module folder (e.g. modules/openai).
    module: PathBuf,
    /// The public key: a file path or env://VAR.
    #[arg(long)]
    key: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        let key_ref = KeyRef::parse(&self.key).map_err(user)?;
        let key = PublicKey::from_pem(&key_ref.read().map_err(user)?, &key_ref.display())
            .map_err(user)?;
        match aip_register::verify_module(&self.module, &key) {
            Ok(report) => {
                match self.format {
                    Format::Json => {
                        crate::outln!("{}", json!({"verified": true, "report": report}))
                    }
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
                Ok(())
            }
            Err(e) => {
                if self.format == Format::Json {
                    crate::outln!("{}", json!({"verified": false, "error": e.to_string()}));
                }
                Err(user(anyhow::anyhow!("{}: {e}", self.module.display())))
            }
        }
    }
}
