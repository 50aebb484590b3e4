//! Package: lays a compiled adapter out as an OCI image layout.
//!
//! The layout holds the CNCF Wasm artifact or the gRPC service image
//! (tagged with the module version),
//! the CycloneDX SBOM as an OCI 1.1 referrer of it, and (added by the sign
//! stage through [`cosign::add_signature`]) the cosign signature tagged
//! `sha256-<hex>.sig`. Layouts are built in memory and written in one go;
//! reading verifies every blob's digest.

pub mod cosign;
mod image;
mod layout;
pub mod oci;
mod sbom;
mod wasm;

use std::path::Path;

pub use image::{
    ENTRYPOINT, IMAGE_CONFIG_MEDIA_TYPE, IMAGE_LAYER_MEDIA_TYPE, ImageInfo, SERVICE_PORT,
    SERVICE_USER, ServiceImage, add_service_image, executable_from_layer,
};
pub use layout::{Layout, LayoutBuilder, ReadLayout};
pub use sbom::{CrateRef, SBOM_MEDIA_TYPE, SbomInput, cyclonedx_json};
pub use wasm::{
    WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE, WasmArtifact, WasmArtifactInfo,
    add_wasm_artifact,
};

use oci::{Descriptor, EMPTY_MEDIA_TYPE, ImageManifest};

/// Why packaging or reading a package failed.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// File I/O failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Content does not hash to its digest.
    #[error(
        "{what}: digest mismatch (expected {expected}, found {actual}); the content was modified"
    )]
    DigestMismatch {
        /// What was checked.
        what: String,
        /// The recorded digest.
        expected: String,
        /// The content's digest.
        actual: String,
    },
    /// Malformed content.
    #[error("{0}")]
    Invalid(String),
}

impl PackageError {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> PackageError {
        PackageError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}

/// What every artifact manifest is annotated with.
pub(crate) struct ModuleInfo<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub description: &'a str,
    pub spec_digest: &'a str,
    pub builder_version: &'a str,
}

/// The OCI annotations of a module's artifact or image manifest.
pub(crate) fn module_annotations(
    info: &ModuleInfo<'_>,
) -> std::collections::BTreeMap<String, String> {
    [
        ("org.opencontainers.image.title", info.name),
        ("org.opencontainers.image.version", info.version),
        ("org.opencontainers.image.description", info.description),
        ("dev.aip.module.name", info.name),
        ("dev.aip.spec.digest", info.spec_digest),
        ("dev.aip.builder.version", info.builder_version),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `artifactType` (and layer media type) of the contract referrer: the IR
/// the adapter was built from, as JSON, which `aip-builder diff` reads
/// from a module folder or a registry.
pub const CONTRACT_MEDIA_TYPE: &str = "application/vnd.aip.contract.v1+json";

/// Attaches `sbom` to `subject` as an OCI 1.1 referrer with artifactType
/// `application/vnd.cyclonedx+json`.
pub fn add_sbom_referrer(
    layout: &mut LayoutBuilder,
    subject: &Descriptor,
    sbom: Vec<u8>,
) -> Descriptor {
    add_referrer(layout, subject, SBOM_MEDIA_TYPE, "sbom.cdx.json", sbom)
}

/// Attaches `contract` (the adapter's IR as JSON) to `subject` as an OCI
/// 1.1 referrer with artifactType [`CONTRACT_MEDIA_TYPE`].
pub fn add_contract_referrer(
    layout: &mut LayoutBuilder,
    subject: &Descriptor,
    contract: Vec<u8>,
) -> Descriptor {
    add_referrer(
        layout,
        subject,
        CONTRACT_MEDIA_TYPE,
        "contract.json",
        contract,
    )
}

/// Attaches `content` to `subject` as a one-layer OCI 1.1 artifact of
/// `artifact_type`, its layer titled `title`.
fn add_referrer(
    layout: &mut LayoutBuilder,
    subject: &Descriptor,
    artifact_type: &str,
    title: &str,
    content: Vec<u8>,
) -> Descriptor {
    let config = layout.add_blob(EMPTY_MEDIA_TYPE, b"{}".to_vec());
    let mut layer = layout.add_blob(artifact_type, content);
    layer
        .annotations
        .insert("org.opencontainers.image.title".into(), title.into());
    let mut manifest = ImageManifest::new(config, vec![layer]);
    manifest.artifact_type = Some(artifact_type.to_string());
    let mut subject = subject.clone();
    subject.annotations.clear();
    subject.artifact_type = None;
    manifest.subject = Some(subject);
    layout.add_manifest(&manifest, None)
}
