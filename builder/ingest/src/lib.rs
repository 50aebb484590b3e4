//! Spec ingest: reads an OpenAPI 3.0/3.1 or Swagger 2.0 document (JSON or
//! YAML, from a file, stdin or a URL), resolves its `$ref`s and lowers it
//! into the [`aip_ir::Api`] every renderer reads; protobuf input (`.proto`
//! files or folders compiled with protox, a `FileDescriptorSet`, or a live
//! server's gRPC reflection) lowers into the same IR (`proto/`).
//!
//! Specs are untrusted input. Sizes, nesting, YAML alias expansion, the
//! number of referenced documents and operations, and `$ref` chains are all
//! bounded; external references never leave the reference root
//! ([`RefRoot`]); every error names the document and the line/column or
//! JSON pointer at fault and offers a typed hint ([`IngestError::hint`]).
//! Defects of real specs that are safe to repair are repaired with a
//! warning, or refused with [`IngestOptions::strict`].

mod docs;
mod error;
mod lower;
mod openapi3;
mod parse;
mod pointer;
mod proto;
mod repairs;
mod root;
mod schema;
mod source;
mod swagger2;

use std::time::Duration;

use aip_ir::{Api, SourceInfo, SpecFormat};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use error::IngestError;
pub use lower::inline_operation_count;
pub use parse::parse_document;
pub use root::RefRoot;
pub use source::SpecSource;

/// Bounds on what a spec may make the ingest do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest document read, in bytes.
    pub max_spec_bytes: u64,
    /// Most documents (root plus external files) one spec may span.
    pub max_documents: usize,
    /// Timeout for fetching a URL.
    pub fetch_timeout: Duration,
    /// Most operations one spec may define. An adapter's compile time and
    /// rustc's memory grow with it; the default passes the largest real
    /// spec we know (Kubernetes, 1,123 operations) with room to spare.
    pub max_operations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_spec_bytes: 16 * 1024 * 1024,
            max_documents: 256,
            fetch_timeout: Duration::from_secs(30),
            max_operations: 5_000,
        }
    }
}

/// What to ingest and how.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Module name; derived from `info.title` when `None`.
    pub name: Option<String>,
    /// Resource bounds.
    pub limits: Limits,
    /// Refuse every defect the default mode repairs (a dangling schema
    /// `$ref`, a repeated `operationId`, ...) instead of repairing it with a
    /// warning. Limits (size, depth, aliases, cycles) are errors either way.
    pub strict: bool,
    /// The folder external `$ref`s must stay in; found from the spec's
    /// path when `None` (see [`RefRoot`]).
    pub ref_root: Option<RefRoot>,
    /// Import roots for `.proto` input (protoc's `-I`); default: the
    /// folder of the proto file, or the folder given.
    pub proto_paths: Vec<std::path::PathBuf>,
}

/// The result of ingest: the IR, whose `source.warnings` say what was
/// repaired.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// The lowered API.
    pub api: Api,
}

impl Ingested {
    /// What the ingest repaired or could not adapt, in the order met.
    pub fn warnings(&self) -> &[aip_ir::SpecWarning] {
        &self.api.source.warnings
    }
}

/// A spec read into memory, before lowering.
pub struct RawSpec {
    /// Where it came from.
    pub source: SpecSource,
    /// The root document's bytes.
    pub bytes: Vec<u8>,
}

impl RawSpec {
    /// Reads the root document from its source under the size limit.
    pub fn read(source: SpecSource, limits: &Limits) -> Result<RawSpec, IngestError> {
        let bytes = match &source {
            SpecSource::File(path) => source::read_file(path, limits.max_spec_bytes)?,
            SpecSource::Stdin => {
                source::read_limited(std::io::stdin().lock(), "<stdin>", limits.max_spec_bytes)?
            }
            SpecSource::Url(url) => {
                source::fetch_url(url, limits.max_spec_bytes, limits.fetch_timeout)?
            }
        };
        Ok(RawSpec { source, bytes })
    }

    /// `sha256:<hex>` of the root document.
    pub fn digest(&self) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(&self.bytes)))
    }
}

