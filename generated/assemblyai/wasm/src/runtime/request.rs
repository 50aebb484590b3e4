//! Builds the vendor HTTP request for one call from the operation's static
//! description, the caller's input object and the call's credentials.
//! Pure: no I/O, so it is unit-tested natively by aip-builder.
//! Part of the aip-builder adapter runtime, shared by every target
//! (templates/shared); copied verbatim into every adapter.

use serde_json::{Map, Value};

use super::spec::{Body, Encoding, Kind, Location, Operation, Param, Scheme, SchemeKind, Style};

/// A request ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// HTTP method.
    pub method: &'static str,
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub authority: String,
    /// Path and query, percent-encoded.
    pub path_and_query: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes, if any.
    pub body: Option<Vec<u8>>,
}

/// Why a request could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// The input does not fit the operation.
    InvalidInput(String),
    /// No alternative of the operation's security is fully supplied.
    MissingCredential(String),
}

/// What the host passes per call.
pub struct CallInput<'a> {
    /// Credentials by scheme name.
    pub credentials: &'a [(String, String)],
    /// Server URL override (base path included).
    pub server_url: Option<&'a str>,
    /// Request id to propagate.
    pub request_id: Option<&'a str>,
}

const MULTIPART_BOUNDARY: &str = "aip-adapter-boundary-7d9f0c2e4b1a";

