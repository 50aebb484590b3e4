//! The gRPC microservice as an OCI image: one deterministic layer holding
//! the static adapter executable, a config that runs it as a non-root user,
//! and a manifest for linux/amd64.
//!
//! Determinism: tar entries are sorted and carry fixed mtimes (0), owners
//! (0:0) and modes; the gzip header has no name and mtime 0; nothing in the
//! config depends on the clock. The same executable and info always give
//! the same manifest digest.

use std::io::Write;

use serde_json::json;

use crate::PackageError;
use crate::layout::LayoutBuilder;
use crate::oci::{Descriptor, ImageManifest, Platform, sha256_digest};

/// Config media type of OCI images.
pub const IMAGE_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// Layer media type of the image's one layer.
pub const IMAGE_LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Where the executable lives in the image.
pub const ENTRYPOINT: &str = "/aip-adapter";
/// The port the service listens on inside the container.
pub const SERVICE_PORT: u16 = 50051;
/// The non-root user (and group) the service runs as.
pub const SERVICE_USER: &str = "65532:65532";

/// What goes into the image besides the executable.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// Module name.
    pub name: String,
    /// Module version (the tag).
    pub version: String,
    /// One-line description.
    pub description: String,
    /// `sha256:` digest of the source spec.
    pub spec_digest: String,
    /// aip-builder's version.
    pub builder_version: String,
}

/// The descriptors of a packaged image.
#[derive(Debug, Clone)]
pub struct ServiceImage {
    /// The image manifest.
    pub manifest: Descriptor,
    /// The one layer.
    pub layer: Descriptor,
    /// The config.
    pub config: Descriptor,
}

/// Adds the image of `executable`, tagged with the module version.
pub fn add_service_image(
    layout: &mut LayoutBuilder,
    executable: &[u8],
    info: &ImageInfo,
) -> Result<ServiceImage, PackageError> {
    let tar = layer_tar(executable)?;
    let diff_id = sha256_digest(&tar);
    let gz = gzip(&tar)?;
    let layer = layout.add_blob(IMAGE_LAYER_MEDIA_TYPE, gz);
    let annotations = crate::module_annotations(&crate::ModuleInfo {
        name: &info.name,
        version: &info.version,
        description: &info.description,
        spec_digest: &info.spec_digest,
        builder_version: &info.builder_version,
    });
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": SERVICE_USER,
            "Entrypoint": [ENTRYPOINT],
            "Env": [format!("AIP_LISTEN=0.0.0.0:{SERVICE_PORT}")],
            "ExposedPorts": { format!("{SERVICE_PORT}/tcp"): {} },
            "WorkingDir": "/",
            "StopSignal": "SIGTERM",
            "Labels": annotations,
        },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{
            "created_by": format!("aip-builder {}", info.builder_version),
            "comment": "static adapter executable",
        }],
    });
    let config_bytes = serde_json::to_vec(&config)
        .map_err(|e| PackageError::Invalid(format!("image config: {e}")))?;
    let config = layout.add_blob(IMAGE_CONFIG_MEDIA_TYPE, config_bytes);
    let mut manifest = ImageManifest::new(config.clone(), vec![layer.clone()]);
    manifest.annotations = annotations;
    let manifest = layout.add_platform_manifest(
        &manifest,
        Some(&info.version),
        Some(Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
        }),
    );
    Ok(ServiceImage {
        manifest,
        layer,
        config,
    })
}

/// The layer's entries, sorted by path: the executable, a passwd/group
/// naming the service user, and a world-writable `/tmp`.
fn layer_tar(executable: &[u8]) -> Result<Vec<u8>, PackageError> {
    let (uid, gid) = SERVICE_USER
        .split_once(':')
        .unwrap_or((SERVICE_USER, SERVICE_USER));
    let passwd =
        format!("root:x:0:0:root:/:/sbin/nologin\naip:x:{uid}:{gid}:aip adapter:/:/sbin/nologin\n");
    let group = format!("root:x:0:\naip:x:{gid}:\n");
    let entries: [(&str, Option<&[u8]>, u32); 5] = [
        (&ENTRYPOINT[1..], Some(executable), 0o755),
        ("etc/", None, 0o755),
        ("etc/group", Some(group.as_bytes()), 0o644),
        ("etc/passwd", Some(passwd.as_bytes()), 0o644),
        ("tmp/", None, 0o1777),
    ];
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents, mode) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header
            .set_username("root")
            .and_then(|()| header.set_groupname("root"))
            .map_err(|e| PackageError::Invalid(format!("tar header of {path}: {e}")))?;
        let data = contents.unwrap_or_default();
        header.set_entry_type(if contents.is_some() {
            tar::EntryType::Regular
        } else {
            tar::EntryType::Directory
        });
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, path, data)
            .map_err(|e| PackageError::Invalid(format!("tar entry {path}: {e}")))?;
    }
    builder
        .into_inner()
        .map_err(|e| PackageError::Invalid(format!("tar: {e}")))
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, PackageError> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.try_finish())
        .map_err(|e| PackageError::Invalid(format!("gzip: {e}")))?;
    encoder
        .finish()
        .map_err(|e| PackageError::Invalid(format!("gzip: {e}")))
}

/// Reads the executable back out of a layer written by [`add_service_image`].
pub fn executable_from_layer(layer_gz: &[u8]) -> Result<Vec<u8>, PackageError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(layer_gz));
    let entries = archive
        .entries()
        .map_err(|e| PackageError::Invalid(format!("image layer: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| PackageError::Invalid(format!("image layer: {e}")))?;
        let is_entrypoint = entry
            .path()
            .map(|p| p.to_string_lossy() == ENTRYPOINT[1..])
            .unwrap_or(false);
        if is_entrypoint {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes)
                .map_err(|e| PackageError::Invalid(format!("image layer: {e}")))?;
            return Ok(bytes);
        }
    }
    Err(PackageError::Invalid(format!(
        "the image layer holds no {ENTRYPOINT}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ImageInfo {
        ImageInfo {
            name: "demo".into(),
            version: "1.0.0".into(),
            description: "d".into(),
            spec_digest: "sha256:00".into(),
            builder_version: "0.1.0".into(),
        }
    }

    #[test]
    fn image_is_deterministic_and_round_trips() {
        let exe = b"\x7fELF not really".to_vec();
        let mut a = LayoutBuilder::new();
        let mut b = LayoutBuilder::new();
        let ia = add_service_image(&mut a, &exe, &info()).map_err(|e| e.to_string());
        let ib = add_service_image(&mut b, &exe, &info()).map_err(|e| e.to_string());
        let (ia, ib) = (
            ia.unwrap_or_else(|e| panic!("{e}")),
            ib.unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(ia.manifest.digest, ib.manifest.digest);
        assert_eq!(a.index_bytes(), b.index_bytes());
        let layer = a.get_blob(&ia.layer.digest).unwrap_or_default();
        assert_eq!(
            executable_from_layer(layer).map_err(|e| e.to_string()),
            Ok(exe)
        );
    }
}
