//! `manifest.yaml`: the AIP module manifest, its schema and its checks.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::RegisterError;

/// The JSON Schema every manifest is validated against.
pub const MANIFEST_SCHEMA: &str = include_str!("../schema/aip-module-manifest.schema.json");

/// The module manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModuleManifest {
    /// `aip.dev/v1`.
    pub api_version: String,
    /// `Module`.
    pub kind: String,
    /// Identity and provenance.
    pub metadata: Metadata,
    /// How to run it.
    pub runtime: Runtime,
    /// What it may use.
    pub resources: Resources,
    /// What it may reach.
    pub permissions: Permissions,
    /// What the platform routes to it.
    pub intents: Vec<Intent>,
    /// The artifact in `oci/`.
    pub artifact: Artifact,
    /// The SBOM.
    pub sbom: SbomRef,
    /// The contract the adapter was built from (modules built before
    /// contracts were recorded have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractRef>,
    /// The signature.
    pub signature: SignatureRef,
}

/// `metadata`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// Module name.
    pub name: String,
    /// Module version (semver).
    pub version: String,
    /// One line about the module.
    pub description: String,
    /// The vendor API.
    pub vendor: Vendor,
    /// The spec it was built from.
    pub source: Source,
    /// The builder that built it.
    pub builder: Builder,
}

/// `metadata.vendor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Vendor {
    /// API title.
    pub title: String,
    /// The vendor's API version.
    pub api_version: String,
}

/// `metadata.source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    /// Spec dialect.
    pub format: String,
    /// `sha256:` of the spec.
    pub digest: String,
    /// Where it was read from.
    pub location: String,
    /// What aip-builder repaired in the spec to build it (a dangling `$ref`
    /// read as "any value", a repeated operationId renamed, ...): each with
    /// the file and JSON pointer. Absent when the spec was taken as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repairs: Vec<aip_ir::SpecWarning>,
}

/// `metadata.builder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Builder {
    /// `aip-builder`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// `runtime`: how the platform runs the module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Runtime {
    /// `wasm` (a component in a WASI host) or `grpc` (a container image
    /// serving `aip.adapter.v1.Adapter`).
    #[serde(rename = "type")]
    pub kind: String,
    /// `wasm`: whether it needs WASI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasi: Option<bool>,
    /// `wasm`: the WIT world.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world: Option<String>,
    /// `grpc`: the image manifest digest in `oci/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `grpc`: the container port the service listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `grpc`: the gRPC service it implements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl Runtime {
    /// `runtime.type` of WASM components.
    pub const WASM: &'static str = "wasm";
    /// `runtime.type` of gRPC microservice images.
    pub const GRPC: &'static str = "grpc";
}

/// `resources`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// CPU, Kubernetes notation (`250m`).
    pub cpu: String,
    /// Memory, Kubernetes notation (`128Mi`).
    pub memory: String,
}

impl Resources {
    /// The memory limit in bytes, if the value parses.
    pub fn memory_bytes(&self) -> Option<usize> {
        let (num, unit) = self
            .memory
            .split_at(self.memory.find(|c: char| !c.is_ascii_digit())?);
        let n: usize = num.parse().ok()?;
        let mult = match unit {
            "Ki" => 1 << 10,
            "Mi" => 1 << 20,
            "Gi" => 1 << 30,
            _ => return None,
        };
        n.checked_mul(mult)
    }

    /// Checks both values against the manifest's grammar (`cpu`: cores or
    /// millicores like `2`, `0.5`, `250m`; `memory`: `<n>Ki|Mi|Gi`), so a
    /// request is refused before anything is built rather than after.
    pub fn check(&self) -> Result<(), String> {
        let cpu_ok = {
            let number = self.cpu.strip_suffix('m').unwrap_or(&self.cpu);
            let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
            self.cpu.len() <= 32
                && !whole.is_empty()
                && !fraction.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && fraction.bytes().all(|b| b.is_ascii_digit())
        };
        if !cpu_ok {
            return Err(format!(
                "resources.cpu {:?} is not a CPU quantity (cores or millicores: 2, 0.5, 250m)",
                self.cpu
            ));
        }
        if self.memory.len() > 32 || self.memory_bytes().is_none() {
            return Err(format!(
                "resources.memory {:?} is not a memory quantity (a number with Ki, Mi or Gi: 128Mi)",
                self.memory
            ));
        }
        Ok(())
    }
}

/// The longest module version: it becomes an OCI tag (`+` written `_`),
/// which holds at most 128 characters.
pub const MAX_VERSION_LEN: usize = 128;

