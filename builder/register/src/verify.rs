//! Verifying a registered module: signature, digests, SBOM binding.

use std::path::Path;

use aip_package::cosign::{SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, signature_tag};
use aip_package::oci::sha256_digest;
use aip_package::{
    IMAGE_LAYER_MEDIA_TYPE, Layout, ReadLayout, SBOM_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE,
};
use aip_sign::{PublicKey, SimpleSigning};
use base64::Engine;
use serde::Serialize;

use crate::manifest::ModuleManifest;
use crate::{MANIFEST_DIGEST_CLAIM, RegisterError, SBOM_DIGEST_CLAIM, VerifyFailure};

/// One passed check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// Details (digests).
    pub detail: String,
}

/// The outcome of a successful verification.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Module name.
    pub name: String,
    /// Module version.
    pub version: String,
    /// The signed artifact manifest digest.
    pub artifact_digest: String,
    /// Every check that passed, in order.
    pub checks: Vec<Check>,
}

/// Verifies the module folder `dir` with `key`. The first failed check is
/// the error; it names what does not match.
pub fn verify_module(dir: &Path, key: &PublicKey) -> Result<VerifyReport, RegisterError> {
    let manifest_path = dir.join("manifest.yaml");
    let manifest_bytes = crate::store::read_regular(&manifest_path)?;
    let sbom_path = dir.join("sbom.cdx.json");
    let sbom_bytes = crate::store::read_regular(&sbom_path)?;
    let layout = Layout::open(&dir.join("oci"))?;
    verify_parts(&layout, &manifest_bytes, &sbom_bytes, key)
}

/// Verifies a module before it is written anywhere (e.g. one pulled from a
/// registry), with the same checks as [`verify_module`].
pub fn verify_staged(
    module: &crate::StagedModule,
    key: &PublicKey,
) -> Result<VerifyReport, RegisterError> {
    verify_parts(&module.layout, &module.manifest_yaml, &module.sbom, key)
}

/// A signature that is not a cosign simple-signing signature.
fn malformed(reason: String) -> RegisterError {
    RegisterError::Verify(VerifyFailure::MalformedSignature { reason })
}

