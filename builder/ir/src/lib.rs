//! The intermediate representation (IR) of a vendor API.
//!
//! Every ingest front end (Swagger 2.0, OpenAPI 3.0 and 3.1, and protobuf:
//! `.proto` files, descriptor sets, gRPC server reflection) lowers its input
//! into an [`Api`], and every renderer reads only an [`Api`]. The IR is
//! plain data: ordered (`Vec`, `BTreeMap`), serialisable, and free of any
//! reference back to the source document, so the same spec always gives the
//! same IR and the same generated sources.
//!
//! Schemas are JSON Schema (draft 2020-12 vocabulary) values. References
//! between them use `#/$defs/<name>` (written by [`def_ref`], read by
//! [`def_name`], nowhere else) and point into [`Api::schemas`]. What the
//! ingest repaired in the spec travels as [`SourceInfo::warnings`].

mod names;
mod percent;
mod schema;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use names::{intent_for, is_valid_module_name, words};
pub use percent::percent_decode;
pub use schema::{
    DEFS_PREFIX, MAX_REF_HOPS, def_name, def_ref, input_schema_root, output_schema_root,
    resolve_def, schema_closure,
};

/// One vendor API, ready to render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Api {
    /// Module name: lowercase ASCII letters, digits and `-`, starting with a letter.
    pub name: String,
    /// Human title from the spec (`info.title`).
    pub title: String,
    /// The vendor API's own version string (`info.version`).
    pub api_version: String,
    /// Long description, if any.
    pub description: Option<String>,
    /// Where the IR came from.
    pub source: SourceInfo,
    /// How the vendor is called.
    #[serde(default)]
    pub protocol: Protocol,
    /// Servers in spec order; the first is the default.
    pub servers: Vec<Server>,
    /// Security schemes by name.
    pub security_schemes: BTreeMap<String, SecurityScheme>,
    /// Operations in spec order (paths in document order, methods in a fixed order).
    pub operations: Vec<Operation>,
    /// Named schemas referenced as `#/$defs/<name>`.
    pub schemas: BTreeMap<String, Value>,
    /// gRPC APIs: the encoded `google.protobuf.FileDescriptorSet` of every
    /// file the services need (imports included, source info stripped), so
    /// a generated service can encode and decode vendor messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptor_set: Option<Vec<u8>>,
}

/// How a vendor API is called.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// HTTP requests described by OpenAPI / Swagger.
    #[default]
    Rest,
    /// gRPC methods described by protobuf.
    Grpc,
}

/// Provenance of an [`Api`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Which dialect the spec was written in.
    pub format: SpecFormat,
    /// `sha256:<hex>` of the root spec document's bytes.
    pub digest: String,
    /// File name (or URL) the spec was read from, as given by the user.
    pub location: String,
    /// What the ingest repaired in the spec, or could not adapt, in the
    /// order met. Empty for a spec taken as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<SpecWarning>,
}

/// Something in a spec that the ingest repaired (or an operation it could
/// not adapt), with exactly where: recorded in the module's manifest so its
/// consumers can see the spec was not taken as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecWarning {
    /// What kind of defect.
    pub kind: WarningKind,
    /// The document: a path relative to the reference root, a URL or `<stdin>`.
    pub file: String,
    /// JSON pointer into that document (empty for the whole document).
    pub pointer: String,
    /// What was wrong and what was done about it.
    pub message: String,
}

impl std::fmt::Display for SpecWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}: {}", self.file, self.pointer, self.message)
    }
}

/// The kinds of spec defect the ingest repairs or reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    /// A schema `$ref` that points at nothing, read as "any value".
    DanglingRef,
    /// An `operationId` used twice; the later operation got a suffix.
    DuplicateOperationId,
    /// A path template with an unbalanced brace, read with it closed.
    MalformedPathTemplate,
    /// A path parameter declared but absent from the path (or declared
    /// twice), dropped from the operation.
    PathParameterMismatch,
    /// A schema value of the wrong JSON type where a schema belongs,
    /// read as "any value".
    InvalidSchema,
}

