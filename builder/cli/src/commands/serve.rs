//! `aip-builder serve [--listen ADDR] [--data DIR] [--max-builds N] [--key KEYREF]`

use std::net::SocketAddr;
use std::path::PathBuf;

use aip_service::ServiceConfig;
use clap::Args;

use crate::exit::{CliError, internal, user};
use crate::password::password_from_env;

/// Run the build service: the HTTP API, durable jobs (SQLite in --data),
/// an in-process build queue.
#[derive(Debug, Args)]
pub struct Opts {
    /// Address to listen on. Without API keys only loopback is allowed.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data folder: jobs.db (SQLite, WAL), accepted specs, modules/.
    #[arg(long, default_value = "aip-data")]
    data: PathBuf,
    /// Concurrent builds (default: the number of cores).
    #[arg(long)]
    max_builds: Option<usize>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_body_bytes: usize,
    /// A host `source` URLs may name although it resolves to a loopback or
    /// private address (repeatable; e.g. an internal spec server).
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// A registry (host[:port]) builds may push to and modules may be
    /// installed from (repeatable). Loopback registries speak plain HTTP.
    #[arg(long = "registry", value_name = "HOST[:PORT]")]
    registries: Vec<String>,
    /// Longest a build may run, in seconds; it is then stopped (cargo
    /// killed) and the job fails saying so.
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    build_timeout: u64,
    /// Requests per second each API key may make (0: unlimited); above
    /// it, 429 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 50)]
    rate_limit: u32,
    /// Requests a key may make at once above the rate (default: twice the rate).
    #[arg(long, value_name = "N")]
    rate_burst: Option<u32>,
    /// Signing key (cosign.key path). Default: DATA/cosign.key, generated
    /// on first start with the password in COSIGN_PASSWORD.
    #[arg(long)]
    key: Option<PathBuf>,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        let api_keys = match std::env::var("AIP_BUILDER_API_KEYS") {
            Ok(text) => aip_service::parse_keys(&text)
                .map_err(|e| user(anyhow::anyhow!("AIP_BUILDER_API_KEYS: {e}")))?,
            Err(_) => Vec::new(),
        };
        if api_keys.is_empty() {
            eprintln!(
                "warning: no AIP_BUILDER_API_KEYS: open mode, every caller is an admin (loopback only)"
            );
        }
        let (password, _) = password_from_env();
        let key = match self.key {
            Some(key) => key,
            None => {
                let key = aip_service::default_signing_key(&self.data);
                if !key.exists() {
                    eprintln!(
                        "provisioning: no --key and no {}: generating a signing key pair there (password from COSIGN_PASSWORD)",
                        key.display()
                    );
                    super::keygen::write_key_pair(&self.data, &password)?;
                }
                key
            }
        };
        let config = ServiceConfig {
            listen: self.listen,
            data: self.data.clone(),
            max_builds: self.max_builds.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            }),
            max_body_bytes: self.max_body_bytes,
            api_keys,
            signing_key: key,
            signing_password: password,
            signing_key_refs: vec!["default".to_string()],
            allow_hosts: self.allow_hosts.clone(),
            registries: self.registries.clone(),
            insecure_registries: Vec::new(),
            trusted_keys: Vec::new(),
            build_timeout: std::time::Duration::from_secs(self.build_timeout),
            rate_limit: match (self.rate_limit, self.rate_burst) {
                (0, _) => None,
                (rate, burst) => Some(aip_service::RateLimit {
                    per_second: std::num::NonZeroU32::new(rate)
                        .unwrap_or(std::num::NonZeroU32::MIN),
                    burst: std::num::NonZeroU32::new(burst.unwrap_or(rate.saturating_mul(2)))
                        .unwrap_or(std::num::NonZeroU32::MIN),
                }),
            },
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| internal(anyhow::anyhow!("cannot start the runtime: {e}")))?;
        runtime
            .block_on(aip_service::serve(config, |addr| {
                // Tests and scripts read the address from this line.
                eprintln!("listening on http://{addr}");
            }))
            .map_err(|e| match e {
                aip_service::ServiceError::Config(_) => user(e),
                other => internal(other),
            })
    }
}
