//! Why a call failed, and how that becomes a gRPC status. Part of the
//! aip-builder gRPC service runtime; copied verbatim into every service.

use prost::Message;
use tonic::{Code, Status};

use crate::proto::adapter_error::Kind;
use crate::proto::{AdapterError, VendorError};

/// The same distinct kinds as the WIT world's `adapter-error`.
#[derive(Debug)]
pub enum CallError {
    /// No such operation.
    UnknownOperation(String),
    /// The input does not fit.
    InvalidInput(String),
    /// A credential is missing.
    MissingCredential(String),
    /// The vendor answered with an error.
    Vendor {
        /// HTTP status, or the gRPC code.
        status: u32,
        /// `content-type` of the answer.
        content_type: String,
        /// Body text or status message.
        body: String,
    },
    /// The vendor could not be reached or answered unreadably.
    Transport(String),
}

/// `google.rpc.Status`, the conventional payload of `grpc-status-details-bin`.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

impl CallError {
    /// A short label for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::UnknownOperation(_) => "unknown-operation",
            CallError::InvalidInput(_) => "invalid-input",
            CallError::MissingCredential(_) => "missing-credential",
            CallError::Vendor { .. } => "vendor",
            CallError::Transport(_) => "transport",
        }
    }

    /// The status sent to the caller: a code by kind, a readable message, and
    /// an `aip.adapter.v1.AdapterError` in the details.
    pub fn into_status(self) -> Status {
        let (code, kind, message, vendor) = match self {
            CallError::UnknownOperation(m) => (Code::NotFound, Kind::UnknownOperation, m, None),
            CallError::InvalidInput(m) => (Code::InvalidArgument, Kind::InvalidInput, m, None),
            CallError::MissingCredential(m) => {
                (Code::Unauthenticated, Kind::MissingCredential, m, None)
            }
            CallError::Vendor {
                status,
                content_type,
                body,
            } => (
                Code::FailedPrecondition,
                Kind::Vendor,
                format!("the vendor answered {status}: {}", truncate(&body, 512)),
                Some(VendorError {
                    status,
                    content_type,
                    body,
                }),
            ),
            CallError::Transport(m) => (Code::Unavailable, Kind::Transport, m, None),
        };
        let detail = AdapterError {
            kind: kind as i32,
            message: message.clone(),
            vendor,
        };
        let status = RpcStatus {
            code: code as i32,
            message: message.clone(),
            details: vec![prost_types::Any {
                type_url: "type.googleapis.com/aip.adapter.v1.AdapterError".into(),
                value: detail.encode_to_vec(),
            }],
        };
        Status::with_details(code, message, status.encode_to_vec().into())
    }
}

pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
