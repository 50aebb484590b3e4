//! `aip-builder.lock`: per adapter, what it was last generated from and
//! what that gave. Deterministic text (adapters by name, fields in a fixed
//! order, no times), so a review shows exactly what changed and a re-run
//! that changes nothing writes the same bytes.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::RegenError;

/// The lock file's format version.
const FORMAT: u32 = 1;

/// One adapter's locked state.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// Module name.
    pub name: String,
    /// The version last built.
    pub version: String,
    /// `sha256:` of the spec as ingested (every file it references, the
    /// options applied): what the diff compares.
    pub spec_digest: String,
    /// `sha256:` of the generated sources (paths and bytes).
    pub sources_digest: String,
    /// `sha256:` of the adapter's options (target, vendor URL, intents,
    /// proto paths).
    pub options_digest: String,
    /// The Rust toolchain that compiled it (`rustc -V`) and aip-builder's
    /// version.
    pub toolchain: String,
    /// `sha256:` of all of the above: one value that changes when anything
    /// that goes into the module does.
    pub fingerprint: String,
    /// `sha256:` of the component or executable built.
    pub artifact_digest: String,
}

/// The lock file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lock {
    /// Entries by adapter name.
    pub entries: BTreeMap<String, LockEntry>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct LockFile {
    format: u32,
    #[serde(default)]
    adapter: Vec<LockEntry>,
}

impl Lock {
    /// Reads `path`; an absent file is an empty lock.
    pub fn read(path: &Path) -> Result<Lock, RegenError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lock::default()),
            Err(source) => return Err(RegenError::io("read", path, source)),
        };
        let file: LockFile = toml::from_str(&text).map_err(|e| RegenError::Lock {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if file.format != FORMAT {
            return Err(RegenError::Lock {
                path: path.display().to_string(),
                message: format!(
                    "format {} is not one this aip-builder reads (it reads {FORMAT})",
                    file.format
                ),
            });
        }
        Ok(Lock {
            entries: file
                .adapter
                .into_iter()
                .map(|e| (e.name.clone(), e))
                .collect(),
        })
    }

    /// The lock as text.
    pub fn to_text(&self) -> String {
        let file = LockFile {
            format: FORMAT,
            adapter: self.entries.values().cloned().collect(),
        };
        let body = toml::to_string(&file).unwrap_or_default();
        format!(
            "# aip-builder.lock: written by `aip-builder regen`. Review it; do not edit it.\n{body}"
        )
    }

    /// Writes the lock to `path` (atomically: a temporary file renamed).
    pub fn write(&self, path: &Path) -> Result<(), RegenError> {
        crate::write_atomically(path, self.to_text().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> LockEntry {
        LockEntry {
            name: name.into(),
            version: "1.0.0".into(),
            spec_digest: "sha256:a".into(),
            sources_digest: "sha256:b".into(),
            options_digest: "sha256:c".into(),
            toolchain: "rustc 1.95.0".into(),
            fingerprint: "sha256:d".into(),
            artifact_digest: "sha256:e".into(),
        }
    }

    #[test]
    fn the_lock_is_sorted_text_that_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("aip-builder.lock");
        let mut lock = Lock::default();
        for name in ["zeta", "alpha"] {
            lock.entries.insert(name.into(), entry(name));
        }
        lock.write(&path).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.find("alpha").expect("alpha") < text.find("zeta").expect("zeta"));
        assert_eq!(Lock::read(&path).expect("read back"), lock);
        assert_eq!(lock.to_text(), text, "the same lock, the same bytes");
        assert_eq!(
            Lock::read(&dir.path().join("none")).expect("absent"),
            Lock::default()
        );
        std::fs::write(&path, "format = 9\n").expect("write");
        let err = Lock::read(&path).expect_err("a newer format");
        assert!(err.to_string().contains("format 9"), "{err}");
    }
}
