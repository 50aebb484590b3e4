//! Multi-file specs sent to the API: a JSON map of relative paths to file
//! texts, or an archive (tar, tar+gzip or zip), plus the entry file.
//!
//! Everything is checked before anything is written: entry count, sizes
//! (declared and actual, so a zip bomb stops at the limit), and every path
//! (relative, no `..`, no absolute or drive paths, regular files only: no
//! links or devices). The files are then written under the job's own
//! folder, which is also the only folder the spec's `$ref`s may reach.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::problem::Problem;

/// Bounds on one upload.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    /// Most files (directories not counted).
    pub max_files: usize,
    /// Most bytes of all files together, uncompressed.
    pub max_total_bytes: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_files: 1000,
            max_total_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A checked multi-file spec: relative paths to bytes.
pub type SpecFiles = BTreeMap<PathBuf, Vec<u8>>;

/// Checks one path of an upload: relative, in plain components.
pub fn checked_path(name: &str, field: &str) -> Result<PathBuf, Problem> {
    let refuse = |why: &str| Problem::invalid(format!("{field}: entry {name:?} {why}"));
    if name.is_empty() || name.contains('\0') || name.contains('\\') {
        return Err(refuse("is not a plain relative path"));
    }
    let path = Path::new(name);
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(refuse("climbs out of the upload with `..`")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(refuse("is an absolute path"));
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(refuse("names no file"));
    }
    Ok(clean)
}

/// The `files` map, checked.
pub fn from_map(
    files: &BTreeMap<String, String>,
    limits: UploadLimits,
) -> Result<SpecFiles, Problem> {
    if files.len() > limits.max_files {
        return Err(Problem::invalid(format!(
            "files: {} entries; at most {} are accepted",
            files.len(),
            limits.max_files
        )));
    }
    let mut out = SpecFiles::new();
    let mut total = 0u64;
    for (name, text) in files {
        total += text.len() as u64;
        if total > limits.max_total_bytes {
            return Err(too_large("files", name, limits));
        }
        insert(
            &mut out,
            checked_path(name, "files")?,
            text.as_bytes().to_vec(),
            name,
            "files",
        )?;
    }
    Ok(out)
}

/// An archive (zip, tar, or gzip-compressed tar, told by its first bytes), checked.
pub fn from_archive(bytes: &[u8], limits: UploadLimits) -> Result<SpecFiles, Problem> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        from_zip(bytes, limits)
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(limits.max_total_bytes.saturating_mul(2))
            .read_to_end(&mut decoded)
            .map_err(|e| Problem::invalid(format!("archive: not a readable gzip stream: {e}")))?;
        from_tar(&decoded, limits)
    } else if bytes.len() >= 262 && &bytes[257..262] == b"ustar" {
        from_tar(bytes, limits)
    } else {
        Err(Problem::invalid(
            "archive: not a zip, tar or tar.gz archive (told by its first bytes)",
        ))
    }
}

fn from_tar(bytes: &[u8], limits: UploadLimits) -> Result<SpecFiles, Problem> {
    let bad = |e: std::io::Error| Problem::invalid(format!("archive: unreadable tar: {e}"));
    let mut archive = tar::Archive::new(bytes);
    let mut out = SpecFiles::new();
    let mut total = 0u64;
    let mut count = 0usize;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let raw_path = entry.path_bytes();
        let name = String::from_utf8_lossy(&raw_path).into_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            checked_path(&name, "archive")?;
            continue;
        }
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if !kind.is_file() {
            return Err(Problem::invalid(format!(
                "archive: entry {name:?} is not a regular file (links and devices are refused)"
            )));
        }
        let path = checked_path(&name, "archive")?;
        count += 1;
        if count > limits.max_files {
            return Err(too_many(&name, limits));
        }
        let text = read_capped(&mut entry, &mut total, limits, &name)?;
        insert(&mut out, path, text, &name, "archive")?;
    }
    Ok(out)
}

