//! The `[service]` table of the config file: what `aip-builder serve`
//! reads besides its flags (a flag, when given, wins).
//!
//! ```toml
//! [service]
//! listen = "0.0.0.0:8080"
//! data = "/var/lib/aip-builder"
//! database = "postgres://aip@db.internal/aip"  # default: SQLite in data
//! allow_hosts = ["specs.internal"]        # source URLs may resolve privately
//! registries = ["registry.example.com"]   # push to / install from
//! api_keys = ["k3y-...:builder:acme"]     # besides AIP_BUILDER_API_KEYS
//! trusted_keys = ["vendor.pub"]           # installs may be signed with these
//!
//! [service.signing_keys.default]          # `signing.cosign_key_ref`
//! key = "cosign.key"                      # relative to this file
//! tenants = ["*"]                         # who may sign with it
//!
//! [service.signing_keys.acme-release]
//! key = "acme-release.key"
//! password_env = "ACME_COSIGN_PASSWORD"   # default COSIGN_PASSWORD
//! tenants = ["acme"]
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// `[service]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data` (relative to the config file).
    pub data: Option<PathBuf>,
    /// `--database` (a postgres:// URL).
    pub database: Option<String>,
    /// `--nats` (announce registered modules).
    pub nats_url: Option<String>,
    /// `--max-builds`.
    pub max_builds: Option<usize>,
    /// `--max-builds-per-tenant`.
    pub max_builds_per_tenant: Option<usize>,
    /// `--max-body-bytes`.
    pub max_body_bytes: Option<usize>,
    /// `--max-operations`.
    pub max_operations: Option<usize>,
    /// `--build-timeout`, seconds.
    pub build_timeout_secs: Option<u64>,
    /// `--rate-limit`.
    pub rate_limit: Option<u32>,
    /// `--rate-burst`.
    pub rate_burst: Option<u32>,
    /// Added to `--allow-host`.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Added to `--registry`.
    #[serde(default)]
    pub registries: Vec<String>,
    /// Added to `AIP_BUILDER_API_KEYS`, same format.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Public keys (paths, relative to the config file) installed modules
    /// may be signed with, besides the service's signing keys.
    #[serde(default)]
    pub trusted_keys: Vec<PathBuf>,
    /// Signing keys by the name requests give as `signing.cosign_key_ref`.
    #[serde(default)]
    pub signing_keys: BTreeMap<String, SigningKeySection>,
}

/// `[service.signing_keys.<ref>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeySection {
    /// The cosign.key path, relative to the config file.
    pub key: PathBuf,
    /// The environment variable holding its password (default
    /// `COSIGN_PASSWORD`).
    pub password_env: Option<String>,
    /// Tenants that may sign with it; `*` for all.
    pub tenants: Vec<String>,
}