/// Builds the request for `op` from the JSON text `input`.
pub fn build(
    op: &Operation,
    default_server: Option<&str>,
    schemes: &[Scheme],
    input: &str,
    call: &CallInput<'_>,
) -> Result<Request, BuildError> {
    let input: Value = serde_json::from_str(input)
        .map_err(|e| BuildError::InvalidInput(format!("input is not valid JSON: {e}")))?;
    let Value::Object(mut input) = input else {
        return Err(BuildError::InvalidInput(
            "input must be a JSON object".into(),
        ));
    };
    // `body` is the request body's key unless a parameter has it (the IR
    // renames a parameter that would clash with a body; gitea's
    // `GET .../file-contents` has a query parameter named `body`).
    let body_value = if op.params.iter().any(|p| p.key == "body") {
        None
    } else {
        input.remove("body")
    };
    if let Some(unknown) = input
        .keys()
        .find(|k| !op.params.iter().any(|p| p.key == k.as_str()))
    {
        return Err(BuildError::InvalidInput(format!(
            "unknown input field {unknown:?}; expected one of: {}",
            expected_fields(op)
        )));
    }

    let base = call.server_url.or(default_server).ok_or_else(|| {
        BuildError::InvalidInput(
            "the spec names no absolute server URL; the host must pass a server URL".into(),
        )
    })?;
    let (scheme, authority, base_path) = split_url(base)?;

    let mut path = op.path.to_string();
    // Query pairs, already percent-encoded.
    let mut query: Vec<(String, String)> = Vec::new();
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut cookies: Vec<(String, String)> = Vec::new();

    for param in op.params {
        let Some(value) = input.get(param.key).filter(|v| !v.is_null()) else {
            if param.required {
                return Err(BuildError::InvalidInput(format!(
                    "missing required {} parameter {:?}",
                    location_name(param.location),
                    param.key
                )));
            }
            continue;
        };
        check_kind(param, value)?;
        match param.location {
            Location::Path => {
                let text = path_value(param, value);
                path = path.replace(&format!("{{{}}}", param.name), &text);
            }
            Location::Query => query_pairs(param, value, &mut query),
            Location::Header => {
                headers.push((param.name.to_string(), simple_value(value, param.explode)))
            }
            Location::Cookie => {
                cookies.push((param.name.to_string(), simple_value(value, param.explode)))
            }
        }
    }

    apply_credentials(
        op,
        schemes,
        call.credentials,
        &mut headers,
        &mut query,
        &mut cookies,
    )?;
    if !cookies.is_empty() {
        let cookie = cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        headers.push(("cookie".into(), cookie));
    }
    if let Some(id) = call.request_id {
        headers.push(("x-request-id".into(), id.to_string()));
    }

    let body = match (&op.body, body_value.filter(|v| !v.is_null())) {
        (Some(spec), Some(value)) => {
            let (content_type, bytes) = encode_body(spec, &value)?;
            headers.push(("content-type".into(), content_type));
            headers.push(("content-length".into(), bytes.len().to_string()));
            Some(bytes)
        }
        (Some(spec), None) if spec.required => {
            return Err(BuildError::InvalidInput(
                "missing required field \"body\"".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(BuildError::InvalidInput(
                "this operation takes no body".into(),
            ));
        }
        _ => None,
    };
    headers.push(("accept".into(), "application/json, */*;q=0.8".into()));
    if let Some((name, _)) = headers.iter().find(|(k, v)| {
        k.bytes()
            .chain(v.bytes())
            .any(|b| b.is_ascii_control() && b != b'\t')
    }) {
        return Err(BuildError::InvalidInput(format!(
            "header {name:?} would contain control characters"
        )));
    }

    let mut path_and_query = format!("{}{}", base_path.trim_end_matches('/'), path);
    if path_and_query.is_empty() {
        path_and_query.push('/');
    }
    if !query.is_empty() {
        // A spec's path may carry a query of its own (OpenAI's
        // `/responses/{response_id}?beta=true`): the parameters join it.
        path_and_query.push(if path_and_query.contains('?') {
            '&'
        } else {
            '?'
        });
        let encoded: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        path_and_query.push_str(&encoded.join("&"));
    }
    Ok(Request {
        method: op.method,
        scheme,
        authority,
        path_and_query,
        headers,
        body,
    })
}

fn expected_fields(op: &Operation) -> String {
    let mut fields: Vec<&str> = op.params.iter().map(|p| p.key).collect();
    if op.body.is_some() {
        fields.push("body");
    }
    if fields.is_empty() {
        "(none)".into()
    } else {
        fields.join(", ")
    }
}

fn location_name(location: Location) -> &'static str {
    match location {
        Location::Path => "path",
        Location::Query => "query",
        Location::Header => "header",
        Location::Cookie => "cookie",
    }
}

fn check_kind(param: &Param, value: &Value) -> Result<(), BuildError> {
    let ok = match param.kind {
        Kind::Any => true,
        Kind::String => value.is_string(),
        Kind::Integer => value.is_i64() || value.is_u64(),
        Kind::Number => value.is_number(),
        Kind::Boolean => value.is_boolean(),
        Kind::Array => value.is_array(),
        Kind::Object => value.is_object(),
    };
    if ok {
        Ok(())
    } else {
        Err(BuildError::InvalidInput(format!(
            "parameter {:?} must be {}, got {}",
            param.key,
            kind_name(param.kind),
            json_kind(value)
        )))
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "a string",
        Kind::Integer => "an integer",
        Kind::Number => "a number",
        Kind::Boolean => "a boolean",
        Kind::Array => "an array",
        Kind::Object => "an object",
        Kind::Any => "any value",
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A scalar as text: strings as they are, everything else as JSON.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `simple` style: `a,b,c`; objects `k,v,k2,v2` or, exploded, `k=v,k2=v2`.
fn simple_value(value: &Value, explode: bool) -> String {
    match value {
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(","),
        Value::Object(map) => object_pairs(map, explode, ",", "="),
        other => scalar(other),
    }
}

fn object_pairs(map: &Map<String, Value>, explode: bool, sep: &str, kv: &str) -> String {
    map.iter()
        .map(|(k, v)| {
            if explode {
                format!("{k}{kv}{}", scalar(v))
            } else {
                format!("{k},{}", scalar(v))
            }
        })
        .collect::<Vec<_>>()
        .join(sep)
}

/// A path parameter in its style: every value and key percent-encoded, the
/// style's delimiters (`.` `;` `,` `=`) literal, so a delimiter inside a
/// value stays distinguishable from one between values.
fn path_value(param: &Param, value: &Value) -> String {
    let enc = |s: &str| encode(s, false);
    match param.style {
        Style::Label => {
            let sep = if param.explode { "." } else { "," };
            format!(".{}", encoded_list(value, param.explode, sep))
        }
        Style::Matrix => match value {
            Value::Array(items) if param.explode => items
                .iter()
                .map(|v| format!(";{}={}", param.name, enc(&scalar(v))))
                .collect(),
            Value::Object(map) if param.explode => map
                .iter()
                .map(|(k, v)| format!(";{}={}", enc(k), enc(&scalar(v))))
                .collect(),
            other => match encoded_list(other, false, ",") {
                list if list.is_empty() => format!(";{}", param.name),
                list => format!(";{}={list}", param.name),
            },
        },
        _ => encoded_list(value, param.explode, ","),
    }
}

/// An array's items, or an object's members (`k,v`, or `k=v` when
/// exploded), each percent-encoded and joined by `sep`; a scalar encoded.
fn encoded_list(value: &Value, explode: bool, sep: &str) -> String {
    let enc = |s: &str| encode(s, false);
    match value {
        Value::Array(items) => items
            .iter()
            .map(|v| enc(&scalar(v)))
            .collect::<Vec<_>>()
            .join(sep),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let kv = if explode { "=" } else { "," };
                format!("{}{kv}{}", enc(k), enc(&scalar(v)))
            })
            .collect::<Vec<_>>()
            .join(sep),
        other => enc(&scalar(other)),
    }
}

/// Adds the percent-encoded query pairs of one parameter. Delimiters that
/// the style defines (`,` `%20` `|`) are left unescaped between items.
fn query_pairs(param: &Param, value: &Value, out: &mut Vec<(String, String)>) {
    let reserved = param.allow_reserved;
    let enc = |s: &str| encode(s, reserved);
    let name = encode(param.name, false);
    let joined = |items: &[Value], sep: &str| {
        items
            .iter()
            .map(|v| enc(&scalar(v)))
            .collect::<Vec<_>>()
            .join(sep)
    };
    match (param.style, value) {
        (Style::DeepObject, Value::Object(map)) => {
            for (k, v) in map {
                out.push((format!("{name}%5B{}%5D", encode(k, false)), enc(&scalar(v))));
            }
        }
        (Style::SpaceDelimited, Value::Array(items)) => out.push((name, joined(items, "%20"))),
        (Style::PipeDelimited, Value::Array(items)) => out.push((name, joined(items, "%7C"))),
        (Style::SpaceDelimited | Style::PipeDelimited, Value::Object(map)) => {
            let sep = if param.style == Style::SpaceDelimited {
                "%20"
            } else {
                "%7C"
            };
            let members: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}{sep}{}", enc(k), enc(&scalar(v))))
                .collect();
            out.push((name, members.join(sep)));
        }
        (_, Value::Array(items)) if param.explode => {
            for item in items {
                out.push((name.clone(), enc(&scalar(item))));
            }
        }
        (_, Value::Array(items)) => out.push((name, joined(items, ","))),
        (_, Value::Object(map)) if param.explode => {
            for (k, v) in map {
                out.push((encode(k, false), enc(&scalar(v))));
            }
        }
        (_, Value::Object(map)) => {
            let flat: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{},{}", enc(k), enc(&scalar(v))))
                .collect();
            out.push((name, flat.join(",")));
        }
        (_, other) => out.push((name, enc(&scalar(other)))),
    }
}

