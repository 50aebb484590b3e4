//! The mock gRPC vendor: a server on a loopback port that serves every
//! method of the spec's descriptor set. It judges each call: the method is
//! one of the spec's, a method that does not take a stream gets exactly
//! one request message, every message decodes as the method's input type
//! with no field the type does not declare, and every credential arrives
//! as request metadata under its scheme's name. It answers with messages
//! of the output type synthesized from the descriptor (`proto_synth.rs`),
//! two for a method that streams its answers; a call it refuses gets
//! `INVALID_ARGUMENT` naming the problems.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use aip_ir::{Api, Operation};
use bytes::{Buf, BufMut};
use futures_util::Stream;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Status, Streaming};

use crate::ContractError;
use crate::mock::{LoopbackServer, take};
use crate::proto_synth;
use crate::validate::Verdict;

struct Shared {
    api: Arc<Api>,
    pool: DescriptorPool,
    credentials: BTreeMap<String, String>,
    seen: Mutex<Vec<Verdict>>,
}

/// A running mock gRPC vendor; stops when dropped.
pub struct GrpcMockVendor {
    server: LoopbackServer,
    shared: Arc<Shared>,
}

impl GrpcMockVendor {
    /// Starts a mock of the gRPC `api` that expects `credentials` (by
    /// scheme) as metadata.
    pub fn start(
        api: Arc<Api>,
        credentials: BTreeMap<String, String>,
    ) -> Result<GrpcMockVendor, ContractError> {
        let descriptors = api
            .descriptor_set
            .as_deref()
            .ok_or_else(|| ContractError::Spec("the gRPC spec carries no descriptor set".into()))?;
        let pool = DescriptorPool::decode(descriptors)
            .map_err(|e| ContractError::Spec(format!("the descriptor set does not load: {e}")))?;
        let shared = Arc::new(Shared {
            api,
            pool,
            credentials,
            seen: Mutex::new(Vec::new()),
        });
        let state = shared.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let state = state.clone();
            async move { answer(state, request).await }
        });
        Ok(GrpcMockVendor {
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
}

async fn answer(shared: Arc<Shared>, request: axum::extract::Request) -> axum::response::Response {
    let path = request.uri().path().to_string();
    let Some(op) = shared.api.operations.iter().find(|op| {
        op.rpc
            .as_ref()
            .is_some_and(|rpc| format!("/{}/{}", rpc.service, rpc.method) == path)
    }) else {
        shared.record(Verdict {
            operation: None,
            endpoint_of: Vec::new(),
            problems: vec![format!("{path} is not a method of the spec")],
        });
        return Status::unimplemented(format!("{path} is not a method of the spec")).into_http();
    };
    let method = Method {
        shared: shared.clone(),
        op: op.clone(),
    };
    tonic::server::Grpc::new(RawCodec)
        .streaming(method, request)
        .await
        .map(axum::body::Body::new)
}

impl Shared {
    fn record(&self, verdict: Verdict) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(verdict);
        }
    }

    /// What is wrong with a call of `op` that sent `messages` with
    /// `metadata`.
    fn judge(
        &self,
        op: &Operation,
        messages: &[Vec<u8>],
        metadata: &tonic::metadata::MetadataMap,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        let Some(rpc) = &op.rpc else {
            return vec![format!("{} is not a gRPC method", op.id)];
        };
        if !rpc.client_streaming && messages.len() != 1 {
            problems.push(format!(
                "{} takes one request message, not {}",
                rpc.method,
                messages.len()
            ));
        }
        match self.pool.get_message_by_name(&rpc.input_type) {
            None => problems.push(format!("{} is not in the descriptor set", rpc.input_type)),
            Some(input) => {
                for (index, bytes) in messages.iter().enumerate() {
                    match DynamicMessage::decode(input.clone(), bytes.as_slice()) {
                        Err(e) => problems.push(format!(
                            "request message {index} does not decode as {}: {e}",
                            rpc.input_type
                        )),
                        Ok(message) => {
                            let unknown: Vec<String> = message
                                .unknown_fields()
                                .map(|f| f.number().to_string())
                                .collect();
                            if !unknown.is_empty() {
                                problems.push(format!(
                                    "request message {index} has field number(s) {} that {} does not declare",
                                    unknown.join(", "),
                                    rpc.input_type
                                ));
                            }
                        }
                    }
                }
            }
        }
        for (scheme, expected) in &self.credentials {
            let key = scheme.to_ascii_lowercase();
            match metadata.get(key.as_str()).map(|v| v.to_str()) {
                Some(Ok(value)) if value == expected => {}
                Some(_) => problems.push(format!(
                    "the credential for {scheme} arrived in metadata {key:?} with another value"
                )),
                None => problems.push(format!(
                    "the credential for {scheme} is not in the request metadata as {key:?}"
                )),
            }
        }
        problems
    }

    /// The answers to a call of `op`: one message, two for a method that
    /// streams its answers.
    fn answers(&self, op: &Operation) -> Result<Vec<Vec<u8>>, Status> {
        let rpc = op
            .rpc
            .as_ref()
            .ok_or_else(|| Status::unimplemented("not a gRPC method"))?;
        let output = self
            .pool
            .get_message_by_name(&rpc.output_type)
            .ok_or_else(|| Status::internal(format!("{} is missing", rpc.output_type)))?;
        let answer = proto_synth::message(&output).encode_to_vec();
        let count = if rpc.server_streaming { 2 } else { 1 };
        Ok(vec![answer; count])
    }
}

type Answers = Pin<Box<dyn Stream<Item = Result<Vec<u8>, Status>> + Send>>;

/// One call of one method.
struct Method {
    shared: Arc<Shared>,
    op: Operation,
}

impl tonic::server::StreamingService<Vec<u8>> for Method {
    type Response = Vec<u8>;
    type ResponseStream = Answers;
    type Future = Pin<Box<dyn Future<Output = Result<tonic::Response<Answers>, Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<Streaming<Vec<u8>>>) -> Self::Future {
        let shared = self.shared.clone();
        let op = self.op.clone();
        Box::pin(async move {
            let metadata = request.metadata().clone();
            let mut stream = request.into_inner();
            let mut messages = Vec::new();
            let mut problems = Vec::new();
            loop {
                match stream.message().await {
                    Ok(Some(message)) => messages.push(message),
                    Ok(None) => break,
                    Err(status) => {
                        problems.push(format!("the request stream broke: {}", status.message()));
                        break;
                    }
                }
            }
            problems.extend(shared.judge(&op, &messages, &metadata));
            shared.record(Verdict {
                operation: Some(op.id.clone()),
                endpoint_of: vec![op.id.clone()],
                problems: problems.clone(),
            });
            if !problems.is_empty() {
                return Err(Status::invalid_argument(problems.join("; ")));
            }
            let answers = shared.answers(&op)?;
            let stream: Answers = Box::pin(futures_util::stream::iter(answers.into_iter().map(Ok)));
            Ok(tonic::Response::new(stream))
        })
    }
}

/// Messages as their encoded bytes: the mock decodes requests itself, so
/// that one that does not decode is judged rather than refused unseen.
#[derive(Clone, Copy)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}
