//! Writing a module folder atomically.

use std::path::{Path, PathBuf};

use aip_package::{LayoutBuilder, ReadLayout};

use crate::RegisterError;

/// Everything a module folder holds, in memory.
pub struct StagedModule {
    /// Module name (validated by ingest).
    pub name: String,
    /// The OCI layout.
    pub layout: LayoutBuilder,
    /// `manifest.yaml` bytes.
    pub manifest_yaml: Vec<u8>,
    /// `sbom.cdx.json` bytes.
    pub sbom: Vec<u8>,
    /// Where it was installed from (`origin.json`); `None` when built here.
    pub origin: Option<crate::Origin>,
}

/// Where modules are registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `<dir>/<name>`: a flat `modules/` folder holding one version of each
    /// module (what `aip-builder invoke` and the platform read).
    Flat(PathBuf),
    /// `<dir>/<name>/<version>`: every version kept side by side (the build
    /// service's registry).
    Versioned(PathBuf),
}

impl Destination {
    /// The folder module `name` at `version` is registered into.
    pub fn folder(&self, name: &str, version: &str) -> PathBuf {
        match self {
            Destination::Flat(dir) => dir.join(name),
            Destination::Versioned(dir) => dir.join(name).join(version),
        }
    }
}

/// Writes `module` to `<modules_dir>/<name>`, replacing any previous version
/// only once the new one is completely on disk. Returns the module folder.
pub fn register(modules_dir: &Path, module: &StagedModule) -> Result<PathBuf, RegisterError> {
    register_at(&modules_dir.join(&module.name), module)
}

/// Writes `module` to the folder `target` (see [`Destination::folder`]),
/// replacing what is there only once the new module is completely on disk.
/// The staging folder (`.staging-<name>-*`) is made beside `target`.
pub fn register_at(target: &Path, module: &StagedModule) -> Result<PathBuf, RegisterError> {
    if !aip_ir::is_valid_module_name(&module.name) {
        return Err(RegisterError::Manifest(format!(
            "invalid module name {:?}",
            module.name
        )));
    }
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| RegisterError::io("create", parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".staging-{}-", module.name))
        .tempdir_in(parent)
        .map_err(|e| RegisterError::io("create a staging folder in", parent, e))?;
    module.layout.write(&staging.path().join("oci"))?;
    write_synced(&staging.path().join("manifest.yaml"), &module.manifest_yaml)?;
    write_synced(&staging.path().join("sbom.cdx.json"), &module.sbom)?;
    if let Some(origin) = &module.origin {
        write_synced(&staging.path().join(crate::ORIGIN_FILE), &origin.to_bytes())?;
    }

    let staged = staging.keep();
    if let Err(e) = move_into_place(&staged, target) {
        // Nothing half-done stays behind: the staging folder (or, after a
        // swap, the old module it now holds) goes.
        let _ = std::fs::remove_dir_all(&staged);
        return Err(e);
    }
    Ok(target.to_path_buf())
}

/// Moves the complete module folder `staged` to `target` in one step,
/// replacing what is there (the old folder is swapped out, then removed).
/// Both must be on one filesystem.
pub fn move_into_place(staged: &Path, target: &Path) -> Result<(), RegisterError> {
    if !target.exists() {
        match std::fs::rename(staged, target) {
            Ok(()) => return Ok(()),
            // Another registration of the same version created it between
            // the check and the rename: replace that one, as below.
            Err(e) if target_appeared(&e) => {}
            Err(e) => return Err(RegisterError::io("move into place", target, e)),
        }
    }
    // Swap old and new in one step, so `modules/<name>` always holds a
    // complete module; then drop the old one.
    swap(staged, target).map_err(|e| RegisterError::io("swap into place", target, e))?;
    std::fs::remove_dir_all(staged).map_err(|e| RegisterError::io("remove", staged, e))?;
    Ok(())
}

/// Whether a rename failed because its target folder exists (and is not
/// empty).
fn target_appeared(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::DirectoryNotEmpty | std::io::ErrorKind::AlreadyExists
    )
}

/// Exchanges two folders atomically (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn swap(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
}

