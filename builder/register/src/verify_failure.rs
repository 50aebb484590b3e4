//! Why a module failed verification: one variant per check, so the CLI,
//! the HTTP API and the console can show the failed check by name.

use serde::Serialize;

/// The check a module failed, with what did not match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "check", rename_all = "kebab-case")]
pub enum VerifyFailure {
    /// No signature is stored for the artifact.
    #[error("no signature: the layout has no {tag} tag (module is unsigned)")]
    Unsigned {
        /// The cosign tag looked for.
        tag: String,
    },
    /// `manifest.yaml` names another signature tag than the artifact's.
    #[error("manifest.yaml names signature tag {named} but the artifact's is {expected}")]
    SignatureTagMismatch {
        /// The tag manifest.yaml names.
        named: String,
        /// The artifact's cosign tag.
        expected: String,
    },
    /// The signature manifest is not a cosign simple-signing signature.
    #[error("malformed signature: {reason}")]
    MalformedSignature {
        /// What is missing or wrong.
        reason: String,
    },
    /// The signature does not verify with the key.
    #[error(
        "the signature does not verify with the given public key (wrong key, or the payload was altered)"
    )]
    SignatureInvalid,
    /// The signature is over another artifact.
    #[error("the signature covers {signed} but manifest.yaml names artifact {named}")]
    SignatureCoversAnotherArtifact {
        /// The digest the signature covers.
        signed: String,
        /// The digest manifest.yaml names.
        named: String,
    },
    /// `manifest.yaml` changed after signing.
    #[error(
        "manifest.yaml was modified after signing (its digest is {actual}, the signature covers {signed})"
    )]
    ManifestModified {
        /// The digest of manifest.yaml now.
        actual: String,
        /// The digest the signature covers (`none` when absent).
        signed: String,
    },
    /// The artifact's version tag is missing from the layout.
    #[error("the layout has no tag {tag}")]
    ArtifactTagMissing {
        /// The version tag.
        tag: String,
    },
    /// The version tag points at another artifact.
    #[error("tag {tag} points at {points_at} but manifest.yaml names {named}")]
    ArtifactTagMismatch {
        /// The version tag.
        tag: String,
        /// Where it points.
        points_at: String,
        /// What manifest.yaml names.
        named: String,
    },
    /// The artifact has no component (or image) layer.
    #[error("artifact has no {media_type} layer")]
    LayerMissing {
        /// The layer media type looked for.
        media_type: String,
    },
    /// The artifact's layer is not the one manifest.yaml names.
    #[error(
        "artifact layer {actual} ({actual_size} bytes) differs from manifest.yaml's {named} ({named_size} bytes)"
    )]
    LayerMismatch {
        /// The layer in the artifact.
        actual: String,
        /// Its size.
        actual_size: u64,
        /// The layer manifest.yaml names.
        named: String,
        /// Its size.
        named_size: u64,
    },
    /// `sbom.cdx.json` changed after signing.
    #[error("sbom.cdx.json was modified (its digest is {actual}, manifest.yaml names {named})")]
    SbomModified {
        /// The digest of sbom.cdx.json now.
        actual: String,
        /// The digest manifest.yaml names.
        named: String,
    },
    /// The SBOM is not attached to the artifact as a referrer.
    #[error("the SBOM referrer {referrer} is not attached to the artifact")]
    SbomReferrerMissing {
        /// The referrer digest manifest.yaml names.
        referrer: String,
    },
    /// The attached SBOM referrer does not carry `sbom.cdx.json`.
    #[error("the SBOM referrer in the layout does not carry sbom.cdx.json")]
    SbomReferrerMismatch,
    /// The SBOM is not JSON.
    #[error("sbom.cdx.json is not JSON: {reason}")]
    SbomUnreadable {
        /// The parser's message.
        reason: String,
    },
    /// The SBOM describes another component.
    #[error("the SBOM describes component {described}, not this one ({actual})")]
    SbomDescribesAnotherComponent {
        /// The component digest the SBOM names.
        described: String,
        /// The digest of this module's component.
        actual: String,
    },
    /// The contract referrer manifest.yaml names is not attached, or does
    /// not carry the contract it names.
    #[error("the contract referrer {referrer} (contract {digest}) is not attached to the artifact")]
    ContractReferrerMissing {
        /// The referrer digest manifest.yaml names.
        referrer: String,
        /// The contract digest manifest.yaml names.
        digest: String,
    },
}

impl VerifyFailure {
    /// The stable name of the failed check (`unsigned`, `signature-invalid`,
    /// `manifest-modified`, ...), as JSON output and the console show it.
    pub fn check(&self) -> &'static str {
        match self {
            VerifyFailure::Unsigned { .. } => "unsigned",
            VerifyFailure::SignatureTagMismatch { .. } => "signature-tag-mismatch",
            VerifyFailure::MalformedSignature { .. } => "malformed-signature",
            VerifyFailure::SignatureInvalid => "signature-invalid",
            VerifyFailure::SignatureCoversAnotherArtifact { .. } => {
                "signature-covers-another-artifact"
            }
            VerifyFailure::ManifestModified { .. } => "manifest-modified",
            VerifyFailure::ArtifactTagMissing { .. } => "artifact-tag-missing",
            VerifyFailure::ArtifactTagMismatch { .. } => "artifact-tag-mismatch",
            VerifyFailure::LayerMissing { .. } => "layer-missing",
            VerifyFailure::LayerMismatch { .. } => "layer-mismatch",
            VerifyFailure::SbomModified { .. } => "sbom-modified",
            VerifyFailure::SbomReferrerMissing { .. } => "sbom-referrer-missing",
            VerifyFailure::SbomReferrerMismatch => "sbom-referrer-mismatch",
            VerifyFailure::SbomUnreadable { .. } => "sbom-unreadable",
            VerifyFailure::SbomDescribesAnotherComponent { .. } => {
                "sbom-describes-another-component"
            }
            VerifyFailure::ContractReferrerMissing { .. } => "contract-referrer-missing",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_name_is_the_serialized_tag() {
        let failures = [
            VerifyFailure::Unsigned { tag: "t".into() },
            VerifyFailure::SignatureInvalid,
            VerifyFailure::ManifestModified {
                actual: "a".into(),
                signed: "b".into(),
            },
            VerifyFailure::SbomReferrerMismatch,
            VerifyFailure::ContractReferrerMissing {
                referrer: "r".into(),
                digest: "d".into(),
            },
        ];
        for failure in failures {
            let json = serde_json::to_value(&failure).expect("json");
            assert_eq!(json["check"], failure.check());
        }
    }
}
