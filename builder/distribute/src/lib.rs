//! Distribute: modules travel through OCI registries.
//!
//! A module in a registry is what its folder under `modules/` holds, laid
//! out the way the standard tools expect:
//!
//! 1. the artifact (CNCF Wasm artifact or service image), tagged with the
//!    module's semver version and, for the newest stable one, `latest`;
//! 2. the cosign signature, tagged `sha256-<hex>.sig`, where cosign looks;
//! 3. the CycloneDX SBOM and `manifest.yaml`, each an OCI 1.1 referrer of
//!    the artifact (`subject`), listed by the registry's referrers API or,
//!    where it has none, by the referrers tag schema index `sha256-<hex>`.
//!
//! [`push`] uploads a module folder (blobs the registry already has are not
//! sent again, so an interrupted push is finished by running it again);
//! [`fetch`] resolves a [`ModuleRef`] (semver, tag or digest) and pulls a
//! module into memory, digest-checked; [`install`] verifies it and registers
//! it under `modules/<name>/` in one step, or writes nothing; [`status`],
//! [`info`] and [`search`] read registries for `list`, `info` and `search`.
//! Every registry call goes through [`RegistryClient`], on `oci-client`,
//! with bounded retries.

mod auth;
mod catalogue;
mod client;
mod fetch;
mod info;
mod install;
mod layout_import;
mod push;
mod reference;
mod status;
mod version;

pub use auth::{Credentials, PASSWORD_VAR, USERNAME_VAR};
pub use catalogue::{CatalogEntry, catalogue};
pub use client::{ClientOptions, MAX_BLOB_BYTES, RegistryClient, RetryPolicy};
pub use fetch::{Fetched, SignatureState, fetch, resolve, signature_state};
pub use info::{ModuleInfo, SearchHit, VersionInfo, info, search};
pub use install::{InstallOptions, Installed, install, key_fingerprint};
pub use layout_import::read_layout_module;
pub use push::{MANIFEST_ARTIFACT_TYPE, PushEvent, PushOptions, PushReport, publish, push};
pub use reference::{ModuleRef, Selector, VersionReq};
pub use status::{LocalModule, Status, StatusRow, local_modules, status};
pub use version::{pick, tag_version, version_tag, versions};

/// Why a distribution step failed.
#[derive(Debug, thiserror::Error)]
pub enum DistributeError {
    /// A reference does not parse.
    #[error("bad module reference {reference:?}: {reason}")]
    Reference {
        /// What was given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Configuration (credentials, options) is wrong.
    #[error("{0}")]
    Config(String),
    /// The registry refused the credentials (or has none for anonymous use).
    #[error(
        "{registry} refused to {action} with {credentials} credentials\nhint: set AIP_REGISTRY_USERNAME and AIP_REGISTRY_PASSWORD, or log in with `docker login {registry}`"
    )]
    Unauthorized {
        /// The registry.
        registry: String,
        /// What was being done.
        action: String,
        /// Where the credentials came from (never the secret).
        credentials: String,
    },
    /// A registry call failed (after retries, where retrying made sense).
    #[error("cannot {action} at {registry}: {reason}")]
    Registry {
        /// The registry.
        registry: String,
        /// What was being done.
        action: String,
        /// Why.
        reason: String,
    },
    /// What was asked for is not there.
    #[error("{0}")]
    NotFound(String),
    /// Content in the registry or the module folder is malformed or
    /// inconsistent.
    #[error("{0}")]
    Invalid(String),
    /// Installation was refused (`--require-signed`); nothing was written.
    #[error("refused: {0}; nothing was installed")]
    Refused(String),
    /// Reading or writing the local module failed.
    #[error(transparent)]
    Register(#[from] aip_register::RegisterError),
    /// Reading the local layout failed.
    #[error(transparent)]
    Package(#[from] aip_package::PackageError),
}

impl DistributeError {
    /// Whether the user can fix this (bad input, refused, not found) as
    /// opposed to the registry or the machine failing.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, DistributeError::Registry { .. })
    }
}
