//! Reading a live gRPC server's schema through server reflection
//! (`grpc.reflection.v1`, falling back to `v1alpha`), bounded by a timeout.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use prost::Message;
use prost_reflect::DescriptorPool;
use prost_types::FileDescriptorProto;

use crate::IngestError;

/// Most files one reflection ingest may fetch.
const MAX_FILES: usize = 512;

/// What one reflection request can answer with.
enum Answer {
    Services(Vec<String>),
    Files(Vec<Vec<u8>>),
    Error(String),
}

/// One reflection round trip: a request kind and its argument.
enum Ask {
    ListServices,
    Symbol(String),
    File(String),
}

macro_rules! reflection_version {
    ($name:ident, $pb:path) => {
        async fn $name(
            channel: tonic::transport::Channel,
            ask: &Ask,
        ) -> Result<Answer, tonic::Status> {
            use pb::server_reflection_request::MessageRequest;
            use pb::server_reflection_response::MessageResponse;
            use $pb as pb;
            let message_request = match ask {
                Ask::ListServices => MessageRequest::ListServices(String::new()),
                Ask::Symbol(s) => MessageRequest::FileContainingSymbol(s.clone()),
                Ask::File(f) => MessageRequest::FileByFilename(f.clone()),
            };
            let request = pb::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(message_request),
            };
            let mut client = pb::server_reflection_client::ServerReflectionClient::new(channel);
            let mut stream = client
                .server_reflection_info(tokio_stream::once(request))
                .await?
                .into_inner();
            let response = stream.message().await?.ok_or_else(|| {
                tonic::Status::unavailable("the reflection stream ended without an answer")
            })?;
            Ok(match response.message_response {
                Some(MessageResponse::ListServicesResponse(list)) => {
                    Answer::Services(list.service.into_iter().map(|s| s.name).collect())
                }
                Some(MessageResponse::FileDescriptorResponse(files)) => {
                    Answer::Files(files.file_descriptor_proto)
                }
                Some(MessageResponse::ErrorResponse(e)) => Answer::Error(e.error_message),
                _ => Answer::Error("unexpected reflection answer".into()),
            })
        }
    };
}

reflection_version!(ask_v1, tonic_reflection::pb::v1);
reflection_version!(ask_v1alpha, tonic_reflection::pb::v1alpha);

