//! The aip-builder adapter runtime of WASM components: everything an adapter
//! does that does not depend on the vendor API. `spec`, `request` and
//! `response` are shared with the gRPC service target (templates/shared);
//! `http` sends requests through `wasi:http`. Copied verbatim into every
//! generated component.

pub mod http;
pub mod request;
pub mod response;
pub mod spec;

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
    Ok(response::output_json(response.content_type.as_deref(), &response.body))
}