impl WarningKind {
    /// Every kind, in documentation order.
    pub const ALL: [WarningKind; 5] = [
        WarningKind::DanglingRef,
        WarningKind::DuplicateOperationId,
        WarningKind::MalformedPathTemplate,
        WarningKind::PathParameterMismatch,
        WarningKind::InvalidSchema,
    ];

    /// The stable name used in manifests, JSON output and job events.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::DanglingRef => "dangling-ref",
            WarningKind::DuplicateOperationId => "duplicate-operation-id",
            WarningKind::MalformedPathTemplate => "malformed-path-template",
            WarningKind::PathParameterMismatch => "path-parameter-mismatch",
            WarningKind::InvalidSchema => "invalid-schema",
        }
    }
}

/// Spec dialects the ingest understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpecFormat {
    /// Swagger 2.0.
    #[serde(rename = "swagger-2.0")]
    Swagger2,
    /// OpenAPI 3.0.x.
    #[serde(rename = "openapi-3.0")]
    OpenApi30,
    /// OpenAPI 3.1.x.
    #[serde(rename = "openapi-3.1")]
    OpenApi31,
    /// Protocol Buffers (sources or a descriptor set).
    #[serde(rename = "protobuf")]
    Protobuf,
}

impl SpecFormat {
    /// The name used in manifests and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecFormat::Swagger2 => "swagger-2.0",
            SpecFormat::OpenApi30 => "openapi-3.0",
            SpecFormat::OpenApi31 => "openapi-3.1",
            SpecFormat::Protobuf => "protobuf",
        }
    }
}

/// A server the API is reachable at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// URL template, possibly with `{variable}` placeholders.
    pub url: String,
    /// Description from the spec.
    pub description: Option<String>,
    /// Template variables in spec order.
    pub variables: Vec<ServerVariable>,
}

/// A `{variable}` in a server URL template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerVariable {
    /// Variable name.
    pub name: String,
    /// Default value (required by OpenAPI).
    pub default: String,
    /// Allowed values, if restricted.
    pub allowed: Vec<String>,
    /// Description from the spec.
    pub description: Option<String>,
}

/// How a credential is presented to the vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SecurityScheme {
    /// An API key in a header, query parameter or cookie.
    ApiKey {
        /// Header, query parameter or cookie name.
        name: String,
        /// Where the key goes.
        location: ApiKeyLocation,
    },
    /// HTTP basic: the credential is `user:password`.
    Basic,
    /// HTTP bearer, OAuth2 or OpenID Connect: the credential is the token.
    Bearer {
        /// Which spec construct this came from (`http-bearer`, `oauth2`, `openid-connect`).
        origin: String,
    },
    /// A scheme the adapter cannot apply (e.g. mutual TLS, HTTP digest).
    Unsupported {
        /// What the spec declared.
        declared: String,
    },
}

/// Where an API key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiKeyLocation {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
    /// A cookie.
    Cookie,
}

/// Alternatives of required schemes: the call is authorised when every scheme
/// of any one alternative is supplied. An empty list means no security.
pub type SecurityRequirements = Vec<Vec<String>>;

/// One vendor operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Stable id: the spec's `operationId`, or one derived from method and path.
    pub id: String,
    /// True when [`Operation::id`] was derived rather than given by the spec.
    pub id_derived: bool,
    /// Intent name the platform routes to this operation.
    pub intent: String,
    /// HTTP method.
    pub method: HttpMethod,
    /// Path template relative to the server URL, e.g. `/users/{id}`.
    pub path: String,
    /// Short summary.
    pub summary: Option<String>,
    /// Long description.
    pub description: Option<String>,
    /// Tags in spec order.
    pub tags: Vec<String>,
    /// Whether the spec marks the operation deprecated.
    pub deprecated: bool,
    /// Path-level and operation-level parameters, merged, in spec order.
    pub parameters: Vec<Parameter>,
    /// The request body, if the operation takes one.
    pub request_body: Option<RequestBody>,
    /// Responses in spec order.
    pub responses: Vec<Response>,
    /// Effective security (operation-level, else the spec's global one).
    pub security: SecurityRequirements,
    /// JSON pointer of the operation in the source document (for protobuf:
    /// the method's full name), for diagnostics.
    pub pointer: String,
    /// For gRPC methods: the service, method and streaming kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpc: Option<Rpc>,
}

