//! `origin.json`: where an installed module came from and whether its
//! signature verified when it was installed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::RegisterError;

/// The file name, beside `manifest.yaml`.
pub const ORIGIN_FILE: &str = "origin.json";

/// Where an installed module came from (`origin.json`). Modules built
/// locally have none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// Registry host (`host[:port]`).
    pub registry: String,
    /// Repository in that registry.
    pub repository: String,
    /// What was asked for (`@1.2`, `:latest`, `@sha256:…`).
    pub requested: String,
    /// The artifact manifest digest that was installed.
    pub digest: String,
    /// The signature check at install time.
    pub verification: Verification,
}

/// The outcome of the signature check at install time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verification {
    /// Signature, digests and SBOM binding verified with this key.
    Verified {
        /// `sha256:` of the public key's PEM.
        key: String,
    },
    /// Installed without a valid signature (only without `--require-signed`).
    Unverified {
        /// Why it did not verify.
        reason: String,
    },
}

impl Origin {
    /// Reads `dir/origin.json`; `None` for a module built locally.
    pub fn read(dir: &Path) -> Result<Option<Origin>, RegisterError> {
        let path = dir.join(ORIGIN_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| RegisterError::Manifest(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RegisterError::io("read", &path, e)),
        }
    }

    /// The `origin.json` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}
