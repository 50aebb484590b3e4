//! Verification results, cached by what they depend on: the bytes of
//! `manifest.yaml` (which names the artifact, layer and SBOM digests),
//! `sbom.cdx.json` and the layout's `index.json` (which names the signature
//! and every tag), plus the set of trusted keys. Listing modules reads
//! those three small files per version instead of every blob; anything
//! that changes what a module is changes the key, and the verify endpoint
//! always checks for real (and refreshes the entry).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::modules::Verified;

/// Most entries kept; past it the cache starts over (a registry that
/// large re-verifies once).
const MAX_ENTRIES: usize = 100_000;

/// Results by the digest of what they depend on.
#[derive(Clone, Default)]
pub struct VerifyCache {
    entries: Arc<Mutex<HashMap<[u8; 32], Verified>>>,
}

impl VerifyCache {
    /// The key of `folder`'s current contents under the keys named by
    /// `keys_id`; `None` when a file cannot be read (then nothing is cached).
    pub fn key(folder: &Path, keys_id: &str) -> Option<[u8; 32]> {
        let mut hasher = Sha256::new();
        hasher.update(keys_id.as_bytes());
        for file in ["manifest.yaml", "sbom.cdx.json", "oci/index.json"] {
            let bytes = std::fs::read(folder.join(file)).ok()?;
            hasher.update(Sha256::digest(&bytes));
        }
        Some(hasher.finalize().into())
    }

    /// The cached result for `key`.
    pub fn get(&self, key: &[u8; 32]) -> Option<Verified> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    /// Remembers `result` under `key`.
    pub fn put(&self, key: [u8; 32], result: Verified) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, result);
        }
    }
}
