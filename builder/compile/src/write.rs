//! Writing a rendered crate to disk.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{CompileError, io_err};

/// Writes `files` under `dir`, replacing what was there: the crate is
/// written next to `dir` first and then swapped in, so `dir` is never left
/// half-written and files the new render no longer has disappear.
pub fn write_crate(files: &BTreeMap<String, Vec<u8>>, dir: &Path) -> Result<(), CompileError> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err("create", parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".aip-render-")
        .tempdir_in(parent)
        .map_err(io_err("create a staging folder in", parent))?;
    write_files(files, staging.path())?;
    let old = parent.join(format!(
        ".aip-old-{}",
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    if dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io_err("remove", &old))?;
        }
        std::fs::rename(dir, &old).map_err(io_err("move aside", dir))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, dir).map_err(io_err("move into place", dir))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io_err("remove", &old))?;
    }
    Ok(())
}

/// Writes `files` under `dir` (which must exist).
pub(crate) fn write_files(
    files: &BTreeMap<String, Vec<u8>>,
    dir: &Path,
) -> Result<(), CompileError> {
    for (rel, contents) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err("create", parent))?;
        }
        std::fs::write(&path, contents).map_err(io_err("write", &path))?;
    }
    Ok(())
}

/// Makes `dir` hold exactly `files`: writes only files whose bytes differ
/// (so unchanged files keep their mtimes) and removes files `files` does not
/// name.
pub(crate) fn sync_files(
    files: &BTreeMap<String, Vec<u8>>,
    dir: &Path,
) -> Result<(), CompileError> {
    std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    for (rel, contents) in files {
        let path = dir.join(rel);
        if std::fs::read(&path).ok().as_deref() == Some(contents.as_slice()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err("create", parent))?;
        }
        std::fs::write(&path, contents).map_err(io_err("write", &path))?;
    }
    remove_stale(dir, dir, files)
}

fn remove_stale(
    root: &Path,
    dir: &Path,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), CompileError> {
    let entries = std::fs::read_dir(dir).map_err(io_err("list", dir))?;
    for entry in entries {
        let entry = entry.map_err(io_err("list", dir))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(io_err("inspect", &path))?;
        if file_type.is_dir() {
            remove_stale(root, &path, files)?;
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if !files.contains_key(&rel) {
            std::fs::remove_file(&path).map_err(io_err("remove", &path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_rewrites_only_changed_files_and_drops_stale_ones() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let dir = dir.unwrap_or_else(|e| panic!("{e}"));
        let first = BTreeMap::from([
            ("a.rs".to_string(), b"a".to_vec()),
            ("sub/b.rs".to_string(), b"b".to_vec()),
            ("old.rs".to_string(), b"old".to_vec()),
        ]);
        sync_files(&first, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let mtime = |p: &str| {
            std::fs::metadata(dir.path().join(p))
                .and_then(|m| m.modified())
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let before = mtime("sub/b.rs");
        std::thread::sleep(std::time::Duration::from_millis(20));
        let second = BTreeMap::from([
            ("a.rs".to_string(), b"changed".to_vec()),
            ("sub/b.rs".to_string(), b"b".to_vec()),
        ]);
        sync_files(&second, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            mtime("sub/b.rs"),
            before,
            "unchanged files keep their mtime"
        );
        assert_eq!(
            std::fs::read(dir.path().join("a.rs")).ok(),
            Some(b"changed".to_vec())
        );
        assert!(
            !dir.path().join("old.rs").exists(),
            "stale files are removed"
        );
    }
}
