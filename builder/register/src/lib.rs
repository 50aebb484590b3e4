//! Register: the AIP module manifest, atomic registration of a module
//! folder under `modules/`, and verification of a registered module.
//!
//! A module folder holds `oci/` (the image layout: artifact, SBOM referrer,
//! cosign signature), `manifest.yaml` and `sbom.cdx.json`. It is assembled
//! in a staging folder beside its final place and swapped in with one
//! rename, so a failed build never leaves a half-written module and never
//! replaces a good one.

mod contract;
mod manifest;
mod origin;
mod store;
mod verify;
mod verify_failure;

pub use contract::{module_contract, staged_contract};
pub use manifest::{
    Artifact, Builder, ContractRef, Intent, Layer, MANIFEST_SCHEMA, MAX_VERSION_LEN, Metadata,
    ModuleManifest, Permissions, Resources, Runtime, SbomRef, SignatureRef, Source, Vendor,
    check_version, validate,
};
pub use origin::{ORIGIN_FILE, Origin, Verification};
pub use store::{
    Destination, OpenedModule, StagedModule, move_into_place, open_module, register, register_at,
};
pub use verify::{Check, VerifyReport, verify_module, verify_staged};
pub use verify_failure::VerifyFailure;

/// Claim in the signature payload binding `manifest.yaml`'s digest.
pub const MANIFEST_DIGEST_CLAIM: &str = "dev.aip.manifest.digest";
/// Claim in the signature payload binding `sbom.cdx.json`'s digest.
pub const SBOM_DIGEST_CLAIM: &str = "dev.aip.sbom.digest";

/// Why registering or verifying failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
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
    /// The manifest is invalid.
    #[error("{0}")]
    Manifest(String),
    /// A package-level problem (layout, digests).
    #[error(transparent)]
    Package(#[from] aip_package::PackageError),
    /// The module failed verification: which check, and what did not match.
    #[error("verification failed: {0}")]
    Verify(VerifyFailure),
}

impl RegisterError {
    pub(crate) fn io(
        action: &'static str,
        path: &std::path::Path,
        source: std::io::Error,
    ) -> RegisterError {
        RegisterError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}
