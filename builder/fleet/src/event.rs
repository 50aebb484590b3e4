//! The `com.aip.module.certified.v1` CloudEvent.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Checks an event against [`crate::EVENT_SCHEMA`]; the error names each
/// mismatch with its JSON pointer.
pub fn validate_event(value: &Value) -> Result<(), String> {
    static VALIDATOR: std::sync::OnceLock<Result<jsonschema::Validator, String>> =
        std::sync::OnceLock::new();
    let validator = VALIDATOR
        .get_or_init(|| {
            let schema: Value =
                serde_json::from_str(crate::EVENT_SCHEMA).map_err(|e| e.to_string())?;
            jsonschema::validator_for(&schema).map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| format!("event schema: {e}"))?;
    let problems: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the event does not match its schema: {}",
            problems.join("; ")
        ))
    }
}

/// A CloudEvents 1.0 envelope (structured JSON mode) around
/// [`CertifiedData`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertifiedEvent {
    /// `1.0`.
    pub specversion: String,
    /// Unique per module bundle: `<moduleId>@<version>/<digest>`, so a
    /// republished identical module is the same event.
    pub id: String,
    /// `/aip-builder/tenants/<tenant>`.
    pub source: String,
    /// [`crate::EVENT_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// `<moduleId>@<version>`.
    pub subject: String,
    /// RFC 3339.
    pub time: String,
    /// `application/json`.
    pub datacontenttype: String,
    /// The event data.
    pub data: CertifiedData,
}

/// What was certified and where its bytes are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertifiedData {
    /// The module name.
    pub module_id: String,
    /// Its version (semver).
    pub version: String,
    /// `wasm` or `grpc`.
    pub target: String,
    /// The bundle.
    pub artifact: ArtifactRef,
    /// How it was made.
    pub provenance: Provenance,
    /// RFC 3339, when it was certified (registered and signed).
    pub issued_at: String,
}

/// Where the module bundle is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactRef {
    /// `nats-object`.
    pub store: String,
    /// The Object Store bucket.
    pub bucket: String,
    /// `<name>/<version>.tar`.
    pub object: String,
    /// [`crate::BUNDLE_MEDIA_TYPE`].
    pub content_type: String,
    /// Its size.
    pub size_bytes: u64,
    /// `sha256:<hex>` of the bundle.
    pub digest: String,
}

/// How the module was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// `sha256:<hex>` of the spec it was built from.
    pub spec_digest: String,
    /// The aip-builder version that built it.
    pub builder_version: String,
}
