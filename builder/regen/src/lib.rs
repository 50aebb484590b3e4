//! Adapter sets for CI: the `[[adapter]]` tables of `aip-builder.toml`,
//! the lock file `aip-builder.lock`, the drift check and regeneration.
//!
//! Each adapter is fingerprinted by its spec as ingested, the sources the
//! templates render from it, its options and the toolchain; the lock keeps
//! those digests, the version and the artifact digest, and
//! `aip-builder.lock.d/NAME.api.json` keeps the contract the version was
//! built from, so the next version is chosen by diffing against it
//! (`aip-diff`). Like cargo's `ops` layer, this crate is the logic; the CLI
//! (`aip-builder regen`) reports and pushes.

mod check;
mod config;
mod lock;
mod regen;
mod state;

use std::path::Path;

pub use check::{Reason, check, locked_contract};
pub use config::{AdapterConfig, CONTRACTS_DIR, LOCK_FILE, Project, TargetName, VersionPolicy};
pub use lock::{Lock, LockEntry};
pub use regen::{BuildSettings, Regenerated, next_version, regenerate};
pub use state::{Current, current, digest, files_on_disk, sources_digest};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum RegenError {
    /// A file could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The lock file does not parse.
    #[error("lock file {path}: {message}")]
    Lock {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An adapter's spec does not ingest.
    #[error("adapter {name}: {source}")]
    Spec {
        /// The adapter.
        name: String,
        /// Ingest's error.
        source: Box<aip_ingest::IngestError>,
    },
    /// An adapter's options do not fit its spec.
    #[error("adapter {name}: {message}")]
    Adapter {
        /// The adapter.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A locked version is not semver.
    #[error("locked version {version:?} is not a semantic version: {message}")]
    Version {
        /// The version.
        version: String,
        /// Why.
        message: String,
    },
    /// `version_policy = "no-breaking"` and the spec broke callers.
    #[error(
        "adapter {name}: {breaking} breaking change(s), and its version_policy is \"no-breaking\" (see `aip-builder diff`)"
    )]
    BreakingRefused {
        /// The adapter.
        name: String,
        /// How many.
        breaking: usize,
    },
    /// The module built failed its contract test; it was not registered.
    #[error("adapter {name}: the contract test failed, so the module was not registered:\n  {}", failures.join("\n  "))]
    ContractFailed {
        /// The adapter.
        name: String,
        /// `operation: what went wrong`, per failed operation.
        failures: Vec<String>,
    },
    /// The build failed.
    #[error("adapter {name}: {source}")]
    Build {
        /// The adapter.
        name: String,
        /// The pipeline's error.
        source: Box<aip_pipeline::PipelineError>,
    },
}

impl RegenError {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> RegenError {
        RegenError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }

    /// Whether the user's input (config, spec, policy) is at fault.
    pub fn is_user_error(&self) -> bool {
        match self {
            RegenError::Io { .. } => false,
            RegenError::Build { source, .. } => source.is_user_error(),
            _ => true,
        }
    }

    /// What the user could do about it.
    pub fn hint(&self) -> Option<aip_hint::Hint> {
        match self {
            RegenError::Spec { source, .. } => source.hint(),
            RegenError::Build { source, .. } => source.hint(),
            _ => None,
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RegenError> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(|e| RegenError::io("create", folder, e))?;
    let temporary = folder.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&temporary, bytes).map_err(|e| RegenError::io("write", &temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| RegenError::io("write", path, e))
}
