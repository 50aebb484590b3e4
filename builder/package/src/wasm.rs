//! The CNCF Wasm OCI artifact: one `application/wasm` layer and a
//! `application/vnd.wasm.config.v0+json` config.

use serde_json::json;

use crate::layout::LayoutBuilder;
use crate::oci::{Descriptor, ImageManifest};

/// Config media type of Wasm artifacts.
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// Layer media type of Wasm artifacts.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";

/// What goes into the artifact besides the component bytes.
#[derive(Debug, Clone)]
pub struct WasmArtifactInfo {
    /// Module name.
    pub name: String,
    /// Module version.
    pub version: String,
    /// One-line description.
    pub description: String,
    /// The WIT world the component targets.
    pub world: String,
    /// Interfaces the component imports.
    pub imports: Vec<String>,
    /// Functions/interfaces the component exports.
    pub exports: Vec<String>,
    /// `sha256:` digest of the source spec.
    pub spec_digest: String,
    /// aip-builder's version.
    pub builder_version: String,
}

/// The descriptors of a packaged artifact.
#[derive(Debug, Clone)]
pub struct WasmArtifact {
    /// The artifact manifest.
    pub manifest: Descriptor,
    /// The component layer.
    pub layer: Descriptor,
}

/// Adds the component as a Wasm artifact, tagged with the module version.
/// Nothing time- or machine-dependent goes in, so the same component and
/// info always give the same manifest digest.
pub fn add_wasm_artifact(
    layout: &mut LayoutBuilder,
    wasm: Vec<u8>,
    info: &WasmArtifactInfo,
) -> WasmArtifact {
    let mut layer = layout.add_blob(WASM_LAYER_MEDIA_TYPE, wasm);
    layer.annotations.insert(
        "org.opencontainers.image.title".into(),
        format!("{}.wasm", info.name),
    );
    let config = json!({
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer.digest],
        "component": {
            "target": info.world,
            "imports": info.imports,
            "exports": info.exports,
        },
    });
    let config = layout.add_blob(
        WASM_CONFIG_MEDIA_TYPE,
        serde_json::to_vec(&config).unwrap_or_default(),
    );
    let mut manifest = ImageManifest::new(config, vec![layer.clone()]);
    manifest.annotations = crate::module_annotations(&crate::ModuleInfo {
        name: &info.name,
        version: &info.version,
        description: &info.description,
        spec_digest: &info.spec_digest,
        builder_version: &info.builder_version,
    });
    let manifest = layout.add_manifest(&manifest, Some(&info.version));
    WasmArtifact { manifest, layer }
}
