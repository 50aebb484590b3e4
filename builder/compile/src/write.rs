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