fn apply_credentials(
    op: &Operation,
    schemes: &[Scheme],
    credentials: &[(String, String)],
    headers: &mut Vec<(String, String)>,
    query: &mut Vec<(String, String)>,
    cookies: &mut Vec<(String, String)>,
) -> Result<(), BuildError> {
    if op.security.is_empty() {
        return Ok(());
    }
    let credential = |name: &str| {
        credentials
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let usable = |scheme_name: &&str| {
        credential(scheme_name).is_some()
            && schemes
                .iter()
                .any(|s| s.name == *scheme_name && s.kind != SchemeKind::Unsupported)
    };
    let Some(alternative) = op.security.iter().find(|alt| alt.iter().all(&usable)) else {
        let options: Vec<String> = op.security.iter().map(|alt| alt.join(" + ")).collect();
        return Err(BuildError::MissingCredential(format!(
            "operation {} needs credentials for one of: {}",
            op.id,
            options.join(" | ")
        )));
    };
    for scheme_name in alternative.iter() {
        let (Some(scheme), Some(value)) = (
            schemes.iter().find(|s| s.name == *scheme_name),
            credential(scheme_name),
        ) else {
            continue;
        };
        match scheme.kind {
            SchemeKind::Header(name) => headers.push((name.to_string(), value.to_string())),
            SchemeKind::Query(name) => query.push((encode(name, false), encode(value, false))),
            SchemeKind::Cookie(name) => cookies.push((name.to_string(), value.to_string())),
            SchemeKind::Basic => headers.push((
                "authorization".into(),
                format!("Basic {}", base64_encode(value.as_bytes())),
            )),
            SchemeKind::Bearer => headers.push(("authorization".into(), format!("Bearer {value}"))),
            SchemeKind::Unsupported => {}
        }
    }
    Ok(())
}

fn encode_body(spec: &Body, value: &Value) -> Result<(String, Vec<u8>), BuildError> {
    let invalid = |msg: String| BuildError::InvalidInput(msg);
    match spec.encoding {
        Encoding::Json => {
            let bytes = serde_json::to_vec(value).map_err(|e| invalid(format!("body: {e}")))?;
            Ok((spec.media_type.to_string(), bytes))
        }
        Encoding::FormUrlEncoded => {
            let Value::Object(map) = value else {
                return Err(invalid(format!(
                    "body must be an object for {}",
                    spec.media_type
                )));
            };
            let mut pairs = Vec::new();
            for (k, v) in map {
                match v {
                    Value::Array(items) => items.iter().for_each(|i| {
                        pairs.push(format!(
                            "{}={}",
                            encode(k, false),
                            encode(&scalar(i), false)
                        ))
                    }),
                    other => pairs.push(format!(
                        "{}={}",
                        encode(k, false),
                        encode(&scalar(other), false)
                    )),
                }
            }
            Ok((spec.media_type.to_string(), pairs.join("&").into_bytes()))
        }
        Encoding::Multipart => {
            let Value::Object(map) = value else {
                return Err(invalid(format!(
                    "body must be an object for {}",
                    spec.media_type
                )));
            };
            let mut out = Vec::new();
            for (k, v) in map {
                let name = k.replace(['"', '\r', '\n'], "_");
                out.extend_from_slice(format!("--{MULTIPART_BOUNDARY}\r\n").as_bytes());
                match file_part(v)? {
                    Some((filename, content_type, bytes)) => {
                        let filename = filename.replace(['"', '\r', '\n'], "_");
                        out.extend_from_slice(
                            format!("content-disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\ncontent-type: {content_type}\r\n\r\n")
                                .as_bytes(),
                        );
                        out.extend_from_slice(&bytes);
                    }
                    None => {
                        out.extend_from_slice(
                            format!("content-disposition: form-data; name=\"{name}\"\r\n\r\n")
                                .as_bytes(),
                        );
                        out.extend_from_slice(scalar(v).as_bytes());
                    }
                }
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(format!("--{MULTIPART_BOUNDARY}--\r\n").as_bytes());
            Ok((
                format!("multipart/form-data; boundary={MULTIPART_BOUNDARY}"),
                out,
            ))
        }
        Encoding::Text => match value {
            Value::String(s) => Ok((spec.media_type.to_string(), s.clone().into_bytes())),
            other => Err(invalid(format!(
                "body must be a string for {}, got {}",
                spec.media_type,
                json_kind(other)
            ))),
        },
        Encoding::Binary => match value {
            Value::String(s) => Ok((spec.media_type.to_string(), s.clone().into_bytes())),
            other => match file_part(other)? {
                Some((_, _, bytes)) => Ok((spec.media_type.to_string(), bytes)),
                None => Err(invalid(format!(
                    "body must be a string or {{\"content_base64\": ...}} for {}",
                    spec.media_type
                ))),
            },
        },
    }
}

/// A file given as `{"content_base64", "filename"?, "content_type"?}`.
fn file_part(value: &Value) -> Result<Option<(String, String, Vec<u8>)>, BuildError> {
    let Some(obj) = value.as_object() else {
        return Ok(None);
    };
    let Some(content) = obj.get("content_base64").and_then(Value::as_str) else {
        return Ok(None);
    };
    let bytes = base64_decode(content)
        .ok_or_else(|| BuildError::InvalidInput("content_base64 is not valid base64".into()))?;
    let filename = obj
        .get("filename")
        .and_then(Value::as_str)
        .unwrap_or("file")
        .to_string();
    let content_type = obj
        .get("content_type")
        .and_then(Value::as_str)
        .unwrap_or("application/octet-stream")
        .replace(['\r', '\n'], "");
    Ok(Some((filename, content_type, bytes)))
}

/// Splits `scheme://authority/base` into its parts.
fn split_url(url: &str) -> Result<(String, String, String), BuildError> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        ("https", rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        ("http", rest)
    } else {
        return Err(BuildError::InvalidInput(format!(
            "server URL {url:?} is not an absolute http(s) URL"
        )));
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || authority.contains(['{', '}', ' ', '@']) {
        return Err(BuildError::InvalidInput(format!(
            "server URL {url:?} has no usable host"
        )));
    }
    Ok((
        scheme.to_string(),
        authority.to_string(),
        rest[end..].to_string(),
    ))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and, when
/// `allow_reserved`, the reserved ones).
pub fn encode(text: &str, allow_reserved: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        let reserved = matches!(
            b,
            b':' | b'/'
                | b'?'
                | b'#'
                | b'['
                | b']'
                | b'@'
                | b'!'
                | b'$'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b','
                | b';'
                | b'='
        );
        if unreserved || (allow_reserved && reserved) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64, padding optional; `None` on any other character.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            break;
        }
        let v = B64.iter().position(|x| *x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