/// A gRPC method. Its operation's path is `/<package.Service>/<Method>`,
/// its method `POST`, and its input is the request message itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rpc {
    /// Fully-qualified service name, e.g. `inference.GRPCInferenceService`.
    pub service: String,
    /// Method name, e.g. `ModelInfer`.
    pub method: String,
    /// Fully-qualified request message name.
    pub input_type: String,
    /// Fully-qualified response message name.
    pub output_type: String,
    /// The client sends a stream of requests.
    pub client_streaming: bool,
    /// The server answers with a stream of responses.
    pub server_streaming: bool,
}

impl Rpc {
    /// `unary`, `server-streaming`, `client-streaming` or `bidi-streaming`.
    pub fn kind(&self) -> &'static str {
        match (self.client_streaming, self.server_streaming) {
            (false, false) => "unary",
            (false, true) => "server-streaming",
            (true, false) => "client-streaming",
            (true, true) => "bidi-streaming",
        }
    }
}

/// HTTP methods OpenAPI can describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET
    Get,
    /// PUT
    Put,
    /// POST
    Post,
    /// DELETE
    Delete,
    /// OPTIONS
    Options,
    /// HEAD
    Head,
    /// PATCH
    Patch,
    /// TRACE
    Trace,
}

impl HttpMethod {
    /// All methods in the order OpenAPI path items list them.
    pub const ALL: [HttpMethod; 8] = [
        HttpMethod::Get,
        HttpMethod::Put,
        HttpMethod::Post,
        HttpMethod::Delete,
        HttpMethod::Options,
        HttpMethod::Head,
        HttpMethod::Patch,
        HttpMethod::Trace,
    ];

    /// Upper-case method name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Put => "PUT",
            HttpMethod::Post => "POST",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Options => "OPTIONS",
            HttpMethod::Head => "HEAD",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Trace => "TRACE",
        }
    }

    /// Lower-case key used in OpenAPI path items.
    pub fn key(self) -> &'static str {
        match self {
            HttpMethod::Get => "get",
            HttpMethod::Put => "put",
            HttpMethod::Post => "post",
            HttpMethod::Delete => "delete",
            HttpMethod::Options => "options",
            HttpMethod::Head => "head",
            HttpMethod::Patch => "patch",
            HttpMethod::Trace => "trace",
        }
    }
}

/// One operation parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    /// Name as it appears on the wire.
    pub name: String,
    /// Key of this parameter in the operation's input object: the wire name,
    /// unless two parameters (or a parameter and `body`) would share it.
    pub input_key: String,
    /// Where it goes.
    pub location: ParamLocation,
    /// Serialisation style (OpenAPI 3 `style`).
    pub style: ParamStyle,
    /// Whether arrays and objects are exploded.
    pub explode: bool,
    /// Whether the caller must supply it.
    pub required: bool,
    /// Whether reserved characters are sent unescaped (query only).
    pub allow_reserved: bool,
    /// Whether the spec marks it deprecated.
    pub deprecated: bool,
    /// Description from the spec.
    pub description: Option<String>,
    /// JSON Schema of the value.
    pub schema: Value,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParamLocation {
    /// A `{name}` segment of the path template.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
    /// A cookie.
    Cookie,
}