/// Elsewhere: move the old folder aside, move the new one in, and put the
/// old one back if that fails.
#[cfg(not(target_os = "linux"))]
fn swap(staged: &Path, target: &Path) -> std::io::Result<()> {
    let aside = staged.with_extension("old");
    std::fs::rename(target, &aside)?;
    if let Err(e) = std::fs::rename(staged, target) {
        let _ = std::fs::rename(&aside, target);
        return Err(e);
    }
    std::fs::rename(&aside, staged)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), RegisterError> {
    use std::io::Write;
    let mut file = std::fs::File::create(path).map_err(|e| RegisterError::io("create", path, e))?;
    file.write_all(bytes)
        .map_err(|e| RegisterError::io("write", path, e))?;
    file.sync_all()
        .map_err(|e| RegisterError::io("sync", path, e))
}

/// A registered module, opened for running.
pub struct OpenedModule {
    /// Its manifest.
    pub manifest: crate::ModuleManifest,
    /// What runs: the component bytes (`runtime.type: wasm`) or the service
    /// executable unpacked from the image layer (`grpc`), digest-checked
    /// against the manifest.
    pub payload: Vec<u8>,
}

/// Opens `dir`: reads and validates `manifest.yaml` and loads what the
/// manifest names, refusing bytes that do not match their digest. (This is
/// not signature verification; see [`crate::verify_module`].)
pub fn open_module(dir: &Path) -> Result<OpenedModule, RegisterError> {
    let manifest_path = dir.join("manifest.yaml");
    let bytes = read_regular(&manifest_path)?;
    let manifest = crate::ModuleManifest::from_yaml(&bytes)?;
    let layout = aip_package::Layout::open(&dir.join("oci"))?;
    let payload = payload(&manifest, &layout.blob(&manifest.artifact.layer.digest)?)?;
    Ok(OpenedModule { manifest, payload })
}

/// The runnable bytes of an artifact layer: the layer itself for a
/// component, the executable inside it for an image.
pub(crate) fn payload(
    manifest: &crate::ModuleManifest,
    layer: &[u8],
) -> Result<Vec<u8>, RegisterError> {
    if manifest.runtime.kind == crate::Runtime::GRPC {
        Ok(aip_package::executable_from_layer(layer)?)
    } else {
        Ok(layer.to_vec())
    }
}

/// Reads a regular file (a FIFO or device in a module folder would block).
pub(crate) fn read_regular(path: &Path) -> Result<Vec<u8>, RegisterError> {
    let meta = std::fs::metadata(path).map_err(|e| RegisterError::io("read", path, e))?;
    if !meta.is_file() {
        let e = std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a folder, FIFO or device)",
        );
        return Err(RegisterError::io("read", path, e));
    }
    std::fs::read(path).map_err(|e| RegisterError::io("read", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(manifest: &[u8]) -> StagedModule {
        StagedModule {
            name: "m".into(),
            layout: LayoutBuilder::new(),
            manifest_yaml: manifest.to_vec(),
            sbom: b"{}".to_vec(),
            origin: None,
        }
    }

    #[test]
    fn re_registration_swaps_in_place_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = register(dir.path(), &staged(b"one")).expect("first");
        assert_eq!(
            std::fs::read(first.join("manifest.yaml")).expect("read"),
            b"one"
        );
        let second = register(dir.path(), &staged(b"two")).expect("second");
        assert_eq!(first, second);
        assert_eq!(
            std::fs::read(second.join("manifest.yaml")).expect("read"),
            b"two"
        );
        let entries: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            entries,
            vec!["m".to_string()],
            "no staging or old folders remain"
        );
    }

    #[test]
    fn a_target_that_appears_before_the_rename_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (staged, target) = (dir.path().join("staged"), dir.path().join("target"));
        for (folder, file) in [(&staged, "new"), (&target, "old")] {
            std::fs::create_dir(folder).expect("mkdir");
            std::fs::write(folder.join(file), b"x").expect("write");
        }
        let raced = std::fs::rename(&staged, &target).expect_err("the target exists");
        assert!(target_appeared(&raced), "{raced:?}");
        move_into_place(&staged, &target).expect("replaces it");
        assert!(target.join("new").exists() && !target.join("old").exists());
        assert!(!staged.exists());
    }

    #[test]
    fn invalid_names_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut module = staged(b"x");
        module.name = "../escape".into();
        assert!(register(dir.path(), &module).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
    }
}