fn from_zip(bytes: &[u8], limits: UploadLimits) -> Result<SpecFiles, Problem> {
    let bad = |e: zip::result::ZipError| Problem::invalid(format!("archive: unreadable zip: {e}"));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(bad)?;
    if archive.len() > limits.max_files {
        let name = archive
            .name_for_index(limits.max_files)
            .and_then(Result::ok)
            .map(std::borrow::Cow::into_owned)
            .unwrap_or_else(|| "?".into());
        return Err(too_many(&name, limits));
    }
    let mut out = SpecFiles::new();
    let mut total = 0u64;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(bad)?;
        let name = entry.name().map(|n| n.to_string()).map_err(|e| {
            Problem::invalid(format!(
                "archive: entry {index} has an unreadable name: {e}"
            ))
        })?;
        if entry.is_dir() {
            checked_path(name.trim_end_matches('/'), "archive")?;
            continue;
        }
        if entry.is_symlink() || !entry.is_file() {
            return Err(Problem::invalid(format!(
                "archive: entry {name:?} is not a regular file (links and devices are refused)"
            )));
        }
        let path = checked_path(&name, "archive")?;
        if total.saturating_add(entry.size()) > limits.max_total_bytes {
            return Err(too_large("archive", &name, limits));
        }
        let text = read_capped(&mut entry, &mut total, limits, &name)?;
        insert(&mut out, path, text, &name, "archive")?;
    }
    Ok(out)
}

/// Reads one entry, stopping at the total limit whatever its header said.
fn read_capped(
    reader: &mut impl Read,
    total: &mut u64,
    limits: UploadLimits,
    name: &str,
) -> Result<Vec<u8>, Problem> {
    let left = limits.max_total_bytes.saturating_sub(*total);
    let mut text = Vec::new();
    reader
        .take(left.saturating_add(1))
        .read_to_end(&mut text)
        .map_err(|e| Problem::invalid(format!("archive: cannot read entry {name:?}: {e}")))?;
    *total += text.len() as u64;
    if *total > limits.max_total_bytes {
        return Err(too_large("archive", name, limits));
    }
    Ok(text)
}

fn insert(
    out: &mut SpecFiles,
    path: PathBuf,
    bytes: Vec<u8>,
    name: &str,
    field: &str,
) -> Result<(), Problem> {
    // A file may not also be a folder of another entry (`a` and `a/b`).
    let clash = out
        .keys()
        .any(|p| p.starts_with(&path) || path.starts_with(p));
    if clash || out.insert(path, bytes).is_some() {
        return Err(Problem::invalid(format!(
            "{field}: entry {name:?} clashes with another entry of the same path"
        )));
    }
    Ok(())
}

fn too_many(name: &str, limits: UploadLimits) -> Problem {
    Problem::invalid(format!(
        "archive: entry {name:?} is one more than the {} files accepted",
        limits.max_files
    ))
}

fn too_large(field: &str, name: &str, limits: UploadLimits) -> Problem {
    Problem::too_large(format!(
        "{field}: at entry {name:?} the files add up to more than {} bytes uncompressed",
        limits.max_total_bytes
    ))
}

/// Writes checked files under `dir` (which must not exist yet).
pub fn write_files(dir: &Path, files: &SpecFiles) -> std::io::Result<()> {
    for (path, bytes) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_stay_inside() {
        assert!(checked_path("spec/openapi.yaml", "files").is_ok());
        assert_eq!(
            checked_path("./a/./b.yaml", "files").ok(),
            Some(PathBuf::from("a/b.yaml"))
        );
        for bad in ["../x", "a/../../x", "/etc/passwd", "", "a\\b", "."] {
            assert!(checked_path(bad, "files").is_err(), "{bad}");
        }
    }

    #[test]
    fn a_file_and_a_folder_of_the_same_name_clash() {
        let mut files = BTreeMap::new();
        files.insert("a".to_string(), "x".to_string());
        files.insert("a/b".to_string(), "y".to_string());
        assert!(from_map(&files, UploadLimits::default()).is_err());
    }

    #[test]
    fn a_zip_bomb_stops_at_the_limit() {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut buf);
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            zip.start_file("spec.yaml", options).ok();
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..8 {
                std::io::Write::write_all(&mut zip, &zeros).ok();
            }
            zip.finish().ok();
        }
        let limits = UploadLimits {
            max_files: 10,
            max_total_bytes: 1 << 20,
        };
        let err = from_archive(buf.get_ref(), limits).err().map(|p| p.status);
        assert_eq!(err, Some(413));
    }
}