/// The checks, on a layout and the bytes of `manifest.yaml` and
/// `sbom.cdx.json`.
fn verify_parts(
    layout: &dyn ReadLayout,
    manifest_bytes: &[u8],
    sbom_bytes: &[u8],
    key: &PublicKey,
) -> Result<VerifyReport, RegisterError> {
    let fail = RegisterError::Verify;
    let mut checks = Vec::new();
    let manifest = ModuleManifest::from_yaml(manifest_bytes)?;
    let manifest_digest = sha256_digest(manifest_bytes);
    checks.push(Check {
        name: "manifest.yaml matches the AIP manifest schema",
        detail: manifest_digest.clone(),
    });

    let artifact_digest = manifest.artifact.digest.clone();

    // 1. The signature, stored where cosign stores it.
    let sig_tag = signature_tag(&artifact_digest);
    if manifest.signature.tag != sig_tag {
        return Err(fail(VerifyFailure::SignatureTagMismatch {
            named: manifest.signature.tag.clone(),
            expected: sig_tag,
        }));
    }
    let sig_desc = layout.tagged(&sig_tag).ok_or_else(|| {
        fail(VerifyFailure::Unsigned {
            tag: sig_tag.clone(),
        })
    })?;
    let sig_manifest = layout.manifest(&sig_desc.digest)?;
    let sig_layer = sig_manifest
        .layers
        .iter()
        .find(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
        .ok_or_else(|| malformed("the signature manifest has no simple-signing layer".into()))?;
    let sig_b64 = sig_layer
        .annotations
        .get(SIGNATURE_ANNOTATION)
        .ok_or_else(|| {
            malformed(format!(
                "the signature layer has no {SIGNATURE_ANNOTATION} annotation"
            ))
        })?;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig_b64)
        .map_err(|_| malformed("the signature annotation is not base64".into()))?;
    let payload_bytes = layout.blob(&sig_layer.digest)?;
    key.verify(&payload_bytes, &sig)
        .map_err(|_| fail(VerifyFailure::SignatureInvalid))?;
    checks.push(Check {
        name: "cosign signature verifies with the public key",
        detail: sig_desc.digest.clone(),
    });

    // 2. What the signature covers.
    let payload =
        SimpleSigning::from_bytes(&payload_bytes).map_err(|e| malformed(e.to_string()))?;
    if payload.critical.image.docker_manifest_digest != artifact_digest {
        return Err(fail(VerifyFailure::SignatureCoversAnotherArtifact {
            signed: payload.critical.image.docker_manifest_digest.clone(),
            named: artifact_digest,
        }));
    }
    if payload.optional_str(MANIFEST_DIGEST_CLAIM) != Some(manifest_digest.as_str()) {
        return Err(fail(VerifyFailure::ManifestModified {
            actual: manifest_digest,
            signed: payload
                .optional_str(MANIFEST_DIGEST_CLAIM)
                .unwrap_or("none")
                .to_string(),
        }));
    }
    checks.push(Check {
        name: "signature covers the artifact and manifest.yaml",
        detail: artifact_digest.clone(),
    });

    // 3. The artifact and its component layer.
    let tagged = layout.tagged(&manifest.artifact.tag).ok_or_else(|| {
        fail(VerifyFailure::ArtifactTagMissing {
            tag: manifest.artifact.tag.clone(),
        })
    })?;
    if tagged.digest != artifact_digest {
        return Err(fail(VerifyFailure::ArtifactTagMismatch {
            tag: manifest.artifact.tag.clone(),
            points_at: tagged.digest.clone(),
            named: artifact_digest,
        }));
    }
    let artifact = layout.manifest(&artifact_digest)?;
    let layer_media_type = if manifest.runtime.kind == crate::Runtime::GRPC {
        IMAGE_LAYER_MEDIA_TYPE
    } else {
        WASM_LAYER_MEDIA_TYPE
    };
    let layer = artifact
        .layers
        .iter()
        .find(|l| l.media_type == layer_media_type)
        .ok_or_else(|| {
            fail(VerifyFailure::LayerMissing {
                media_type: layer_media_type.to_string(),
            })
        })?;
    if layer.digest != manifest.artifact.layer.digest || layer.size != manifest.artifact.layer.size
    {
        return Err(fail(VerifyFailure::LayerMismatch {
            actual: layer.digest.clone(),
            actual_size: layer.size,
            named: manifest.artifact.layer.digest.clone(),
            named_size: manifest.artifact.layer.size,
        }));
    }
    let runnable = crate::store::payload(&manifest, &layout.blob(&layer.digest)?)?;
    layout.blob(&artifact.config.digest)?;
    checks.push(Check {
        name: "artifact layer and config blobs match their digests",
        detail: layer.digest.clone(),
    });

    // 4. The SBOM: signed, attached as a referrer, and about this component.
    let sbom_digest = sha256_digest(sbom_bytes);
    if sbom_digest != manifest.sbom.digest
        || payload.optional_str(SBOM_DIGEST_CLAIM) != Some(sbom_digest.as_str())
    {
        return Err(fail(VerifyFailure::SbomModified {
            actual: sbom_digest,
            named: manifest.sbom.digest.clone(),
        }));
    }
    let referrers = layout.referrers(&artifact_digest)?;
    let (_, referrer) = referrers
        .iter()
        .find(|(d, _)| d.digest == manifest.sbom.referrer)
        .ok_or_else(|| {
            fail(VerifyFailure::SbomReferrerMissing {
                referrer: manifest.sbom.referrer.clone(),
            })
        })?;
    if referrer.artifact_type.as_deref() != Some(SBOM_MEDIA_TYPE)
        || !referrer.layers.iter().any(|l| l.digest == sbom_digest)
    {
        return Err(fail(VerifyFailure::SbomReferrerMismatch));
    }
    let sbom: serde_json::Value = serde_json::from_slice(sbom_bytes).map_err(|e| {
        fail(VerifyFailure::SbomUnreadable {
            reason: e.to_string(),
        })
    })?;
    let component_hash = sbom
        .pointer("/metadata/component/hashes/0/content")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let payload_hex = sha256_digest(&runnable);
    if format!("sha256:{component_hash}") != payload_hex {
        return Err(fail(VerifyFailure::SbomDescribesAnotherComponent {
            described: format!("sha256:{component_hash}"),
            actual: payload_hex,
        }));
    }
    checks.push(Check {
        name: "SBOM is signed, attached as a referrer and describes this component",
        detail: sbom_digest,
    });

    // 5. The contract, when the (signed) manifest names one.
    if let Some(contract) = &manifest.contract {
        crate::contract::contract_bytes(layout, &artifact_digest, contract)?;
        checks.push(Check {
            name: "contract is attached as a referrer with the digest manifest.yaml names",
            detail: contract.digest.clone(),
        });
    }

    Ok(VerifyReport {
        name: manifest.metadata.name,
        version: manifest.metadata.version,
        artifact_digest,
        checks,
    })
}
