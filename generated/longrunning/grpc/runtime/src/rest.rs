//! REST vendors: builds the request with the shared runtime (the same code
//! the WASM component runs) and sends it with hyper over rustls. Part of the
//! aip-builder gRPC service runtime; copied verbatim into every service.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::Adapter;
use crate::errors::CallError;
use crate::runtime::request::{self, BuildError, CallInput};
use crate::runtime::response::output_json;
use crate::runtime::spec::Operation;

/// Vendor answers larger than this are refused.
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// Calls a REST vendor.
pub struct RestVendor {
    adapter: &'static Adapter,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    server_url: Option<String>,
    timeout: Duration,
}

impl RestVendor {
    /// A client for `server_url` (else the spec's server), with the
    /// webpki root certificates built in: the image has no CA bundle.
    pub fn new(
        adapter: &'static Adapter,
        server_url: Option<String>,
        timeout: Duration,
    ) -> RestVendor {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        RestVendor {
            adapter,
            client: Client::builder(TokioExecutor::new()).build(https),
            server_url,
            timeout,
        }
    }

    /// Where calls go, for the startup log.
    pub fn endpoint(&self) -> Option<&str> {
        self.server_url.as_deref().or(self.adapter.default_server)
    }

    /// Calls `op` with the JSON text `input`; returns the output JSON.
    pub async fn call(
        &self,
        op: &Operation,
        input: &str,
        credentials: &[(String, String)],
        request_id: Option<&str>,
    ) -> Result<String, CallError> {
        let call = CallInput {
            credentials,
            server_url: self.server_url.as_deref(),
            request_id,
        };
        let req = request::build(
            op,
            self.adapter.default_server,
            self.adapter.schemes,
            input,
            &call,
        )
        .map_err(|e| match e {
            BuildError::InvalidInput(m) => CallError::InvalidInput(m),
            BuildError::MissingCredential(m) => CallError::MissingCredential(m),
        })?;
        let uri = format!("{}://{}{}", req.scheme, req.authority, req.path_and_query);
        let mut builder = hyper::Request::builder().method(req.method).uri(&uri);
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder
            .body(Full::new(Bytes::from(req.body.unwrap_or_default())))
            .map_err(|e| {
                CallError::InvalidInput(format!("cannot form the request to {uri}: {e}"))
            })?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                CallError::Transport(format!("{} {uri}: {}", req.method, error_chain(&e)))
            })?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| CallError::Transport(format!("reading the answer of {uri}: {e}")))?
                .to_bytes();
            Ok::<_, CallError>((status, content_type, body))
        };
        let (status, content_type, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                CallError::Transport(format!(
                    "{} {uri}: no answer within {:?}",
                    req.method, self.timeout
                ))
            })??;
        if !(200..300).contains(&status) {
            return Err(CallError::Vendor {
                status: u32::from(status),
                content_type: content_type.unwrap_or_default(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        Ok(output_json(content_type.as_deref(), &body))
    }
}

/// An error and its causes, one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
