//! Shared helpers of the runtime's tests: one-parameter operations built at
//! run time (the runtime's tables are `'static`, so they are leaked; a test
//! process builds a few hundred bytes of them) and call shorthands.

#![allow(dead_code)]

use aip_adapter_runtime::request::{BuildError, CallInput, Request, build};
use aip_adapter_runtime::spec::{Body, Kind, Location, Operation, Param, Scheme, Style};

/// A server every test operation is built against.
pub const SERVER: &str = "https://api.example.com/v1";

/// A parameter with the given shape; its input key is its name.
pub fn param(
    name: &'static str,
    location: Location,
    style: Style,
    explode: bool,
    kind: Kind,
) -> Param {
    Param {
        name,
        key: name,
        location,
        style,
        explode,
        required: false,
        allow_reserved: false,
        kind,
    }
}

/// An operation `GET /items/{color}` (the path holds the parameter when it
/// is a path parameter) with exactly these parameters.
pub fn operation(
    params: Vec<Param>,
    body: Option<Body>,
    security: &'static [&'static [&'static str]],
) -> &'static Operation {
    let path = if params.iter().any(|p| p.location == Location::Path) {
        "/items/{color}"
    } else {
        "/items"
    };
    Box::leak(Box::new(Operation {
        id: "op",
        method: if body.is_some() { "POST" } else { "GET" },
        path,
        params: Box::leak(params.into_boxed_slice()),
        body,
        security,
        rpc: None,
    }))
}

/// Builds `op` with `input` and these (scheme, credential) pairs.
pub fn build_with(
    op: &Operation,
    schemes: &[Scheme],
    input: &str,
    credentials: &[(&str, &str)],
) -> Result<Request, BuildError> {
    let credentials: Vec<(String, String)> = credentials
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    build(
        op,
        Some(SERVER),
        schemes,
        input,
        &CallInput {
            credentials: &credentials,
            server_url: None,
            request_id: None,
        },
    )
}

/// The value of the first header named `name`.
pub fn header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The query string, without `?`, or "" when there is none.
pub fn query(request: &Request) -> &str {
    request
        .path_and_query
        .split_once('?')
        .map_or("", |(_, q)| q)
}

/// The path, without the server's base path `/v1` and the query.
pub fn path(request: &Request) -> &str {
    let path = request.path_and_query.split('?').next().unwrap_or("");
    path.strip_prefix("/v1").unwrap_or(path)
}
