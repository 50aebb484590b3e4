//! The mock vendor: an HTTP server on a loopback port that judges every
//! request against the spec (`validate.rs`) and answers with the first
//! success response the operation documents, its body synthesized from the
//! schema (`synth.rs`). A request it refuses gets a 400 naming the
//! problems; every verdict is kept for the test to read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aip_ir::Api;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::ContractError;
use crate::synth::Synth;
use crate::validate::{Request, Verdict, judge};

struct Shared {
    api: Arc<Api>,
    credentials: BTreeMap<String, String>,
    seen: Mutex<Vec<Verdict>>,
    /// The input of the call under test, when the test says it.
    input: Mutex<Option<serde_json::Value>>,
}

/// A running mock vendor; stops when dropped.
pub struct MockVendor {
    server: LoopbackServer,
    shared: Arc<Shared>,
}

impl MockVendor {
    /// Starts a mock of `api` that expects `credentials` (by scheme).
    pub fn start(
        api: Arc<Api>,
        credentials: BTreeMap<String, String>,
    ) -> Result<MockVendor, ContractError> {
        let shared = Arc::new(Shared {
            api,
            credentials,
            seen: Mutex::new(Vec::new()),
            input: Mutex::new(None),
        });
        let state = shared.clone();
        let app = axum::Router::new().fallback(move |method, uri, headers, body| {
            let state = state.clone();
            async move { answer(&state, method, uri, headers, body) }
        });
        Ok(MockVendor {
            server: LoopbackServer::start(app)?,
            shared,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// The verdicts since the last call.
    pub fn take(&self) -> Vec<Verdict> {
        take(&self.shared.seen)
    }

    /// The input the module is called with next: each parameter in it must
    /// then arrive, an array or object in its style.
    pub fn expect(&self, input: serde_json::Value) {
        if let Ok(mut slot) = self.shared.input.lock() {
            *slot = Some(input);
        }
    }
}

/// The verdicts in `seen`, leaving it empty.
pub(crate) fn take(seen: &Mutex<Vec<Verdict>>) -> Vec<Verdict> {
    seen.lock()
        .map(|mut seen| std::mem::take(&mut *seen))
        .unwrap_or_default()
}

/// An axum app served on a loopback port by a thread of its own (HTTP/1
/// and HTTP/2 without TLS, so gRPC clients reach it too); stops when
/// dropped.
pub(crate) struct LoopbackServer {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LoopbackServer {
    pub(crate) fn start(app: axum::Router) -> Result<LoopbackServer, ContractError> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(ContractError::Mock)?;
        let url = format!(
            "http://{}",
            listener.local_addr().map_err(ContractError::Mock)?
        );
        listener
            .set_nonblocking(true)
            .map_err(ContractError::Mock)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ContractError::Mock)?;
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Ok(LoopbackServer {
            url,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer(shared: &Shared, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let request = Request {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let input = shared.input.lock().ok().and_then(|slot| slot.clone());
    let verdict = judge(&shared.api, &request, &shared.credentials, input.as_ref());
    let operation = verdict.operation.clone();
    let problems = verdict.problems.clone();
    if let Ok(mut seen) = shared.seen.lock() {
        seen.push(verdict);
    }
    if !problems.is_empty() {
        let body = serde_json::json!({ "problems": problems }).to_string();
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
    }
    let Some(op) = operation.and_then(|id| shared.api.operations.iter().find(|o| o.id == id))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // The first success with a body (so the module's decoding is tested),
    // else the first success.
    let successes = || op.responses.iter().filter(|r| r.is_success());
    let Some(response) = successes()
        .find(|r| !r.contents.is_empty())
        .or_else(|| successes().next())
    else {
        return StatusCode::OK.into_response();
    };
    let status = response
        .status
        .parse::<u16>()
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let Some(media) = response.contents.first() else {
        return status.into_response();
    };
    let synth = Synth::new(&shared.api.schemas);
    let value = media
        .schema
        .as_ref()
        .map_or(serde_json::json!({}), |s| synth.value(s, 0));
    let json_media = media.media_type == "application/json" || media.media_type.ends_with("+json");
    let body = match (&value, json_media) {
        (_, true) => value.to_string(),
        (serde_json::Value::String(text), false) => text.clone(),
        (other, false) => other.to_string(),
    };
    (
        status,
        [(header::CONTENT_TYPE, media.media_type.clone())],
        body,
    )
        .into_response()
}
