//! Writing a module folder atomically.

use std::path::{Path, PathBuf};

use aip_package::LayoutBuilder;

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
}

/// Writes `module` to `<modules_dir>/<name>`, replacing any previous version
/// only once the new one is completely on disk. Returns the module folder.
pub fn register(modules_dir: &Path, module: &StagedModule) -> Result<PathBuf, RegisterError> {
    if !aip_ir::is_valid_module_name(&module.name) {
        return Err(RegisterError::Manifest(format!(
            "invalid module name {:?}",
            module.name
        )));
    }
    std::fs::create_dir_all(modules_dir)
        .map_err(|e| RegisterError::io("create", modules_dir, e))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".staging-{}-", module.name))
        .tempdir_in(modules_dir)
        .map_err(|e| RegisterError::io("create a staging folder in", modules_dir, e))?;
    module.layout.write(&staging.path().join("oci"))?;
    write_synced(&staging.path().join("manifest.yaml"), &module.manifest_yaml)?;
    write_synced(&staging.path().join("sbom.cdx.json"), &module.sbom)?;

    let target = modules_dir.join(&module.name);
    let staged = staging.keep();
    if target.exists() {
        let old = modules_dir.join(format!(".old-{}-{}", module.name, std::process::id()));
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| RegisterError::io("remove", &old, e))?;
        }
        std::fs::rename(&target, &old).map_err(|e| RegisterError::io("move aside", &target, e))?;
        if let Err(e) = std::fs::rename(&staged, &target) {
            // Put the previous module back; the new one stays staged for inspection.
            let _ = std::fs::rename(&old, &target);
            return Err(RegisterError::io("move into place", &target, e));
        }
        std::fs::remove_dir_all(&old).map_err(|e| RegisterError::io("remove", &old, e))?;
    } else {
        std::fs::rename(&staged, &target)
            .map_err(|e| RegisterError::io("move into place", &target, e))?;
    }
    Ok(target)
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
    /// The component bytes (digest-checked against the manifest).
    pub wasm: Vec<u8>,
}

/// Opens `dir`: reads and validates `manifest.yaml` and loads the component
/// the manifest names, refusing bytes that do not match their digest. (This
/// is not signature verification; see [`crate::verify_module`].)
pub fn open_module(dir: &Path) -> Result<OpenedModule, RegisterError> {
    let manifest_path = dir.join("manifest.yaml");
    let bytes =
        std::fs::read(&manifest_path).map_err(|e| RegisterError::io("read", &manifest_path, e))?;
    let manifest = crate::ModuleManifest::from_yaml(&bytes)?;
    let layout = aip_package::Layout::open(&dir.join("oci"))?;
    let wasm = layout.blob(&manifest.artifact.layer.digest)?;
    Ok(OpenedModule { manifest, wasm })
}
