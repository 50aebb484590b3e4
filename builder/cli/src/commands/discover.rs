//! `aip-builder discover --nats URL --key cosign.pub [--out modules/] [--durable NAME] [--once]`

use std::path::PathBuf;

use aip_fleet::{DiscoverOptions, Outcome};
use clap::Args;

use crate::exit::{CliError, internal, user};
use crate::registry_args::RegistryArgs;

/// Install the modules announced on NATS (com.aip.module.certified.v1
/// events): each bundle's sha256 and signature are checked before it is
/// installed into modules/<name>; anything that does not match is
/// recorded in modules/.discover/rejected.jsonl and never retried.
#[derive(Debug, Args)]
pub struct Opts {
    /// The NATS server (default: AIP_NATS_URL).
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// The public key signatures must verify with (path or env://VAR).
    /// Default: `key` in the config file.
    #[arg(long)]
    key: Option<String>,
    /// Folder modules are installed in.
    #[arg(long, default_value = "modules")]
    out: PathBuf,
    /// Name of the durable consumer: one per place modules are installed,
    /// so each sees every event once.
    #[arg(long, default_value = "aip-discover")]
    durable: String,
    /// Stop once no event is pending (default: keep waiting for more).
    #[arg(long)]
    once: bool,
    /// The config file (its `key`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        let url = self
            .nats
            .clone()
            .or_else(|| std::env::var("AIP_NATS_URL").ok())
            .ok_or_else(|| {
                user(anyhow::anyhow!(
                    "give the NATS server: --nats URL (or AIP_NATS_URL)"
                ))
            })?;
        let args = RegistryArgs {
            insecure_registry: false,
            config: self.config.clone(),
        };
        let (_, key) = args.config_and_key(self.key.as_deref())?;
        let key = key.ok_or_else(|| {
            user(anyhow::anyhow!(
                "give the public key modules must be signed with: --key cosign.pub (or `key` in the config file)"
            ))
        })?;
        let options = DiscoverOptions {
            url: url.clone(),
            key,
            out: self.out.clone(),
            durable: self.durable.clone(),
            once: self.once,
        };
        eprintln!(
            "==> discover  {url} (consumer {}) -> {}",
            self.durable,
            self.out.display()
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| internal(anyhow::anyhow!("cannot start the runtime: {e}")))?;
        let report = runtime
            .block_on(aip_fleet::discover(&options, &mut |outcome| {
                eprintln!("    {}", describe(outcome));
            }))
            .map_err(|e| match e {
                aip_fleet::FleetError::Nats { .. } => internal(e),
                other => user(other),
            })?;
        let count = |f: fn(&Outcome) -> bool| report.outcomes.iter().filter(|o| f(o)).count();
        crate::outln!(
            "discover: {} installed, {} already installed, {} rejected, {} to retry",
            count(|o| matches!(o, Outcome::Installed { .. })),
            count(|o| matches!(o, Outcome::AlreadyInstalled { .. })),
            count(|o| matches!(o, Outcome::Rejected { .. })),
            count(|o| matches!(o, Outcome::Retry { .. })),
        );
        Ok(())
    }
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Installed {
            name,
            version,
            digest,
        } => format!("installed {name} {version} ({digest})"),
        Outcome::AlreadyInstalled { name, digest } => {
            format!("already installed {name} ({digest})")
        }
        Outcome::Rejected { id, reason } => format!(
            "REJECTED {}: {reason}",
            id.as_deref().unwrap_or("(unparsable event)")
        ),
        Outcome::Retry { reason } => format!("will retry: {reason}"),
    }
}
