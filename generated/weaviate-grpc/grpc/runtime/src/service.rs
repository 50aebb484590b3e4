//! The `aip.adapter.v1.Adapter` service: finds the operation, merges the
//! call's credentials over the configured ones, calls the vendor and logs
//! one line per call. Part of the aip-builder gRPC service runtime; copied
//! verbatim into every service.

use std::pin::Pin;
use std::time::Instant;

use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use crate::Adapter;
use crate::config::Config;
use crate::errors::CallError;
use crate::grpc_vendor::{Answers, GrpcVendor};
use crate::proto::adapter_server::Adapter as AdapterRpc;
use crate::proto::{DescribeRequest, DescribeResponse, InvokeRequest, InvokeResponse};
use crate::rest::RestVendor;
use crate::runtime::spec::Operation;

/// How the vendor is reached.
pub enum Vendor {
    /// HTTP requests (boxed: the HTTPS client makes it large).
    Rest(Box<RestVendor>),
    /// gRPC calls.
    Grpc(GrpcVendor),
}

impl Vendor {
    /// The vendor client for this adapter and configuration.
    pub fn new(adapter: &'static Adapter, config: &Config) -> Result<Vendor, String> {
        Ok(match adapter.vendor_descriptor_set {
            Some(descriptors) => Vendor::Grpc(GrpcVendor::new(
                descriptors,
                config
                    .vendor_url
                    .clone()
                    .or_else(|| adapter.default_server.map(str::to_string)),
                config.vendor_timeout,
            )?),
            None => Vendor::Rest(Box::new(RestVendor::new(
                adapter,
                config.vendor_url.clone(),
                config.vendor_timeout,
            ))),
        })
    }

    /// Where calls go.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            Vendor::Rest(rest) => rest.endpoint(),
            Vendor::Grpc(grpc) => grpc.endpoint(),
        }
    }
}

/// The Adapter service.
pub struct AdapterService {
    adapter: &'static Adapter,
    vendor: Vendor,
    credentials: Vec<(String, String)>,
}

impl AdapterService {
    /// The service over `vendor`, with default credentials from `config`.
    pub fn new(adapter: &'static Adapter, vendor: Vendor, config: &Config) -> AdapterService {
        AdapterService {
            adapter,
            vendor,
            credentials: config.credentials.clone(),
        }
    }

    /// Calls the vendor; the answers as a stream of output JSON texts.
    async fn answers(
        &self,
        req: &InvokeRequest,
    ) -> Result<(&'static Operation, Answers), CallError> {
        let Some(op) = (self.adapter.find)(&req.operation) else {
            return Err(CallError::UnknownOperation(format!(
                "no operation {:?} in module {}",
                req.operation, self.adapter.module
            )));
        };
        // The call's own credentials win over the configured ones.
        let mut credentials: Vec<(String, String)> = req
            .credentials
            .iter()
            .map(|c| (c.scheme.clone(), c.value.clone()))
            .collect();
        for (scheme, value) in &self.credentials {
            if !credentials.iter().any(|(s, _)| s == scheme) {
                credentials.push((scheme.clone(), value.clone()));
            }
        }
        let request_id = Some(req.request_id.as_str()).filter(|id| !id.is_empty());
        let answers: Answers = match &self.vendor {
            Vendor::Rest(rest) => {
                let output = rest
                    .call(op, &req.input_json, &credentials, request_id)
                    .await?;
                Box::pin(tokio_stream::once(Ok(output)))
            }
            Vendor::Grpc(grpc) => {
                grpc.call(op, &req.input_json, &credentials, request_id)
                    .await?
            }
        };
        Ok((op, answers))
    }
}

fn log_outcome(
    operation: &str,
    request_id: &str,
    started: Instant,
    outcome: Result<usize, &CallError>,
) {
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok(answers) => tracing::info!(operation, request_id, answers, millis, "call succeeded"),
        Err(e) => {
            tracing::warn!(operation, request_id, millis, kind = e.kind(), error = ?e, "call failed")
        }
    }
}

#[tonic::async_trait]
impl AdapterRpc for AdapterService {
    async fn describe(
        &self,
        _request: Request<DescribeRequest>,
    ) -> Result<Response<DescribeResponse>, Status> {
        Ok(Response::new(DescribeResponse {
            describe_json: self.adapter.describe_json.to_string(),
        }))
    }

    async fn invoke(
        &self,
        request: Request<InvokeRequest>,
    ) -> Result<Response<InvokeResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let result = async {
            let (op, mut answers) = self.answers(&req).await?;
            let mut outputs = Vec::new();
            while let Some(item) = answers.next().await {
                outputs.push(item?);
            }
            let streams = op.rpc.as_ref().is_some_and(|rpc| rpc.server_streaming);
            let count = outputs.len();
            let output = match (streams, count) {
                (false, 1) => outputs.pop().unwrap_or_default(),
                (false, n) => {
                    return Err(CallError::Transport(format!(
                        "expected one answer from the vendor, got {n}"
                    )));
                }
                (true, _) => format!("[{}]", outputs.join(",")),
            };
            Ok::<_, CallError>((output, count))
        }
        .await;
        match result {
            Ok((output, answers)) => {
                log_outcome(&req.operation, &req.request_id, started, Ok(answers));
                Ok(Response::new(InvokeResponse {
                    output_json: output,
                }))
            }
            Err(e) => {
                log_outcome(&req.operation, &req.request_id, started, Err(&e));
                Err(e.into_status())
            }
        }
    }

    type InvokeStreamStream = Pin<Box<dyn Stream<Item = Result<InvokeResponse, Status>> + Send>>;

    async fn invoke_stream(
        &self,
        request: Request<InvokeRequest>,
    ) -> Result<Response<Self::InvokeStreamStream>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        match self.answers(&req).await {
            Ok((_, answers)) => {
                tracing::info!(
                    operation = req.operation,
                    request_id = req.request_id,
                    "stream started"
                );
                let operation = req.operation.clone();
                let stream = answers.map(move |item| match item {
                    Ok(output_json) => Ok(InvokeResponse { output_json }),
                    Err(e) => {
                        tracing::warn!(operation, kind = e.kind(), error = ?e, "stream failed");
                        Err(e.into_status())
                    }
                });
                Ok(Response::new(Box::pin(stream)))
            }
            Err(e) => {
                log_outcome(&req.operation, &req.request_id, started, Err(&e));
                Err(e.into_status())
            }
        }
    }
}
