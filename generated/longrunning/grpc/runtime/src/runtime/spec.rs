//! The static description of the vendor API that generated code fills in.
//! Part of the aip-builder adapter runtime, shared by every target
//! (templates/shared); copied verbatim into every adapter.

/// One vendor operation.
#[derive(Debug)]
pub struct Operation {
    /// The operation id callers use.
    pub id: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// Path template relative to the server URL.
    pub path: &'static str,
    /// Parameters in spec order.
    pub params: &'static [Param],
    /// The request body, if any.
    pub body: Option<Body>,
    /// Alternatives of required security schemes; empty means none.
    pub security: &'static [&'static [&'static str]],
    /// For gRPC vendors: the method to call.
    pub rpc: Option<Rpc>,
}

/// A gRPC vendor method.
#[derive(Debug)]
pub struct Rpc {
    /// Fully-qualified service name.
    pub service: &'static str,
    /// Method name.
    pub method: &'static str,
    /// Fully-qualified request message name.
    pub input_type: &'static str,
    /// Fully-qualified response message name.
    pub output_type: &'static str,
    /// The client sends a stream of requests.
    pub client_streaming: bool,
    /// The server answers with a stream of responses.
    pub server_streaming: bool,
}

/// One parameter.
#[derive(Debug)]
pub struct Param {
    /// Wire name.
    pub name: &'static str,
    /// Key in the input object.
    pub key: &'static str,
    /// Where it goes.
    pub location: Location,
    /// Serialisation style.
    pub style: Style,
    /// Whether arrays/objects are exploded.
    pub explode: bool,
    /// Whether it must be given.
    pub required: bool,
    /// Whether reserved characters go unescaped.
    pub allow_reserved: bool,
    /// The JSON type the schema asks for.
    pub kind: Kind,
}

/// Parameter locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// Path segment.
    Path,
    /// Query string.
    Query,
    /// Header.
    Header,
    /// Cookie.
    Cookie,
}

/// OpenAPI parameter styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `simple`
    Simple,
    /// `matrix`
    Matrix,
    /// `label`
    Label,
    /// `form`
    Form,
    /// `spaceDelimited`
    SpaceDelimited,
    /// `pipeDelimited`
    PipeDelimited,
    /// `deepObject`
    DeepObject,
}

/// The JSON type of a parameter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    String,
    /// An integer.
    Integer,
    /// Any number.
    Number,
    /// true/false.
    Boolean,
    /// An array.
    Array,
    /// An object.
    Object,
    /// Anything.
    Any,
}

/// A request body.
#[derive(Debug)]
pub struct Body {
    /// Whether it must be given.
    pub required: bool,
    /// The media type sent.
    pub media_type: &'static str,
    /// How the `body` input is encoded.
    pub encoding: Encoding,
}

/// Body encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// JSON text.
    Json,
    /// `application/x-www-form-urlencoded` of an object.
    FormUrlEncoded,
    /// `multipart/form-data` of an object.
    Multipart,
    /// A string sent as is.
    Text,
    /// Bytes: a string, or `{"content_base64": ...}`.
    Binary,
}

/// A security scheme.
#[derive(Debug)]
pub struct Scheme {
    /// Its name in the spec; credentials are keyed by it.
    pub name: &'static str,
    /// How the credential is placed.
    pub kind: SchemeKind,
}

/// Credential placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemeKind {
    /// A header with this name.
    Header(&'static str),
    /// A query parameter with this name.
    Query(&'static str),
    /// A cookie with this name.
    Cookie(&'static str),
    /// `Authorization: Basic` of `user:password`.
    Basic,
    /// `Authorization: Bearer` of the token.
    Bearer,
    /// Not something an adapter can apply.
    Unsupported,
}
