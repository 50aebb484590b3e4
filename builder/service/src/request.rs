//! `POST /v1/builder/adapter`: the platform's request shape, validated.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::problem::Problem;

/// The vendor's API kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// OpenAPI / Swagger.
    Rest,
    /// Protobuf.
    Grpc,
}

/// What to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetName {
    /// A WASM component.
    Wasm,
    /// A gRPC microservice image.
    Grpc,
}

/// `signing`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// Which configured signing key (a name the config allows the tenant).
    pub cosign_key_ref: String,
}

/// `resources`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcesRequest {
    /// CPU request (Kubernetes notation).
    #[serde(default)]
    pub cpu: Option<String>,
    /// Memory limit.
    #[serde(default)]
    pub memory: Option<String>,
}

/// The request body.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdapterRequest {
    /// Module name.
    pub name: String,
    /// `rest` or `grpc`.
    pub protocol: Protocol,
    /// Where to fetch the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The spec inline: a string (JSON, YAML or .proto text) or a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub spec: Option<serde_json::Value>,
    /// Which signing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<Signing>,
    /// `wasm` (default for rest) or `grpc` (default, and only choice, for grpc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetName>,
    /// Module version (semver; default 0.1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Operation -> intent overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intents: Option<BTreeMap<String, String>>,
    /// Resources written into the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesRequest>,
    /// Registry repository to push to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<String>,
}

/// Where the spec comes from.
#[derive(Debug, Clone)]
pub enum SpecInput {
    /// Sent inline.
    Inline(Vec<u8>),
    /// To be fetched from this URL (SSRF-guarded).
    Source(String),
}

/// A validated request: what a job needs.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The request as sent (stored with the job, without the spec).
    pub request: AdapterRequest,
    /// The spec: inline bytes, or a URL still to fetch.
    pub spec: SpecInput,
    /// File name the spec is stored under (its extension tells ingest the format).
    pub spec_file: &'static str,
}

impl AdapterRequest {
    /// Parses a body; errors name the field or the line and column.
    pub fn from_body(body: &[u8]) -> Result<AdapterRequest, Problem> {
        serde_json::from_slice(body).map_err(|e| Problem::bad_request(format!("request body: {e}")))
    }

    /// Checks what can be checked before a job exists.
    pub fn accept(
        self,
        allowed_key_refs: &[String],
        allowed_registries: &[String],
    ) -> Result<Accepted, Problem> {
        if !aip_ir::is_valid_module_name(&self.name) {
            return Err(Problem::invalid(format!(
                "name {:?} is not a module name (lowercase letters, digits and -, starting with a letter, at most 63)",
                self.name
            )));
        }
        let version = self.version.clone().unwrap_or_else(|| "0.1.0".into());
        if semver::Version::parse(&version).is_err() {
            return Err(Problem::invalid(format!(
                "version {version:?} is not semver (e.g. 1.2.3)"
            )));
        }
        let target = match (self.protocol, self.target) {
            (Protocol::Grpc, Some(TargetName::Wasm)) => {
                return Err(Problem::not_supported(
                    "target wasm for grpc vendors (components cannot speak gRPC: wasi:http exposes no trailers); use target grpc",
                ));
            }
            (Protocol::Rest, t) => t.unwrap_or(TargetName::Wasm),
            (Protocol::Grpc, _) => TargetName::Grpc,
        };
        let key_ref = self
            .signing
            .as_ref()
            .map_or(crate::DEFAULT_KEY_REF, |s| s.cosign_key_ref.as_str())
            .to_string();
        if !allowed_key_refs.contains(&key_ref) {
            return Err(Problem::forbidden(format!(
                "signing key {key_ref:?} is not one this tenant may use{}",
                if allowed_key_refs.is_empty() {
                    " (it may use none: see the service's signing_keys)".to_string()
                } else {
                    format!(" (it may use: {})", allowed_key_refs.join(", "))
                }
            )));
        }
        for (operation, intent) in self.intents.iter().flatten() {
            if !aip_pipeline::is_valid_intent(intent) {
                return Err(Problem::invalid(format!(
                    "intents.{operation}: {intent:?} is not an intent name (lowercase letters and digits in words joined by - or .)"
                )));
            }
        }
        if let Some(push) = &self.push {
            let dest = aip_distribute::ModuleRef::parse(push)
                .map_err(|e| Problem::invalid(format!("push: {e}")))?;
            if !matches!(
                dest.selector,
                aip_distribute::Selector::Latest | aip_distribute::Selector::Tag(_)
            ) {
                return Err(Problem::invalid(format!(
                    "push: {push:?} names a version or digest; give REGISTRY/REPO or REGISTRY/REPO:TAG (the version comes from `version`)"
                )));
            }
            if !allowed_registries.iter().any(|r| r == &dest.registry) {
                return Err(Problem::forbidden(format!(
                    "push: registry {} is not one this service pushes to (its `registries` setting)",
                    dest.registry
                )));
            }
        }
        let spec = match (&self.spec, &self.source) {
            (Some(_), Some(_)) => {
                return Err(Problem::invalid(
                    "give either `spec` (inline) or `source` (URL), not both",
                ));
            }
            (None, None) => {
                return Err(Problem::invalid(
                    "give the spec: `spec` (inline) or `source` (URL)",
                ));
            }
            (None, Some(url)) => SpecInput::Source(url.clone()),
            (Some(serde_json::Value::String(text)), None) => {
                SpecInput::Inline(text.clone().into_bytes())
            }
            (Some(value @ serde_json::Value::Object(_)), None) => {
                SpecInput::Inline(serde_json::to_vec(value).unwrap_or_default())
            }
            (Some(_), None) => {
                return Err(Problem::invalid(
                    "`spec` must be the spec's text or its JSON object",
                ));
            }
        };
        if matches!(&spec, SpecInput::Inline(bytes) if bytes.is_empty()) {
            return Err(Problem::invalid("`spec` is empty"));
        }
        let spec_file = match self.protocol {
            Protocol::Grpc => "spec.proto",
            Protocol::Rest => "spec.yaml",
        };
        // Stored normalised: defaults made explicit, the spec kept beside it.
        let mut request = self;
        request.spec = None;
        request.target = Some(target);
        request.version = Some(version);
        request.signing = Some(Signing {
            cosign_key_ref: key_ref,
        });
        Ok(Accepted {
            request,
            spec,
            spec_file,
        })
    }
}
