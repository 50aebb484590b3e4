//! Compiled artifacts (components and executables), cached by what they
//! were compiled from.
//!
//! The key is the sha256 of the crate's files (paths and contents) and of
//! `rustc -vV`, so a different template, spec, dependency set or toolchain
//! never hits. Entries are written atomically; a damaged entry is a miss.

use std::collections::BTreeMap;
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::{CacheDirs, CompileError};

/// The cache key of a crate.
pub(crate) fn key(files: &BTreeMap<String, Vec<u8>>) -> Result<String, CompileError> {
    let rustc = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("-vV")
        .output()
        .map_err(|source| CompileError::Spawn {
            tool: "rustc",
            source,
        })?;
    let mut h = Sha256::new();
    h.update(&rustc.stdout);
    for (path, bytes) in files {
        h.update((path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    Ok(hex::encode(h.finalize()))
}

fn entry(cache: &CacheDirs, key: &str) -> std::path::PathBuf {
    cache.root.join("artifacts").join(key)
}

/// `(name, version)` of the crates linked into an artifact.
pub(crate) type CrateList = Vec<(String, String)>;

/// The cached artifact and crate list, if present and intact.
pub(crate) fn lookup(cache: &CacheDirs, key: &str) -> Option<(Vec<u8>, CrateList)> {
    let dir = entry(cache, key);
    let wasm = std::fs::read(dir.join("artifact")).ok()?;
    let crates: Vec<(String, String)> =
        serde_json::from_slice(&std::fs::read(dir.join("crates.json")).ok()?).ok()?;
    let digest = std::fs::read_to_string(dir.join("artifact.sha256")).ok()?;
    (hex::encode(Sha256::digest(&wasm)) == digest.trim()).then_some((wasm, crates))
}

/// Stores an artifact; failures only cost a future rebuild.
pub(crate) fn store(cache: &CacheDirs, key: &str, wasm: &[u8], crates: &[(String, String)]) {
    let root = cache.root.join("artifacts");
    let Ok(()) = std::fs::create_dir_all(&root) else {
        return;
    };
    let Ok(staging) = tempfile::Builder::new().prefix(".entry-").tempdir_in(&root) else {
        return;
    };
    let written = std::fs::write(staging.path().join("artifact"), wasm).is_ok()
        && std::fs::write(
            staging.path().join("artifact.sha256"),
            hex::encode(Sha256::digest(wasm)),
        )
        .is_ok()
        && serde_json::to_vec(crates)
            .ok()
            .is_some_and(|json| std::fs::write(staging.path().join("crates.json"), json).is_ok());
    if written {
        let staged = staging.keep();
        if std::fs::rename(&staged, entry(cache, key)).is_err() {
            let _ = std::fs::remove_dir_all(staged);
        }
    }
}
