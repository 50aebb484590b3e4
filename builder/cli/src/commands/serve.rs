//! `aip-builder serve [--listen ADDR] [--data DIR] [--config FILE] ...`

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use aip_service::{ServiceConfig, SigningKey};
use clap::Args;
use zeroize::Zeroizing;

use crate::registry_args::RegistryArgs;
use crate::service_config::ServiceSection;

use crate::exit::{CliError, internal, user};
use crate::password::password_from_env;

/// Run the build service: the HTTP API, durable jobs (SQLite in --data),
/// an in-process build queue. Settings come from flags, else the config
/// file's `[service]` table, else defaults.
#[derive(Debug, Args)]
pub struct Opts {
    /// Address to listen on [default: 127.0.0.1:8080]. Without API keys
    /// only loopback is allowed.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Data folder: jobs.db (SQLite, WAL), accepted specs, modules/
    /// [default: aip-data].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Keep job state in PostgreSQL (postgres://user:password@host/db)
    /// instead of SQLite in the data folder; also AIP_DATABASE_URL or the
    /// config file's `database`. Modules and specs stay in --data.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Announce every registered module on this NATS server (JetStream
    /// object store aip-certified-modules + a com.aip.module.certified.v1
    /// CloudEvent); also AIP_NATS_URL or the config file's `nats_url`.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// Concurrent builds [default: the number of cores].
    #[arg(long)]
    max_builds: Option<usize>,
    /// Most concurrent builds of one tenant [default: --max-builds].
    /// Whatever it is, tenants with waiting jobs take turns for free
    /// slots, so one tenant's burst does not hold up another's job.
    #[arg(long)]
    max_builds_per_tenant: Option<usize>,
    /// Largest request body in bytes [default: 16 MiB].
    #[arg(long)]
    max_body_bytes: Option<usize>,
    /// Most operations one spec may define [default: 5000]; larger specs are
    /// refused when submitted.
    #[arg(long)]
    max_operations: Option<usize>,
    /// A host `source` URLs may name although it resolves to a loopback or
    /// private address (repeatable; e.g. an internal spec server).
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// A registry (host[:port]) builds may push to and modules may be
    /// installed from (repeatable). Loopback registries speak plain HTTP.
    #[arg(long = "registry", value_name = "HOST[:PORT]")]
    registries: Vec<String>,
    /// Longest a build may run, in seconds; it is then stopped (cargo
    /// killed) and the job fails saying so [default: 1800].
    #[arg(long, value_name = "SECS")]
    build_timeout: Option<u64>,
    /// Requests per second each API key may make (0: unlimited); above
    /// it, 429 with Retry-After [default: 50].
    #[arg(long, value_name = "N")]
    rate_limit: Option<u32>,
    /// Requests a key may make at once above the rate [default: twice the rate].
    #[arg(long, value_name = "N")]
    rate_burst: Option<u32>,
    /// The `default` signing key (cosign.key path). Default: the config
    /// file's signing_keys, else DATA/cosign.key, generated on first start
    /// with the password in COSIGN_PASSWORD.
    #[arg(long)]
    key: Option<PathBuf>,
    /// The config file (its `[service]` table). Default: $AIP_CONFIG, else
    /// ./aip-builder.toml, else ~/.config/aip-builder/config.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        let config = self.service_config()?;
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

