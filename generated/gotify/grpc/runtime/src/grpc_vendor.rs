//! gRPC vendors: each call is forwarded to the vendor method with
//! prost-reflect dynamic messages built from the vendor's descriptor set,
//! embedded at generation time. One generic path serves every method kind
//! (unary, server-, client- and bidi-streaming); JSON follows the proto3
//! JSON mapping both ways. Part of the aip-builder gRPC service runtime;
//! copied verbatim into every service.

use std::pin::Pin;
use std::time::Duration;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use tokio_stream::{Stream, StreamExt};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::errors::CallError;
use crate::rest::error_chain;
use crate::runtime::spec::{Operation, Rpc};

/// The vendor's answers, as output JSON texts.
pub type Answers = Pin<Box<dyn Stream<Item = Result<String, CallError>> + Send>>;

/// Calls a gRPC vendor.
pub struct GrpcVendor {
    pool: DescriptorPool,
    channel: Option<Channel>,
    endpoint: Option<String>,
}

impl GrpcVendor {
    /// A lazily connecting client for `endpoint`.
    pub fn new(
        descriptor_set: &[u8],
        endpoint: Option<String>,
        timeout: Duration,
    ) -> Result<GrpcVendor, String> {
        let pool = DescriptorPool::decode(descriptor_set)
            .map_err(|e| format!("the embedded vendor descriptor set does not load: {e}"))?;
        let channel = match &endpoint {
            Some(url) => {
                let mut ep = Endpoint::from_shared(url.clone())
                    .map_err(|e| format!("AIP_VENDOR_URL={url:?}: {e}"))?
                    .connect_timeout(Duration::from_secs(10))
                    .timeout(timeout);
                if url.starts_with("https://") {
                    ep = ep
                        .tls_config(ClientTlsConfig::new().with_webpki_roots())
                        .map_err(|e| format!("TLS for {url}: {e}"))?;
                }
                Some(ep.connect_lazy())
            }
            None => None,
        };
        Ok(GrpcVendor {
            pool,
            channel,
            endpoint,
        })
    }

    /// Where calls go, for the startup log.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// Calls `op`; the answers arrive as a stream (one item unless the
    /// method streams responses).
    pub async fn call(
        &self,
        op: &Operation,
        input: &str,
        credentials: &[(String, String)],
        request_id: Option<&str>,
    ) -> Result<Answers, CallError> {
        let Some(rpc) = &op.rpc else {
            return Err(CallError::UnknownOperation(format!(
                "{} is not a gRPC method",
                op.id
            )));
        };
        let Some(channel) = self.channel.clone() else {
            return Err(CallError::Transport(
                "no vendor endpoint: the spec names none, so set AIP_VENDOR_URL (http(s)://host:port)".into(),
            ));
        };
        let input_type = self.message(rpc.input_type)?;
        let output_type = self.message(rpc.output_type)?;
        let requests = parse_requests(rpc, &input_type, input)?;
        let metadata = metadata(credentials, request_id)?;
        let path = tonic::codegen::http::uri::PathAndQuery::try_from(format!(
            "/{}/{}",
            rpc.service, rpc.method
        ))
        .map_err(|e| CallError::InvalidInput(format!("method path of {}: {e}", op.id)))?;
        let codec = DynamicCodec {
            output: output_type,
        };
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.map_err(|e| {
            CallError::Transport(format!(
                "vendor {}: {}",
                self.endpoint.as_deref().unwrap_or(""),
                error_chain(&e)
            ))
        })?;
        let answers: Answers = match (rpc.client_streaming, rpc.server_streaming) {
            (false, false) => {
                let request = with_metadata(single(requests)?, &metadata);
                let answer = grpc
                    .unary(request, path, codec)
                    .await
                    .map_err(vendor_error)?;
                Box::pin(tokio_stream::once(to_json(&answer.into_inner())))
            }
            (false, true) => {
                let request = with_metadata(single(requests)?, &metadata);
                let answers = grpc
                    .server_streaming(request, path, codec)
                    .await
                    .map_err(vendor_error)?;
                Box::pin(
                    answers
                        .into_inner()
                        .map(|item| item.map_err(vendor_error).and_then(|m| to_json(&m))),
                )
            }
            (true, false) => {
                let request = with_metadata(tokio_stream::iter(requests), &metadata);
                let answer = grpc
                    .client_streaming(request, path, codec)
                    .await
                    .map_err(vendor_error)?;
                Box::pin(tokio_stream::once(to_json(&answer.into_inner())))
            }
            (true, true) => {
                let request = with_metadata(tokio_stream::iter(requests), &metadata);
                let answers = grpc
                    .streaming(request, path, codec)
                    .await
                    .map_err(vendor_error)?;
                Box::pin(
                    answers
                        .into_inner()
                        .map(|item| item.map_err(vendor_error).and_then(|m| to_json(&m))),
                )
            }
        };
        Ok(answers)
    }

