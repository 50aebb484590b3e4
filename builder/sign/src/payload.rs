//! cosign's "simple signing" payload.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::SignError;

/// `{"critical": {...}, "optional": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimpleSigning {
    /// What the signature is about.
    pub critical: Critical,
    /// Extra signed claims (cosign's `-a key=value`).
    pub optional: Option<serde_json::Map<String, Value>>,
}

/// The critical section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Critical {
    /// The image reference.
    pub identity: Identity,
    /// The manifest digest.
    pub image: Image,
    /// Always `cosign container image signature`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `critical.identity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// Repository the image lives in.
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// `sha256:<hex>` of the signed manifest.
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

impl SimpleSigning {
    /// A payload for the manifest `digest` in `reference`.
    pub fn new(
        reference: &str,
        digest: &str,
        optional: serde_json::Map<String, Value>,
    ) -> SimpleSigning {
        SimpleSigning {
            critical: Critical {
                identity: Identity {
                    docker_reference: reference.to_string(),
                },
                image: Image {
                    docker_manifest_digest: digest.to_string(),
                },
                kind: "cosign container image signature".into(),
            },
            optional: if optional.is_empty() {
                None
            } else {
                Some(optional)
            },
        }
    }

    /// The payload bytes (compact JSON, fields in a fixed order).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses payload bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<SimpleSigning, SignError> {
        let payload: SimpleSigning =
            serde_json::from_slice(bytes).map_err(|e| SignError::Payload(e.to_string()))?;
        if payload.critical.kind != "cosign container image signature" {
            return Err(SignError::Payload(format!(
                "unexpected type {:?}",
                payload.critical.kind
            )));
        }
        Ok(payload)
    }

    /// An optional claim as a string.
    pub fn optional_str(&self, key: &str) -> Option<&str> {
        self.optional.as_ref()?.get(key)?.as_str()
    }
}
