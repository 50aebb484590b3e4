//! `POST /v1/builder/adapter`: the platform's request shape, validated.

use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::problem::Problem;
use crate::upload::{self, SpecFiles, UploadLimits};

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
    /// A multi-file spec: relative path -> file text. Needs `entry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<BTreeMap<String, String>>,
    /// A multi-file spec as one archive (zip, tar or tar.gz), base64. Needs `entry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// With `files` or `archive`: the path of the spec's entry document
    /// (or, for protobuf, the .proto file or folder to compile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// Refuse every spec defect the service would otherwise repair with a
    /// warning (dangling schema `$ref`, repeated operationId, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// Where a job's uploaded files live, inside its folder.
pub const FILES_DIR: &str = "files";

/// Where the spec comes from.
#[derive(Debug, Clone)]
pub enum SpecInput {
    /// Sent inline.
    Inline(Vec<u8>),
    /// To be fetched from this URL (SSRF-guarded).
    Source(String),
    /// Several files, checked, to be written under the job's `files/`.
    Files(SpecFiles),
}

/// A validated request: what a job needs.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The request as sent (stored with the job, without the spec).
    pub request: AdapterRequest,
    /// What the job builds, every default decided.
    pub job: crate::job_spec::JobSpec,
    /// The spec: inline bytes, or a URL still to fetch.
    pub spec: SpecInput,
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
        max_operations: usize,
    ) -> Result<Accepted, Problem> {
        if !aip_ir::is_valid_module_name(&self.name) {
            return Err(Problem::invalid(format!(
                "name {:?} is not a module name (lowercase letters, digits and -, starting with a letter, at most 63)",
                self.name
            )));
        }
        let version = aip_register::check_version(self.version.as_deref().unwrap_or("0.1.0"))
            .map_err(Problem::invalid)?;
        self.resources().check().map_err(Problem::invalid)?;
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
        let spec = self.spec_input(max_operations)?;
        // Stored normalised: defaults made explicit, the spec kept beside it.
        let mut request = self;
        request.spec = None;
        request.files = None;
        request.archive = None;
        request.entry = request
            .entry
            .as_deref()
            .and_then(|e| upload::checked_path(e, "entry").ok())
            .map(|p| p.to_string_lossy().into_owned());
        request.target = Some(target);
        request.version = Some(version);
        request.signing = Some(Signing {
            cosign_key_ref: key_ref,
        });
        let job = crate::job_spec::JobSpec::of(&request);
        Ok(Accepted { request, job, spec })
    }

    /// The resources to write into the manifest, defaults filled in.
    pub fn resources(&self) -> aip_register::Resources {
        let requested = self.resources.as_ref();
        aip_register::Resources {
            cpu: requested
                .and_then(|r| r.cpu.clone())
                .unwrap_or_else(|| "250m".into()),
            memory: requested
                .and_then(|r| r.memory.clone())
                .unwrap_or_else(|| "128Mi".into()),
        }
    }

    /// Exactly one way of sending the spec, checked.
    fn spec_input(&self, max_operations: usize) -> Result<SpecInput, Problem> {
        let given: Vec<&str> = [
            ("spec", self.spec.is_some()),
            ("source", self.source.is_some()),
            ("files", self.files.is_some()),
            ("archive", self.archive.is_some()),
        ]
        .iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| *name)
        .collect();
        match given.as_slice() {
            [] => {
                return Err(Problem::invalid(
                    "give the spec: `spec` (inline), `source` (URL), or `files`/`archive` with `entry`",
                ));
            }
            [_] => {}
            several => {
                return Err(Problem::invalid(format!(
                    "give the spec one way only, not {}",
                    several
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                )));
            }
        }
        let multi_file = self.files.is_some() || self.archive.is_some();
        if self.entry.is_some() != multi_file {
            return Err(Problem::invalid(if multi_file {
                "`entry` names the spec's entry file among `files`/`archive`; it is required with them"
            } else {
                "`entry` goes with `files` or `archive` only"
            }));
        }
        let spec = match (&self.spec, &self.source, &self.files, &self.archive) {
            (_, Some(url), _, _) => SpecInput::Source(url.clone()),
            (Some(serde_json::Value::String(text)), ..) => {
                SpecInput::Inline(text.clone().into_bytes())
            }
            (Some(value @ serde_json::Value::Object(_)), ..) => {
                // Counted on the value already parsed, before it is written
                // and parsed again: a huge spec is refused in the time it
                // took to arrive.
                let count = aip_ingest::inline_operation_count(value);
                if count > max_operations {
                    return Err(Problem::from_ingest(
                        &aip_ingest::IngestError::TooManyOperations {
                            location: "spec".into(),
                            count,
                            limit: max_operations,
                        },
                    ));
                }
                SpecInput::Inline(serde_json::to_vec(value).unwrap_or_default())
            }
            (Some(_), ..) => {
                return Err(Problem::invalid(
                    "`spec` must be the spec's text or its JSON object",
                ));
            }
            (None, None, Some(files), _) => {
                SpecInput::Files(upload::from_map(files, UploadLimits::default())?)
            }
            (None, None, None, Some(archive)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(archive.trim())
                    .map_err(|e| Problem::invalid(format!("archive: not base64: {e}")))?;
                SpecInput::Files(upload::from_archive(&bytes, UploadLimits::default())?)
            }
            (None, None, None, None) => unreachable_spec(),
        };
        if matches!(&spec, SpecInput::Inline(bytes) if bytes.is_empty()) {
            return Err(Problem::invalid("`spec` is empty"));
        }
        if let (SpecInput::Files(files), Some(entry)) = (&spec, &self.entry) {
            let entry = upload::checked_path(entry, "entry")?;
            let is_folder = files.keys().any(|p| p.starts_with(&entry) && p != &entry);
            if !files.contains_key(&entry) && !is_folder {
                return Err(Problem::invalid(format!(
                    "entry {:?} is not one of the files sent",
                    entry.display().to_string()
                )));
            }
        }
        Ok(spec)
    }
}

/// The one combination `spec_input` has already refused.
fn unreachable_spec() -> SpecInput {
    SpecInput::Inline(Vec::new())
}
