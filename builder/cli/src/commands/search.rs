//! `aip-builder search <REGISTRY> <QUERY>`

use clap::Args;
use serde_json::json;

use crate::exit::{CliError, user};
use crate::progress::Format;
use crate::registry_args::{RegistryArgs, block_on, distribute_error};

/// Find modules in a registry by name, description or intent.
#[derive(Debug, Args)]
pub struct Opts {
    /// The registry (host[:port]).
    registry_host: String,
    /// Words that must all appear in the name, description, intents or repository.
    query: String,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        if self.registry_host.contains('/') {
            return Err(user(anyhow::anyhow!(
                "search takes a registry host[:port], not a repository ({}); use `info` for one repository",
                self.registry_host
            )));
        }
        let (config, _) = self.registry.config()?;
        let hits = block_on(async {
            let client = self.registry.connect(&self.registry_host, &config).await?;
            aip_distribute::search(&client, &self.query)
                .await
                .map_err(distribute_error)
        })?;
        match self.format {
            Format::Json => crate::outln!("{}", json!(hits)),
            Format::Text => {
                if hits.is_empty() {
                    crate::outln!(
                        "no module in {} matches {:?}",
                        self.registry_host,
                        self.query
                    );
                }
                for hit in &hits {
                    crate::outln!("{:<24} {:<10} {}", hit.name, hit.version, hit.repository);
                    crate::outln!("    {}", hit.description);
                    crate::outln!("    intents: {}", hit.intents.join(", "));
                }
            }
        }
        Ok(())
    }
}
