//! Sends a built request through `wasi:http/outgoing-handler` and reads the
//! response. Written directly against the WASI bindings generated from the
//! adapter's WIT world.
//! Part of the aip-builder adapter runtime; copied verbatim into every adapter.

use crate::wasi::http::outgoing_handler;
use crate::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use crate::wasi::io::streams::StreamError;

use super::request::Request;

/// Largest response body read, in bytes.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Connect and first-byte timeout, in nanoseconds.
const TIMEOUT_NS: u64 = 60_000_000_000;

/// A vendor response.
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// `content-type`, if sent.
    pub content_type: Option<String>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Sends `req`. Errors are transport failures, described for humans.
pub fn send(req: &Request) -> Result<Response, String> {
    let headers = Fields::new();
    for (name, value) in &req.headers {
        headers
            .append(name, value.as_bytes())
            .map_err(|e| format!("header {name:?} rejected: {e:?}"))?;
    }
    let request = OutgoingRequest::new(headers);
    request
        .set_method(&method(req.method))
        .map_err(|()| format!("method {} rejected", req.method))?;
    let scheme = if req.scheme == "http" { Scheme::Http } else { Scheme::Https };
    request.set_scheme(Some(&scheme)).map_err(|()| "scheme rejected".to_string())?;
    request
        .set_authority(Some(&req.authority))
        .map_err(|()| format!("authority {:?} rejected", req.authority))?;
    request
        .set_path_with_query(Some(&req.path_and_query))
        .map_err(|()| format!("path {:?} rejected", req.path_and_query))?;
    let body = request.body().map_err(|()| "request body unavailable".to_string())?;

    let options = RequestOptions::new();
    // Hosts may refuse to let guests set timeouts; the defaults then apply.
    let _ = options.set_connect_timeout(Some(TIMEOUT_NS));
    let _ = options.set_first_byte_timeout(Some(TIMEOUT_NS));
    let future = outgoing_handler::handle(request, Some(options)).map_err(describe_error)?;

    if let Some(bytes) = &req.body {
        let stream = body.write().map_err(|()| "request body stream unavailable".to_string())?;
        for chunk in bytes.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("writing request body: {}", stream_error(e)))?;
        }
        drop(stream);
    }
    OutgoingBody::finish(body, None).map_err(describe_error)?;

    let pollable = future.subscribe();
    pollable.block();
    drop(pollable);
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(describe_error(code)),
        Some(Err(())) => return Err("response already taken".into()),
        None => return Err("response not ready".into()),
    };
    drop(future);

    let status = response.status();
    let fields = response.headers();
    let content_type = fields
        .get("content-type")
        .into_iter()
        .next()
        .map(|v| String::from_utf8_lossy(&v).into_owned());
    drop(fields);

    let incoming = response.consume().map_err(|()| "response body unavailable".to_string())?;
    let stream = incoming.stream().map_err(|()| "response body stream unavailable".to_string())?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_RESPONSE_BYTES {
                    return Err(format!("response body larger than {MAX_RESPONSE_BYTES} bytes"));
                }
            }
            Err(StreamError::Closed) => break,
            Err(e) => return Err(format!("reading response body: {}", stream_error(e))),
        }
    }
    drop(stream);
    let _trailers = IncomingBody::finish(incoming);
    drop(response);
    Ok(Response {
        status,
        content_type,
        body,
    })
}

fn method(name: &str) -> Method {
    match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_string()),
    }
}

fn stream_error(e: StreamError) -> String {
    match e {
        StreamError::Closed => "stream closed".into(),
        StreamError::LastOperationFailed(err) => err.to_debug_string(),
    }
}

fn describe_error(code: ErrorCode) -> String {
    match code {
        ErrorCode::HttpRequestDenied => "request denied by the host: the destination is not permitted".into(),
        ErrorCode::DnsError(e) => format!("DNS error: {}", e.rcode.unwrap_or_default()),
        ErrorCode::ConnectionRefused => "connection refused".into(),
        ErrorCode::ConnectionTimeout => "connection timed out".into(),
        other => format!("{other:?}"),
    }
}