/// Fetches every service's files (and their imports) from `url`
/// (`grpc://host:port` or `grpcs://host:port`). Returns the pool and the
/// names of the files that define the listed services.
pub fn fetch(
    url: &str,
    timeout: Duration,
) -> Result<(DescriptorPool, Vec<String>, Vec<u8>), IngestError> {
    let fail = |reason: String| IngestError::Fetch {
        url: url.to_string(),
        reason,
    };
    let endpoint = if let Some(rest) = url.strip_prefix("grpc://") {
        format!("http://{}", rest.trim_end_matches('/'))
    } else if let Some(rest) = url.strip_prefix("grpcs://") {
        format!("https://{}", rest.trim_end_matches('/'))
    } else {
        return Err(fail(
            "expected grpc://host:port or grpcs://host:port".into(),
        ));
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start a runtime: {e}")))?;
    runtime.block_on(async {
        match tokio::time::timeout(timeout, fetch_async(&endpoint, timeout)).await {
            Ok(result) => result.map_err(fail),
            Err(_) => Err(fail(format!(
                "no complete reflection answer within {}s (is it a gRPC server with reflection enabled?)",
                timeout.as_secs()
            ))),
        }
    })
}

async fn fetch_async(
    endpoint: &str,
    timeout: Duration,
) -> Result<(DescriptorPool, Vec<String>, Vec<u8>), String> {
    let mut ep = tonic::transport::Endpoint::from_shared(endpoint.to_string())
        .map_err(|e| format!("invalid address: {e}"))?
        .connect_timeout(timeout)
        .timeout(timeout);
    if endpoint.starts_with("https://") {
        ep = ep
            .tls_config(tonic::transport::ClientTlsConfig::new().with_webpki_roots())
            .map_err(|e| format!("TLS: {e}"))?;
    }
    let channel = ep
        .connect()
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;

    // v1 first; servers that only know v1alpha answer Unimplemented.
    let mut alpha = false;
    let services = match ask(&channel, alpha, &Ask::ListServices).await {
        Err(status) if status.code() == tonic::Code::Unimplemented => {
            alpha = true;
            ask(&channel, alpha, &Ask::ListServices).await
        }
        other => other,
    }
    .map_err(|s| match s.code() {
        tonic::Code::Cancelled | tonic::Code::DeadlineExceeded => format!(
            "the server did not answer within {}s (is it a gRPC server with reflection enabled?)",
            timeout.as_secs()
        ),
        _ => format!("reflection failed: {} ({:?})", s.message(), s.code()),
    })?;
    let Answer::Services(services) = services else {
        return Err("the server did not list its services".into());
    };
    let services: Vec<String> = services
        .into_iter()
        .filter(|s| !s.starts_with("grpc.reflection."))
        .collect();
    if services.is_empty() {
        return Err("the server lists no services besides reflection".into());
    }

    let mut files: BTreeMap<String, FileDescriptorProto> = BTreeMap::new();
    let mut service_files = BTreeSet::new();
    for service in &services {
        let before: BTreeSet<String> = files.keys().cloned().collect();
        absorb(
            ask(&channel, alpha, &Ask::Symbol(service.clone())).await,
            &mut files,
            service,
        )?;
        // The file defining the service is the one declaring it.
        if let Some((name, _)) = files.iter().find(|(_, f)| {
            f.service
                .iter()
                .any(|s| format!("{}{}", prefix(f), s.name()) == *service)
        }) {
            service_files.insert(name.clone());
        } else if let Some(first_new) = files.keys().find(|k| !before.contains(*k)) {
            service_files.insert(first_new.clone());
        }
    }
    // Fetch imports the server did not volunteer.
    loop {
        let missing: Vec<String> = files
            .values()
            .flat_map(|f| f.dependency.iter().cloned())
            .filter(|d| !files.contains_key(d))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if missing.is_empty() {
            break;
        }
        if files.len() > MAX_FILES {
            return Err(format!(
                "the server's schema spans more than {MAX_FILES} files"
            ));
        }
        for name in missing {
            absorb(
                ask(&channel, alpha, &Ask::File(name.clone())).await,
                &mut files,
                &name,
            )?;
            if !files.contains_key(&name) {
                return Err(format!("the server did not send the imported file {name}"));
            }
        }
    }
    let set = prost_types::FileDescriptorSet {
        file: files.into_values().collect(),
    };
    let bytes = set.encode_to_vec();
    let pool = DescriptorPool::from_file_descriptor_set(set)
        .map_err(|e| format!("inconsistent schema from the server: {e}"))?;
    Ok((pool, service_files.into_iter().collect(), bytes))
}

fn prefix(file: &FileDescriptorProto) -> String {
    match file.package() {
        "" => String::new(),
        p => format!("{p}."),
    }
}

async fn ask(
    channel: &tonic::transport::Channel,
    alpha: bool,
    what: &Ask,
) -> Result<Answer, tonic::Status> {
    if alpha {
        ask_v1alpha(channel.clone(), what).await
    } else {
        ask_v1(channel.clone(), what).await
    }
}

fn absorb(
    answer: Result<Answer, tonic::Status>,
    files: &mut BTreeMap<String, FileDescriptorProto>,
    subject: &str,
) -> Result<(), String> {
    match answer.map_err(|s| format!("reflection failed for {subject}: {}", s.message()))? {
        Answer::Files(protos) => {
            for bytes in protos {
                let file = FileDescriptorProto::decode(bytes.as_slice())
                    .map_err(|e| format!("invalid descriptor for {subject}: {e}"))?;
                files.insert(file.name().to_string(), file);
            }
            Ok(())
        }
        Answer::Error(e) => Err(format!("the server could not describe {subject}: {e}")),
        Answer::Services(_) => Err(format!("unexpected answer for {subject}")),
    }
}
