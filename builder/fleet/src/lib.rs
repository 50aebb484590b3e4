//! Certified-module events, the platform's module auto-discovery contract.
//!
//! 1. **Publish** (`publish.rs`, used by the build service when
//!    `AIP_NATS_URL` is set): a registered module folder is packed into one
//!    deterministic tar (`bundle.rs`), put into the JetStream Object Store
//!    bucket [`BUCKET`] as `<name>/<version>.tar`, and announced as a
//!    CloudEvents 1.0 JSON event ([`CertifiedEvent`], type [`EVENT_TYPE`])
//!    on [`SUBJECT`].
//! 2. **Discover** (`discover.rs`, `aip-builder discover`): a durable
//!    JetStream consumer checks each event against the schema, fetches the
//!    announced object, and refuses it unless
//!    its sha256 matches the event and its signature verifies with the
//!    given key (recorded, acknowledged as terminal: never redelivered),
//!    stages it content-addressed, installs it into `modules/` atomically,
//!    then acknowledges. Redelivery is harmless: an installed digest is
//!    acknowledged without work.
//!
//! The event's JSON Schema is [`EVENT_SCHEMA`]
//! (`schema/com.aip.module.certified.v1.schema.json`).

mod bundle;
mod discover;
mod event;
mod publish;

pub use bundle::{BUNDLE_MEDIA_TYPE, pack, unpack};
pub use discover::{DiscoverOptions, DiscoverReport, Outcome, discover};
pub use event::{ArtifactRef, CertifiedData, CertifiedEvent, Provenance, validate_event};
pub use publish::Announcer;

/// The Object Store bucket modules are put into.
pub const BUCKET: &str = "aip-certified-modules";
/// The subject events are published on.
pub const SUBJECT: &str = "aip.fleet.module.certified.v1";
/// The CloudEvents `type`.
pub const EVENT_TYPE: &str = "com.aip.module.certified.v1";
/// The stream created for [`SUBJECT`] when none covers it yet.
pub const STREAM: &str = "AIP_FLEET";
/// The JSON Schema of [`CertifiedEvent`].
pub const EVENT_SCHEMA: &str = include_str!("../schema/com.aip.module.certified.v1.schema.json");

/// What went wrong publishing or discovering.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// NATS could not be reached or refused a request.
    #[error("NATS {url}: {action}: {reason}")]
    Nats {
        /// The server.
        url: String,
        /// What was being done.
        action: String,
        /// Why it failed.
        reason: String,
    },
    /// A module folder or bundle is unusable.
    #[error("{0}")]
    Bundle(String),
    /// Reading or writing a module failed.
    #[error(transparent)]
    Register(#[from] aip_register::RegisterError),
    /// A local file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl FleetError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        FleetError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}