/// OpenAPI parameter serialisation styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ParamStyle {
    /// `{id}` -> `5`, arrays `3,4,5`.
    Simple,
    /// `;id=5`.
    Matrix,
    /// `.5`.
    Label,
    /// `id=5&id=6` or `id=5,6`.
    Form,
    /// `id=5%206`.
    SpaceDelimited,
    /// `id=5|6`.
    PipeDelimited,
    /// `id[role]=admin`.
    DeepObject,
}

/// A request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestBody {
    /// Whether the caller must supply it.
    pub required: bool,
    /// Description from the spec.
    pub description: Option<String>,
    /// Accepted media types in spec order.
    pub contents: Vec<MediaType>,
}

impl RequestBody {
    /// The media type the adapter sends the body as: JSON first, then
    /// forms, then multipart, then text, then anything else as bytes (see
    /// [`media_type_rank`]); on a tie, the spec's order.
    pub fn sent_media_type(&self) -> Option<&MediaType> {
        self.contents
            .iter()
            .filter_map(|m| Some((media_type_rank(&m.media_type)?, m)))
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, m)| m)
    }
}

/// Where a media type ranks when the adapter picks how to send a body:
/// 0 JSON (`application/json`, `+json`), 1 `application/x-www-form-urlencoded`,
/// 2 `multipart/form-data`, 3 `text/*`, 4 any other concrete type (bytes);
/// `None` for wildcards and empty types.
pub fn media_type_rank(media_type: &str) -> Option<u8> {
    let t = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match t.as_str() {
        "application/json" => Some(0),
        _ if t.ends_with("+json") => Some(0),
        "application/x-www-form-urlencoded" => Some(1),
        "multipart/form-data" => Some(2),
        _ if t.starts_with("text/") => Some(3),
        _ if !t.is_empty() && !t.contains('*') => Some(4),
        _ => None,
    }
}

/// One media type of a body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaType {
    /// e.g. `application/json`.
    pub media_type: String,
    /// JSON Schema of the body, if the spec gives one.
    pub schema: Option<Value>,
}

/// One documented response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// `200`, `2XX` or `default`.
    pub status: String,
    /// Description from the spec.
    pub description: Option<String>,
    /// Response media types in spec order.
    pub contents: Vec<MediaType>,
}

impl Response {
    /// Whether the status stands for success (2xx, `2XX`).
    pub fn is_success(&self) -> bool {
        self.status.starts_with('2')
    }
}

impl Api {
    /// Hosts (`host` or `host:port`) the adapter may call: the authority of
    /// every server URL after substituting variable defaults. Sorted, unique.
    pub fn vendor_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .servers
            .iter()
            .filter_map(|s| authority_of(&s.resolved_url()))
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }
}

impl Server {
    /// The URL with every variable replaced by its default.
    pub fn resolved_url(&self) -> String {
        let mut url = self.url.clone();
        for var in &self.variables {
            url = url.replace(&format!("{{{}}}", var.name), &var.default);
        }
        url
    }
}

/// The `host[:port]` part of an absolute http(s) URL, lower-cased.
pub fn authority_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if authority.is_empty() || authority.contains('{') {
        None
    } else {
        Some(authority.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_strips_scheme_path_and_userinfo() {
        assert_eq!(
            authority_of("https://api.example.com/v1").as_deref(),
            Some("api.example.com")
        );
        assert_eq!(
            authority_of("http://u:p@Example.com:8080?x").as_deref(),
            Some("example.com:8080")
        );
        assert_eq!(authority_of("/relative"), None);
        assert_eq!(authority_of("https://{region}.example.com"), None);
    }

    #[test]
    fn server_variables_take_defaults() {
        let server = Server {
            url: "https://{region}.example.com/{v}".into(),
            description: None,
            variables: vec![
                ServerVariable {
                    name: "region".into(),
                    default: "eu".into(),
                    allowed: vec![],
                    description: None,
                },
                ServerVariable {
                    name: "v".into(),
                    default: "v2".into(),
                    allowed: vec![],
                    description: None,
                },
            ],
        };
        assert_eq!(server.resolved_url(), "https://eu.example.com/v2");
    }
}