/// Reads and lowers a spec in one step: OpenAPI/Swagger documents, or
/// protobuf input (`.proto` files, a folder of them, a descriptor set).
pub fn ingest(source: SpecSource, opts: &IngestOptions) -> Result<Ingested, IngestError> {
    if let SpecSource::File(path) = &source
        && proto::is_protobuf(path)
    {
        return proto::ingest_protobuf(path, opts);
    }
    if let SpecSource::Url(url) = &source
        && (url.starts_with("grpc://") || url.starts_with("grpcs://"))
    {
        return proto::ingest_reflection(url, opts);
    }
    let raw = RawSpec::read(source, &opts.limits)?;
    lower(&raw, opts)
}

/// Lowers a spec that has been read.
pub fn lower(raw: &RawSpec, opts: &IngestOptions) -> Result<Ingested, IngestError> {
    let location = raw.source.location();
    let value = parse::parse_document(&raw.bytes, &location)?;
    let (format, dialect) = detect_format(&value, &location)?;
    let name = module_name(
        opts,
        value
            .pointer("/info/title")
            .and_then(Value::as_str)
            .unwrap_or(""),
    )?;
    let path = match &raw.source {
        SpecSource::File(p) => Some(p.clone()),
        _ => None,
    };
    let docs = docs::DocSet::new(
        location.clone(),
        path,
        value,
        opts.limits,
        opts.ref_root.as_ref(),
    )?;
    let api = lower::lower_api(
        docs,
        dialect,
        lower::LowerOptions {
            name,
            strict: opts.strict,
            max_operations: opts.limits.max_operations,
            source: SourceInfo {
                format,
                digest: raw.digest(),
                location,
                warnings: Vec::new(),
            },
        },
    )?;
    Ok(Ingested { api })
}

fn detect_format(
    value: &Value,
    location: &str,
) -> Result<(SpecFormat, schema::Dialect), IngestError> {
    if !value.is_object() {
        return Err(IngestError::NotOpenApi {
            location: location.to_string(),
            reason: "the document is not a JSON/YAML object".into(),
        });
    }
    if let Some(v) = value.get("openapi") {
        let version = v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        return if version.starts_with("3.0.") || version == "3.0" {
            Ok((SpecFormat::OpenApi30, schema::Dialect::OpenApi30))
        } else if version.starts_with("3.1.") || version == "3.1" {
            Ok((SpecFormat::OpenApi31, schema::Dialect::OpenApi31))
        } else {
            Err(IngestError::UnsupportedVersion {
                location: location.to_string(),
                version,
            })
        };
    }
    if let Some(v) = value.get("swagger") {
        let version = v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        return if version == "2.0" {
            Ok((SpecFormat::Swagger2, schema::Dialect::Swagger2))
        } else {
            Err(IngestError::UnsupportedVersion {
                location: location.to_string(),
                version,
            })
        };
    }
    Err(IngestError::NotOpenApi {
        location: location.to_string(),
        reason: "no top-level `openapi` or `swagger` version field".into(),
    })
}

/// The module name: the user's, validated, or one derived from `fallback`.
pub(crate) fn module_name(opts: &IngestOptions, fallback: &str) -> Result<String, IngestError> {
    match &opts.name {
        Some(name) if aip_ir::is_valid_module_name(name) => Ok(name.clone()),
        Some(name) => Err(IngestError::InvalidName { name: name.clone() }),
        None => Ok(derive_name(fallback)),
    }
}

/// A module name from a title: `"OpenAI API"` -> `openai-api`.
pub fn derive_name(title: &str) -> String {
    let mut name = String::new();
    for ch in title.chars() {
        if ch.is_ascii_alphanumeric() {
            name.push(ch.to_ascii_lowercase());
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let mut name = name.trim_matches('-').to_string();
    if name.is_empty() {
        name = "adapter".into();
    }
    if !name.as_bytes()[0].is_ascii_lowercase() {
        name.insert_str(0, "api-");
    }
    name.truncate(63);
    name.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_titles() {
        assert_eq!(derive_name("OpenAI API"), "openai-api");
        assert_eq!(derive_name("  "), "adapter");
        assert_eq!(derive_name("3scale Ünïcode!"), "api-3scale-n-code");
        assert!(aip_ir::is_valid_module_name(&derive_name(&"x".repeat(200))));
    }
}