    /// Flags over the config file over defaults.
    fn service_config(&self) -> Result<ServiceConfig, CliError> {
        let args = RegistryArgs {
            insecure_registry: false,
            config: self.config.clone(),
        };
        let (file, path) = args.config()?;
        let base = path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let section = &file.service;
        let data = self
            .data
            .clone()
            .or_else(|| section.data.as_ref().map(|d| base.join(d)))
            .unwrap_or_else(|| PathBuf::from("aip-data"));

        let mut key_text = std::env::var("AIP_BUILDER_API_KEYS").unwrap_or_default();
        for key in &section.api_keys {
            key_text.push('\n');
            key_text.push_str(key);
        }
        let api_keys = aip_service::parse_keys(&key_text).map_err(|e| {
            user(anyhow::anyhow!(
                "API keys (AIP_BUILDER_API_KEYS, [service] api_keys): {e}"
            ))
        })?;
        if api_keys.is_empty() {
            eprintln!(
                "warning: no AIP_BUILDER_API_KEYS: open mode, every caller is an admin (loopback only)"
            );
        }

        let signing_keys = self.signing_keys(section, &base, &data)?;
        let trusted_keys = section
            .trusted_keys
            .iter()
            .map(|p| {
                let path = base.join(p);
                let pem = std::fs::read_to_string(&path)
                    .map_err(|e| user(anyhow::anyhow!("trusted key {}: {e}", path.display())))?;
                aip_sign::PublicKey::from_pem(&pem, &path.display().to_string()).map_err(user)
            })
            .collect::<Result<Vec<_>, _>>()?;

        let max_builds = self.max_builds.or(section.max_builds).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        let rate = self.rate_limit.or(section.rate_limit).unwrap_or(50);
        let burst = self.rate_burst.or(section.rate_burst);
        let mut allow_hosts = self.allow_hosts.clone();
        allow_hosts.extend(section.allow_hosts.iter().cloned());
        let mut registries = self.registries.clone();
        registries.extend(section.registries.iter().cloned());
        Ok(ServiceConfig {
            listen: self
                .listen
                .or(section.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data,
            database: self
                .database
                .clone()
                .or_else(|| std::env::var("AIP_DATABASE_URL").ok())
                .or_else(|| section.database.clone()),
            nats_url: self
                .nats
                .clone()
                .or_else(|| std::env::var("AIP_NATS_URL").ok())
                .or_else(|| section.nats_url.clone()),
            max_builds,
            max_builds_per_tenant: self
                .max_builds_per_tenant
                .or(section.max_builds_per_tenant)
                .unwrap_or(max_builds),
            max_body_bytes: self
                .max_body_bytes
                .or(section.max_body_bytes)
                .unwrap_or(16 << 20),
            max_operations: self
                .max_operations
                .or(section.max_operations)
                .unwrap_or(aip_ingest::Limits::default().max_operations),
            api_keys,
            signing_keys,
            allow_hosts,
            registries,
            insecure_registries: file.insecure_registries.clone(),
            trusted_keys,
            build_timeout: std::time::Duration::from_secs(
                self.build_timeout
                    .or(section.build_timeout_secs)
                    .unwrap_or(1800),
            ),
            rate_limit: NonZeroU32::new(rate).map(|per_second| aip_service::RateLimit {
                per_second,
                burst: NonZeroU32::new(burst.unwrap_or(rate.saturating_mul(2)))
                    .unwrap_or(NonZeroU32::MIN),
            }),
        })
    }

    /// The config file's signing keys; `--key` (or, with neither,
    /// DATA/cosign.key, generated on first start) is `default`, for every
    /// tenant.
    fn signing_keys(
        &self,
        section: &ServiceSection,
        base: &Path,
        data: &Path,
    ) -> Result<Vec<SigningKey>, CliError> {
        let (password, _) = password_from_env();
        let mut keys = Vec::new();
        for (name, key) in &section.signing_keys {
            let password = match &key.password_env {
                Some(var) => Zeroizing::new(
                    std::env::var_os(var)
                        .ok_or_else(|| {
                            user(anyhow::anyhow!(
                                "signing key {name:?}: its password variable {var} is not set"
                            ))
                        })?
                        .into_encoded_bytes(),
                ),
                None => password.clone(),
            };
            keys.push(SigningKey {
                name: name.clone(),
                path: base.join(&key.key),
                password,
                tenants: key.tenants.clone(),
            });
        }
        let has_default = keys.iter().any(|k| k.name == aip_service::DEFAULT_KEY_REF);
        let default = match &self.key {
            Some(key) => Some(key.clone()),
            None if has_default => None,
            None => {
                let key = aip_service::default_signing_key(data);
                if !key.exists() {
                    eprintln!(
                        "provisioning: no --key and no {}: generating a signing key pair there (password from COSIGN_PASSWORD)",
                        key.display()
                    );
                    super::keygen::write_key_pair(data, &password)?;
                }
                Some(key)
            }
        };
        if let Some(path) = default {
            keys.retain(|k| k.name != aip_service::DEFAULT_KEY_REF);
            keys.push(SigningKey {
                name: aip_service::DEFAULT_KEY_REF.to_string(),
                path,
                password,
                tenants: vec!["*".to_string()],
            });
        }
        Ok(keys)
    }
}
