//! A module folder as one file: a tar of `manifest.yaml`, `sbom.cdx.json`
//! and `oci/`, written deterministically (sorted, mtime 0, fixed modes and
//! owners), so the same module always has the same digest. Unpacking
//! accepts only plain files and folders below the destination.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::FleetError;

/// The bundle's media type.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.aip.module.v1.tar";

/// Files of a module folder that go into a bundle (`origin.json` says where
/// *this* copy came from, so it stays behind).
fn bundled(relative: &Path) -> bool {
    relative != Path::new(aip_register::ORIGIN_FILE)
}

/// Packs the module folder `dir`.
pub fn pack(dir: &Path) -> Result<Vec<u8>, FleetError> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    let mut builder = tar::Builder::new(Vec::new());
    for relative in files.into_iter().filter(|f| bundled(f)) {
        let path = dir.join(&relative);
        let bytes = std::fs::read(&path).map_err(|e| FleetError::io("read", &path, e))?;
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, &relative, bytes.as_slice())
            .map_err(|e| FleetError::Bundle(format!("pack {}: {e}", relative.display())))?;
    }
    builder
        .into_inner()
        .map_err(|e| FleetError::Bundle(format!("pack {}: {e}", dir.display())))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), FleetError> {
    let entries = std::fs::read_dir(dir).map_err(|e| FleetError::io("read", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| FleetError::io("read", dir, e))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| FleetError::io("inspect", &path, e))?;
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if kind.is_file()
            && let Ok(relative) = path.strip_prefix(root)
        {
            out.push(relative.to_path_buf());
        }
    }
    Ok(())
}

/// Unpacks `bundle` into the (new, empty) folder `dest`: only regular files
/// at relative paths without `..`, at most `max_bytes` in all. Anything
/// else is an error naming the entry.
pub fn unpack(bundle: &[u8], dest: &Path, max_bytes: u64) -> Result<(), FleetError> {
    let bad = |what: String| FleetError::Bundle(format!("bundle: {what}"));
    let mut archive = tar::Archive::new(bundle);
    let mut total = 0u64;
    let entries = archive.entries().map_err(|e| bad(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let path = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(bad(format!(
                "{} is not a regular file ({:?})",
                path.display(),
                entry.header().entry_type()
            )));
        }
        if !path.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(bad(format!("{} leaves the module folder", path.display())));
        }
        total = total.saturating_add(entry.size());
        if total > max_bytes {
            return Err(bad(format!("larger than {max_bytes} bytes unpacked")));
        }
        let target = dest.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| FleetError::io("create", parent, e))?;
        }
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| bad(format!("{}: {e}", path.display())))?;
        std::fs::write(&target, &bytes).map_err(|e| FleetError::io("write", &target, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_is_deterministic_and_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let module = dir.path().join("m");
        std::fs::create_dir_all(module.join("oci/blobs/sha256")).expect("mkdir");
        std::fs::write(module.join("manifest.yaml"), "a: 1\n").expect("write");
        std::fs::write(module.join("oci/blobs/sha256/ab"), [0u8, 1, 2]).expect("write");
        std::fs::write(module.join("origin.json"), "{}").expect("write");
        let first = pack(&module).expect("pack");
        assert_eq!(first, pack(&module).expect("pack again"));
        let out = dir.path().join("out");
        unpack(&first, &out, 1 << 20).expect("unpack");
        assert_eq!(
            std::fs::read(out.join("oci/blobs/sha256/ab")).expect("blob"),
            [0, 1, 2]
        );
        assert!(
            !out.join("origin.json").exists(),
            "origin.json stays behind"
        );
    }

    #[test]
    fn escaping_paths_links_and_oversize_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_entry_type(tar::EntryType::Regular);
        // Written raw: tar's own path setter refuses `..`.
        header.as_gnu_mut().expect("gnu").name[..9].copy_from_slice(b"../escape");
        header.set_cksum();
        builder.append(&header, &b"x"[..]).expect("append");
        let escaping = builder.into_inner().expect("tar");
        let err = unpack(&escaping, &dir.path().join("a"), 1 << 20).expect_err("refused");
        assert!(
            err.to_string().contains("leaves the module folder"),
            "{err}"
        );
        assert!(!dir.path().join("escape").exists());

        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        builder
            .append_link(&mut header, "manifest.yaml", "/etc/passwd")
            .expect("append");
        let link = builder.into_inner().expect("tar");
        let err = unpack(&link, &dir.path().join("b"), 1 << 20).expect_err("refused");
        assert!(err.to_string().contains("not a regular file"), "{err}");

        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(10);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, "big", &[0u8; 10][..])
            .expect("append");
        let big = builder.into_inner().expect("tar");
        let err = unpack(&big, &dir.path().join("c"), 5).expect_err("refused");
        assert!(err.to_string().contains("larger than 5 bytes"), "{err}");
    }
}