/// Checks a module version: semver, at most [`MAX_VERSION_LEN`] characters.
/// Returns it normalised.
pub fn check_version(version: &str) -> Result<String, String> {
    if version.len() > MAX_VERSION_LEN {
        return Err(format!(
            "version is {} characters long; at most {MAX_VERSION_LEN} (it becomes a registry tag)",
            version.len()
        ));
    }
    semver::Version::parse(version)
        .map(|v| v.to_string())
        .map_err(|e| format!("version {version:?} is not semver ({e}); use e.g. 1.2.3"))
}

/// `permissions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Permissions {
    /// Always `none`.
    pub fs: String,
    /// Hosts (`host` or `host:port`) it may call.
    pub net: Vec<String>,
}

/// One entry of `intents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Intent {
    /// Intent name.
    pub name: String,
    /// Operation id.
    pub operation: String,
    /// HTTP method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// Summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// `artifact`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Artifact {
    /// `oci`: the layout in `oci/`.
    pub layout: String,
    /// Tag in the layout.
    pub tag: String,
    /// Manifest media type.
    pub media_type: String,
    /// Manifest digest.
    pub digest: String,
    /// The component layer.
    pub layer: Layer,
}

/// `artifact.layer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Layer {
    /// `application/wasm`.
    pub media_type: String,
    /// Layer digest.
    pub digest: String,
    /// Layer size in bytes.
    pub size: u64,
}

/// `sbom`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SbomRef {
    /// `sbom.cdx.json`.
    pub path: String,
    /// `CycloneDX`.
    pub format: String,
    /// `1.5`.
    pub spec_version: String,
    /// Digest of the SBOM file.
    pub digest: String,
    /// Digest of the referrer manifest in the layout.
    pub referrer: String,
}

/// `contract`: the IR the adapter was built from, as JSON, attached to
/// the artifact as a referrer in `oci/` (what `aip-builder diff` compares
/// when given a module).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContractRef {
    /// Digest of the contract JSON (the referrer's layer).
    pub digest: String,
    /// Digest of the referrer manifest in the layout.
    pub referrer: String,
}

/// `signature`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignatureRef {
    /// `cosign`.
    pub format: String,
    /// `sha256-<hex>.sig`.
    pub tag: String,
    /// `ecdsa-p256-sha256`.
    pub algorithm: String,
}

impl ModuleManifest {
    /// The manifest as YAML, after validating it against the schema.
    pub fn to_yaml(&self) -> Result<Vec<u8>, RegisterError> {
        let value =
            serde_json::to_value(self).map_err(|e| RegisterError::Manifest(e.to_string()))?;
        validate(&value)?;
        let yaml =
            serde_yaml_ng::to_string(self).map_err(|e| RegisterError::Manifest(e.to_string()))?;
        Ok(format!("# AIP module manifest, written by aip-builder. Signed: editing it fails verification.\n{yaml}").into_bytes())
    }

    /// Parses and validates a manifest.
    pub fn from_yaml(bytes: &[u8]) -> Result<ModuleManifest, RegisterError> {
        let value: Value = serde_yaml_ng::from_slice(bytes)
            .map_err(|e| RegisterError::Manifest(format!("manifest.yaml: {e}")))?;
        validate(&value)?;
        serde_json::from_value(value)
            .map_err(|e| RegisterError::Manifest(format!("manifest.yaml: {e}")))
    }
}

/// Validates a manifest value against [`MANIFEST_SCHEMA`].
pub fn validate(value: &Value) -> Result<(), RegisterError> {
    // Compiling the validator (which checks the schema against the 2020-12
    // meta-schema) costs ~80 ms; do it once per process.
    static VALIDATOR: std::sync::OnceLock<Result<jsonschema::Validator, String>> =
        std::sync::OnceLock::new();
    let validator = VALIDATOR
        .get_or_init(|| {
            let schema: Value = serde_json::from_str(MANIFEST_SCHEMA).map_err(|e| e.to_string())?;
            jsonschema::validator_for(&schema).map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| RegisterError::Manifest(format!("schema: {e}")))?;
    let problems: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RegisterError::Manifest(format!(
            "manifest does not match its schema: {}",
            problems.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_parses() {
        let r = |m: &str| {
            Resources {
                cpu: "1".into(),
                memory: m.into(),
            }
            .memory_bytes()
        };
        assert_eq!(r("128Mi"), Some(128 << 20));
        assert_eq!(r("1Gi"), Some(1 << 30));
        assert_eq!(r("12"), None);
        assert_eq!(r("lots"), None);
    }

    #[test]
    fn schema_rejects_unknown_fields() {
        let value = serde_json::json!({"apiVersion": "aip.dev/v1", "kind": "Module", "extra": 1});
        assert!(validate(&value).is_err());
    }
}
