//! The `[[adapter]]` tables of `aip-builder.toml`: the adapters a
//! repository keeps generated from its vendor specs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One `[[adapter]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterConfig {
    /// Module name.
    pub name: String,
    /// The spec: a file or a folder of `.proto` files, relative to the
    /// config file's folder.
    pub spec: PathBuf,
    /// `wasm` (default) or `grpc`.
    #[serde(default)]
    pub target: TargetName,
    /// Import roots for `.proto` specs, relative to the config file.
    #[serde(default)]
    pub proto_paths: Vec<PathBuf>,
    /// The vendor endpoint, replacing the spec's servers.
    #[serde(default)]
    pub vendor_url: Option<String>,
    /// Intent overrides: operation id -> intent.
    #[serde(default)]
    pub intents: BTreeMap<String, String>,
    /// Where `regen --push` pushes it (REGISTRY/REPO).
    #[serde(default)]
    pub registry: Option<String>,
    /// How the next version is chosen.
    #[serde(default)]
    pub version_policy: VersionPolicy,
    /// The first version, when the lock has none (default 0.1.0).
    #[serde(default)]
    pub version: Option<String>,
    /// Where its generated sources are kept (default `generated/<name>`).
    #[serde(default)]
    pub generated: Option<PathBuf>,
}

/// `target`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetName {
    /// A WASM component.
    #[default]
    Wasm,
    /// A gRPC microservice image.
    Grpc,
}

impl TargetName {
    /// The pipeline's target.
    pub fn pipeline(self) -> aip_pipeline::Target {
        match self {
            TargetName::Wasm => aip_pipeline::Target::WasmComponent,
            TargetName::Grpc => aip_pipeline::Target::GrpcService,
        }
    }
}

/// `version_policy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionPolicy {
    /// The bump the diff asks for: a breaking change makes a major version.
    #[default]
    Semver,
    /// As `semver`, but a breaking change is refused (exit 3) instead.
    NoBreaking,
}

/// An adapter set: the adapters and the folder their paths are relative
/// to (the config file's).
#[derive(Debug, Clone)]
pub struct Project {
    /// The config file's folder.
    pub root: PathBuf,
    /// The adapters, in config order.
    pub adapters: Vec<AdapterConfig>,
}

/// The lock file's name, next to the config file.
pub const LOCK_FILE: &str = "aip-builder.lock";
/// The folder of the locked contracts (each adapter's ingested spec),
/// next to the lock file.
pub const CONTRACTS_DIR: &str = "aip-builder.lock.d";

impl Project {
    /// The lock file.
    pub fn lock_path(&self) -> PathBuf {
        self.root.join(LOCK_FILE)
    }

    /// Where `adapter`'s locked contract is kept.
    pub fn contract_path(&self, adapter: &AdapterConfig) -> PathBuf {
        self.root
            .join(CONTRACTS_DIR)
            .join(format!("{}.api.json", adapter.name))
    }

    /// Where `adapter`'s generated sources are kept.
    pub fn generated_dir(&self, adapter: &AdapterConfig) -> PathBuf {
        self.resolve(
            adapter
                .generated
                .as_deref()
                .unwrap_or(&Path::new("generated").join(&adapter.name)),
        )
    }

    /// Where `adapter`'s changelog is kept.
    pub fn changelog_path(&self, adapter: &AdapterConfig) -> PathBuf {
        self.root
            .join("changelog")
            .join(format!("{}.md", adapter.name))
    }

    /// `path` relative to the config file's folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.root.join(path)
        }
    }
}
