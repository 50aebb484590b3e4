//! The aip-builder adapter runtime: everything an adapter does that does not
//! depend on the vendor API. Copied verbatim into every generated adapter.

pub mod http;
pub mod request;
pub mod spec;

use serde_json::Value;

use request::{BuildError, CallInput};
use spec::{Operation, Scheme};

/// Why a call failed.
pub enum CallError {
    /// The input does not fit.
    InvalidInput(String),
    /// A credential is missing.
    MissingCredential(String),
    /// A non-2xx answer.
    Vendor {
        /// HTTP status.
        status: u16,
        /// `content-type`, if sent.
        content_type: Option<String>,
        /// Body text (lossy UTF-8).
        body: String,
    },
    /// Sending or receiving failed.
    Transport(String),
}

/// Calls `op` and returns the output JSON text.
pub fn call(
    op: &Operation,
    default_server: Option<&str>,
    schemes: &[Scheme],
    input: &str,
    call: &CallInput<'_>,
) -> Result<String, CallError> {
    let req = request::build(op, default_server, schemes, input, call).map_err(|e| match e {
        BuildError::InvalidInput(m) => CallError::InvalidInput(m),
        BuildError::MissingCredential(m) => CallError::MissingCredential(m),
    })?;
    let response = http::send(&req).map_err(CallError::Transport)?;
    if !(200..300).contains(&response.status) {
        return Err(CallError::Vendor {
            status: response.status,
            content_type: response.content_type,
            body: String::from_utf8_lossy(&response.body).into_owned(),
        });
    }
    Ok(output_json(response.content_type.as_deref(), &response.body))
}

/// The output JSON for a successful body: JSON bodies as they are, empty
/// bodies as `null`, anything else as a JSON string.
pub fn output_json(content_type: Option<&str>, body: &[u8]) -> String {
    if body.is_empty() {
        return "null".into();
    }
    let json_like = content_type
        .map(|ct| {
            let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            ct == "application/json" || ct.ends_with("+json")
        })
        .unwrap_or(false);
    if json_like && let Ok(value) = serde_json::from_slice::<Value>(body) {
        return value.to_string();
    }
    Value::String(String::from_utf8_lossy(body).into_owned()).to_string()
}
