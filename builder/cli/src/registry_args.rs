//! What the distribution commands share: the config file, registry
//! options, the public key, and a runtime for the async registry client.

use std::path::{Path, PathBuf};

use aip_distribute::{ClientOptions, ModuleRef, RegistryClient};
use aip_sign::{KeyRef, PublicKey};
use clap::Args;
use serde::Deserialize;

use crate::exit::{CliError, internal, user};

/// Where the config file is looked for when `--config` is not given.
const CONFIG_ENV: &str = "AIP_CONFIG";

/// The config file (`aip-builder.toml`): settings a team shares instead of
/// repeating flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Refuse to install modules whose signature does not verify.
    #[serde(default)]
    pub require_signed: bool,
    /// The public key modules are verified with (path or env://VAR),
    /// relative to the config file.
    pub key: Option<String>,
    /// Registries spoken to over plain HTTP (loopback ones always are).
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    /// `aip-builder serve` settings.
    #[serde(default)]
    pub service: crate::service_config::ServiceSection,
    /// The adapters `aip-builder regen` keeps generated (`[[adapter]]`).
    #[serde(default, rename = "adapter")]
    pub adapters: Vec<aip_regen::AdapterConfig>,
}

/// Registry flags.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Speak plain HTTP to the registry named in this command (registries
    /// on 127.0.0.1 and localhost always are).
    #[arg(long)]
    pub insecure_registry: bool,
    /// The config file. Default: $AIP_CONFIG, else ./aip-builder.toml,
    /// else ~/.config/aip-builder/config.toml, if they exist.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl RegistryArgs {
    /// The config file's settings (defaults when there is none).
    pub fn config(&self) -> Result<(Config, Option<PathBuf>), CliError> {
        let path = self
            .config
            .clone()
            .or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("aip-builder.toml")).filter(|p| p.is_file()))
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(|home| Path::new(&home).join(".config/aip-builder/config.toml"))
                    .filter(|p| p.is_file())
            });
        let Some(path) = path else {
            return Ok((Config::default(), None));
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            user(anyhow::anyhow!(
                "cannot read the config file {}: {e}",
                path.display()
            ))
        })?;
        let config: Config = toml::from_str(&text)
            .map_err(|e| user(anyhow::anyhow!("config file {}: {e}", path.display())))?;
        Ok((config, Some(path)))
    }

    /// The config file's settings and the public key: `--key` (`key_flag`),
    /// else the config file's `key`.
    pub fn config_and_key(
        &self,
        key_flag: Option<&str>,
    ) -> Result<(Config, Option<PublicKey>), CliError> {
        let (config, path) = self.config()?;
        let key = public_key(key_flag, &config, path.as_deref())?;
        Ok((config, key))
    }

    /// Client options for `registry`.
    pub fn client_options(&self, registry: &str, config: &Config) -> ClientOptions {
        let mut insecure = config.insecure_registries.clone();
        if self.insecure_registry {
            insecure.push(registry.to_string());
        }
        ClientOptions {
            insecure_registries: insecure,
            ..ClientOptions::default()
        }
    }

    /// A client for `registry`, with its transport named on stderr.
    pub async fn connect(
        &self,
        registry: &str,
        config: &Config,
    ) -> Result<RegistryClient, CliError> {
        let options = self.client_options(registry, config);
        let client = RegistryClient::connect(registry, &options)
            .await
            .map_err(user)?;
        tracing::info!(
            "{registry} over {} with {} credentials",
            if options.is_plain_http(registry) {
                "plain HTTP"
            } else {
                "HTTPS"
            },
            client.credentials_source()
        );
        Ok(client)
    }
}

/// The public key from `--key`, else the config file's `key` (relative to
/// the config file).
fn public_key(
    flag: Option<&str>,
    config: &Config,
    config_path: Option<&Path>,
) -> Result<Option<PublicKey>, CliError> {
    let text = match (flag, &config.key) {
        (Some(flag), _) => flag.to_string(),
        (None, Some(key)) if !key.starts_with("env://") && Path::new(key).is_relative() => {
            config_path
                .and_then(Path::parent)
                .map_or_else(|| key.clone(), |dir| dir.join(key).display().to_string())
        }
        (None, Some(key)) => key.clone(),
        (None, None) => return Ok(None),
    };
    let key_ref = KeyRef::parse(&text).map_err(user)?;
    let pem = key_ref.read().map_err(user)?;
    PublicKey::from_pem(&pem, &key_ref.display())
        .map(Some)
        .map_err(user)
}

/// Parses a module reference (exit 1 when malformed).
pub fn module_ref(text: &str) -> Result<ModuleRef, CliError> {
    ModuleRef::parse(text).map_err(user)
}

/// Runs `future` on a current-thread runtime.
pub fn block_on<T>(
    future: impl std::future::Future<Output = Result<T, CliError>>,
) -> Result<T, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| internal(anyhow::anyhow!("cannot start the async runtime: {e}")))?;
    runtime.block_on(future)
}

/// Exit code class of a distribution error.
pub fn distribute_error(e: aip_distribute::DistributeError) -> CliError {
    if e.is_user_error() {
        user(e)
    } else {
        internal(e)
    }
}