    fn message(&self, name: &str) -> Result<MessageDescriptor, CallError> {
        self.pool.get_message_by_name(name).ok_or_else(|| {
            CallError::Transport(format!(
                "message type {name} is missing from the embedded descriptor set"
            ))
        })
    }
}

/// The request messages: one JSON object, or an array of them for methods
/// that take a stream.
pub(crate) fn parse_requests(
    rpc: &Rpc,
    input_type: &MessageDescriptor,
    input: &str,
) -> Result<Vec<DynamicMessage>, CallError> {
    let value: serde_json::Value = serde_json::from_str(input)
        .map_err(|e| CallError::InvalidInput(format!("input is not valid JSON: {e}")))?;
    let decode = |index: Option<usize>, value: serde_json::Value| {
        DynamicMessage::deserialize(input_type.clone(), value).map_err(|e| {
            let at = index.map(|i| format!(" (message {i})")).unwrap_or_default();
            CallError::InvalidInput(format!(
                "input{at} does not fit {}: {e}",
                input_type.full_name()
            ))
        })
    };
    if rpc.client_streaming {
        let serde_json::Value::Array(items) = value else {
            return Err(CallError::InvalidInput(format!(
                "{}.{} takes a stream: the input must be a JSON array of {} messages",
                rpc.service,
                rpc.method,
                input_type.full_name()
            )));
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| decode(Some(i), v))
            .collect()
    } else {
        Ok(vec![decode(None, value)?])
    }
}

fn with_metadata<T>(message: T, metadata: &MetadataMap) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    *request.metadata_mut() = metadata.clone();
    request
}

fn single(mut requests: Vec<DynamicMessage>) -> Result<DynamicMessage, CallError> {
    requests
        .pop()
        .ok_or_else(|| CallError::InvalidInput("no request message".into()))
}

/// Credentials become request metadata: the scheme is the key.
pub(crate) fn metadata(
    credentials: &[(String, String)],
    request_id: Option<&str>,
) -> Result<MetadataMap, CallError> {
    let mut map = MetadataMap::new();
    for (scheme, value) in credentials {
        let key =
            AsciiMetadataKey::from_bytes(scheme.to_ascii_lowercase().as_bytes()).map_err(|_| {
                CallError::InvalidInput(format!(
                    "credential scheme {scheme:?} is not a gRPC metadata key"
                ))
            })?;
        let value = AsciiMetadataValue::try_from(value.as_str()).map_err(|_| {
            CallError::InvalidInput(format!(
                "the credential for {scheme:?} is not a valid metadata value"
            ))
        })?;
        map.insert(key, value);
    }
    if let Some(id) = request_id
        && let Ok(value) = AsciiMetadataValue::try_from(id)
    {
        map.insert("x-request-id", value);
    }
    Ok(map)
}

/// The proto3 JSON of an answer. One the mapping cannot show (an `Any`
/// packing a type the descriptor set lacks) is an error, never a string
/// passed off as the answer.
pub(crate) fn to_json(message: &DynamicMessage) -> Result<String, CallError> {
    serde_json::to_string(message).map_err(|e| {
        CallError::Transport(format!(
            "the vendor's {} answer cannot be shown as JSON: {e}",
            prost_reflect::ReflectMessage::descriptor(message).full_name()
        ))
    })
}

/// A status from the vendor is a vendor error; one made by the client
/// because the call never completed is a transport error.
pub(crate) fn vendor_error(status: tonic::Status) -> CallError {
    if std::error::Error::source(&status).is_some() {
        return CallError::Transport(format!("vendor call failed: {}", error_chain(&status)));
    }
    CallError::Vendor {
        status: status.code() as u32,
        content_type: "application/grpc".into(),
        body: status.message().to_string(),
    }
}

/// A codec failure on our side of the call. The status carries the cause as
/// its source, which is how [`vendor_error`] tells it from a status the
/// vendor sent.
fn local_fault(what: &str, error: impl std::fmt::Display) -> tonic::Status {
    tonic::Status::from_error(format!("{what}: {error}").into())
}

/// Encodes and decodes `DynamicMessage`s for tonic.
struct DynamicCodec {
    output: MessageDescriptor,
}

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> DynamicEncoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> DynamicDecoder {
        DynamicDecoder(self.output.clone())
    }
}

struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: DynamicMessage,
        dst: &mut EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        item.encode(dst)
            .map_err(|e| local_fault("encoding the request", e))
    }
}

struct DynamicDecoder(MessageDescriptor);

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, tonic::Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| local_fault("decoding the vendor's answer", e))
    }
}
