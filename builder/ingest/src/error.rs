//! The errors of spec ingest. Every variant names the document and, where it
//! applies, the line/column or JSON pointer that is wrong.

/// Why a spec could not be ingested.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The spec (or a document it references) could not be read.
    #[error("cannot read {location}: {source}")]
    Read {
        /// File, URL or `<stdin>`.
        location: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A URL could not be fetched.
    #[error("cannot fetch {url}: {reason}")]
    Fetch {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A document is larger than the configured limit.
    #[error("{location} is larger than the {limit}-byte spec size limit")]
    TooLarge {
        /// File, URL or `<stdin>`.
        location: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The spec defines more operations than the limit.
    #[error("{location} defines {count} operations; at most {limit} are built into one adapter")]
    TooManyOperations {
        /// The spec.
        location: String,
        /// How many it defines.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A document is not valid JSON or YAML.
    #[error("{location}:{line}:{column}: invalid {syntax}: {message}")]
    Syntax {
        /// File, URL or `<stdin>`.
        location: String,
        /// `JSON` or `YAML`.
        syntax: &'static str,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// 1-based column, 0 when unknown.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The document is not a Swagger 2.0 / OpenAPI 3.x document at all.
    #[error("{location}: not an OpenAPI document: {reason}")]
    NotOpenApi {
        /// File, URL or `<stdin>`.
        location: String,
        /// What is missing.
        reason: String,
    },
    /// An OpenAPI version this tool does not read.
    #[error(
        "{location}: unsupported spec version {version:?}; supported are Swagger 2.0, OpenAPI 3.0.x and 3.1.x"
    )]
    UnsupportedVersion {
        /// File, URL or `<stdin>`.
        location: String,
        /// The declared version.
        version: String,
    },
    /// A construct is present but wrong.
    #[error("{location}#{pointer}: {message}")]
    Invalid {
        /// Document.
        location: String,
        /// JSON pointer of the offending value.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// A `$ref` points at nothing.
    #[error("{location}#{pointer}: cannot resolve $ref {reference:?}: {reason}")]
    UnresolvedRef {
        /// Document holding the `$ref`.
        location: String,
        /// Pointer of the `$ref` object.
        pointer: String,
        /// The reference text.
        reference: String,
        /// Why it failed.
        reason: String,
    },
    /// A `$ref` to a file that is not there.
    #[error("{location}#{pointer}: cannot resolve $ref {reference:?}: {reason}")]
    MissingRefFile {
        /// Document holding the `$ref`.
        location: String,
        /// Pointer of the `$ref` object.
        pointer: String,
        /// The reference text.
        reference: String,
        /// Which file, relative to the reference root, and why.
        reason: String,
    },
    /// A `$ref` to a file outside the reference root. Said without looking
    /// at the file: whether it exists is not revealed.
    #[error(
        "{location}#{pointer}: $ref {reference:?} leaves the reference root {root}; external references must stay inside it"
    )]
    RefEscapes {
        /// Document holding the `$ref`.
        location: String,
        /// Pointer of the `$ref` object.
        pointer: String,
        /// The reference text.
        reference: String,
        /// The folder references must stay in, as the user named it.
        root: String,
    },
    /// `--ref-root` does not hold the spec itself.
    #[error("the spec {spec} is not inside the reference root {root}")]
    SpecOutsideRefRoot {
        /// The spec file.
        spec: String,
        /// The root, as named.
        root: String,
    },
    /// Strict mode refused a defect the default mode repairs.
    #[error("{location}#{pointer}: {problem} (refused in strict mode: {})", kind.as_str())]
    StrictRefused {
        /// Document.
        location: String,
        /// Pointer of the defect.
        pointer: String,
        /// What kind of defect.
        kind: aip_ir::WarningKind,
        /// What is wrong.
        problem: String,
        /// What the default mode would do.
        repair: String,
    },
    /// `$ref`s that only point at each other.
    #[error("{location}#{pointer}: $ref cycle with no schema in between: {chain}")]
    RefCycle {
        /// Document where the cycle was entered.
        location: String,
        /// Pointer where the cycle was entered.
        pointer: String,
        /// The references in order.
        chain: String,
    },
    /// A module name that cannot be used.
    #[error(
        "invalid module name {name:?}: use 1-63 lowercase ASCII letters, digits and '-', starting with a letter"
    )]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// The spec has no operations to adapt.
    #[error("{location}: the spec defines no operations")]
    NoOperations {
        /// Document.
        location: String,
    },
    /// protox rejected a `.proto` file.
    #[error("{location}:{line}:{column}: {message}")]
    Proto {
        /// The proto file.
        location: String,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// 1-based column, 0 when unknown.
        column: usize,
        /// protox's message.
        message: String,
    },
    /// An external `$ref` in a spec read from a URL or stdin, which has no
    /// folder to resolve it in.
    #[error(
        "{location}#{pointer}: external $ref {reference:?} in a spec that was not read from a file"
    )]
    ExternalRefWithoutFiles {
        /// Document holding the `$ref`.
        location: String,
        /// Pointer of the `$ref` object.
        pointer: String,
        /// The reference text.
        reference: String,
    },
    /// A `.proto` file outside every import root.
    #[error("{location}: the file is not inside any proto import root")]
    ProtoOutsideRoots {
        /// The proto file.
        location: String,
    },
    /// Something valid that this version cannot handle yet.
    #[error("not supported yet: {0}")]
    NotSupported(String),
}

impl IngestError {
    /// What the user could do about this error, if anything.
    pub fn hint(&self) -> Option<aip_hint::Hint> {
        use aip_hint::Hint;
        match self {
            IngestError::TooLarge { limit, .. } => Some(Hint::RaiseSpecSizeLimit { limit: *limit }),
            IngestError::TooManyOperations { limit, .. } => {
                Some(Hint::RaiseOperationLimit { limit: *limit })
            }
            IngestError::RefEscapes { root, .. } | IngestError::SpecOutsideRefRoot { root, .. } => {
                Some(Hint::WidenRefRoot { root: root.clone() })
            }
            IngestError::StrictRefused { repair, .. } => Some(Hint::StrictRefusedRepair {
                repair: repair.clone(),
            }),
            IngestError::ExternalRefWithoutFiles { .. } => Some(Hint::ExternalRefsNeedFiles),
            IngestError::ProtoOutsideRoots { .. } => Some(Hint::AddProtoImportRoot),
            IngestError::MissingRefFile { .. } => Some(Hint::MissingReferencedFile),
            IngestError::Proto { message, .. } if message.contains("not found") => {
                Some(Hint::AddProtoImportRoot)
            }
            _ => None,
        }
    }
}
