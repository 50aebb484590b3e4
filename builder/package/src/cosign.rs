//! Storing a cosign signature in a layout the way cosign stores it in a
//! registry: an image manifest tagged `sha256-<hex>.sig` whose one layer is
//! the simple-signing payload, with the base64 signature as an annotation.

use serde_json::json;

use crate::layout::LayoutBuilder;
use crate::oci::{Descriptor, ImageManifest};

/// Media type of cosign's signature payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// The tag cosign uses for the signatures of `digest`: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// Adds the signature manifest for `subject` (payload + base64 signature).
pub fn add_signature(
    layout: &mut LayoutBuilder,
    subject: &Descriptor,
    payload: Vec<u8>,
    signature_b64: &str,
) -> Descriptor {
    let mut layer = layout.add_blob(SIMPLE_SIGNING_MEDIA_TYPE, payload);
    layer
        .annotations
        .insert(SIGNATURE_ANNOTATION.into(), signature_b64.to_string());
    // cosign's signature image config: an image config whose only layer is the payload.
    let config = json!({
        "architecture": "",
        "config": {},
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer.digest]},
    });
    let config = layout.add_blob(
        "application/vnd.oci.image.config.v1+json",
        serde_json::to_vec(&config).unwrap_or_default(),
    );
    let manifest = ImageManifest::new(config, vec![layer]);
    layout.add_manifest(&manifest, Some(&signature_tag(&subject.digest)))
}
