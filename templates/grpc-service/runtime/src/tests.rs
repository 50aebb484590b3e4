//! Unit tests of the gRPC service runtime: configuration, how a failed call
//! becomes a gRPC status, and the gRPC vendor's request and metadata
//! handling. Part of the aip-builder gRPC service runtime; copied verbatim
//! into every service, so `cargo test` runs there too.

use std::collections::HashMap;
use std::time::Duration;

use prost::Message;
use prost_reflect::DescriptorPool;
use tonic::Code;

use crate::config::Config;
use crate::errors::{CallError, truncate};
use crate::grpc_vendor::{metadata, parse_requests, to_json, vendor_error};
use crate::proto::adapter_error::Kind;
use crate::proto::{AdapterError, FILE_DESCRIPTOR_SET};
use crate::runtime::spec::Rpc;

fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|name| vars.get(name).cloned())
}

#[test]
fn configuration_defaults() {
    let config = config(&[]).expect("no variables is a valid configuration");
    assert_eq!(config.listen.to_string(), "0.0.0.0:50051");
    assert_eq!(config.vendor_url, None);
    assert!(config.credentials.is_empty());
    assert_eq!(config.vendor_timeout, Duration::from_secs(60));
    assert_eq!(config.log_level, tracing::Level::INFO);
}

#[test]
fn configuration_is_read_and_normalised() {
    let config = config(&[
        ("AIP_LISTEN", " 127.0.0.1:0 "),
        ("AIP_VENDOR_URL", "https://vendor.example/api/"),
        ("AIP_CREDENTIALS", r#"{"api_key":"k","bearer":"t"}"#),
        ("AIP_VENDOR_TIMEOUT_SECS", "5"),
        ("AIP_LOG", "debug"),
        ("AIP_UNRELATED", "ignored"),
    ])
    .expect("valid");
    assert_eq!(config.listen.to_string(), "127.0.0.1:0");
    assert_eq!(
        config.vendor_url.as_deref(),
        Some("https://vendor.example/api")
    );
    let mut credentials = config.credentials.clone();
    credentials.sort();
    assert_eq!(
        credentials,
        vec![
            ("api_key".to_string(), "k".to_string()),
            ("bearer".to_string(), "t".to_string())
        ]
    );
    assert_eq!(config.vendor_timeout, Duration::from_secs(5));
    assert_eq!(config.log_level, tracing::Level::DEBUG);
    assert!(config_is_default_when_blank());
}

fn config_is_default_when_blank() -> bool {
    config(&[("AIP_LISTEN", "  "), ("AIP_LOG", "")])
        .is_ok_and(|c| c.listen.port() == 50051 && c.log_level == tracing::Level::INFO)
}

#[test]
fn each_bad_variable_is_named() {
    let cases = [
        (
            "AIP_LISTEN",
            "localhost",
            "AIP_LISTEN=\"localhost\" is not an address like 0.0.0.0:50051",
        ),
        (
            "AIP_VENDOR_URL",
            "vendor.example",
            "AIP_VENDOR_URL=\"vendor.example\" must start with http:// or https://",
        ),
        ("AIP_CREDENTIALS", "{", "AIP_CREDENTIALS is not JSON"),
        (
            "AIP_CREDENTIALS",
            "[]",
            "AIP_CREDENTIALS must be a JSON object of scheme name -> credential",
        ),
        (
            "AIP_CREDENTIALS",
            r#"{"k":1}"#,
            "AIP_CREDENTIALS: the credential for \"k\" must be a string",
        ),
        (
            "AIP_VENDOR_TIMEOUT_SECS",
            "0",
            "AIP_VENDOR_TIMEOUT_SECS=\"0\" is not a positive number of seconds",
        ),
        (
            "AIP_VENDOR_TIMEOUT_SECS",
            "soon",
            "AIP_VENDOR_TIMEOUT_SECS=\"soon\" is not a positive number of seconds",
        ),
        (
            "AIP_LOG",
            "loud",
            "AIP_LOG=\"loud\" is not one of error, warn, info, debug, trace",
        ),
    ];
    for (name, value, expected) in cases {
        let error = config(&[(name, value)]).expect_err("refused");
        assert!(error.starts_with(expected), "{name}={value}: {error}");
    }
}

/// The code of `error`'s status and the `AdapterError` in its details.
fn status_of(error: CallError) -> (Code, String, AdapterError) {
    let status = error.into_status();
    /// `google.rpc.Status`, read back independently of errors.rs.
    #[derive(Clone, PartialEq, Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
        #[prost(message, repeated, tag = "3")]
        details: Vec<prost_types::Any>,
    }
    let details = RpcStatus::decode(status.details()).expect("details are a google.rpc.Status");
    assert_eq!(
        details.code,
        status.code() as i32,
        "the details repeat the code"
    );
    let [any] = details.details.as_slice() else {
        panic!("one detail expected, got {}", details.details.len());
    };
    assert_eq!(
        any.type_url,
        "type.googleapis.com/aip.adapter.v1.AdapterError"
    );
    let detail = AdapterError::decode(any.value.as_slice()).expect("an AdapterError");
    (status.code(), status.message().to_string(), detail)
}

#[test]
fn each_failure_kind_has_its_own_status_code_and_detail() {
    let cases = [
        (
            CallError::UnknownOperation("nope".into()),
            Code::NotFound,
            Kind::UnknownOperation,
        ),
        (
            CallError::InvalidInput("bad".into()),
            Code::InvalidArgument,
            Kind::InvalidInput,
        ),
        (
            CallError::MissingCredential("key".into()),
            Code::Unauthenticated,
            Kind::MissingCredential,
        ),
        (
            CallError::Transport("down".into()),
            Code::Unavailable,
            Kind::Transport,
        ),
    ];
    for (error, code, kind) in cases {
        let label = error.kind();
        let (got_code, message, detail) = status_of(error);
        assert_eq!((got_code, detail.kind), (code, kind as i32), "{label}");
        assert_eq!(detail.message, message);
        assert!(detail.vendor.is_none());
    }
}

#[test]
fn vendor_failures_carry_the_vendor_answer_whole_and_a_short_message() {
    let body = format!("{}é", "x".repeat(511));
    let (code, message, detail) = status_of(CallError::Vendor {
        status: 503,
        content_type: "text/plain".into(),
        body: body.clone(),
    });
    assert_eq!(code, Code::FailedPrecondition);
    assert_eq!(
        message,
        format!("the vendor answered 503: {}", "x".repeat(511)),
        "cut before the character that crosses 512 bytes"
    );
    let vendor = detail.vendor.expect("the vendor's answer");
    assert_eq!(
        (vendor.status, vendor.content_type.as_str(), vendor.body),
        (503, "text/plain", body)
    );
}

#[test]
fn truncation_keeps_whole_characters() {
    assert_eq!(truncate("short", 512), "short");
    assert_eq!(truncate("ééé", 3), "é");
    assert_eq!(truncate("ééé", 4), "éé");
}

fn invoke_request_type() -> prost_reflect::MessageDescriptor {
    DescriptorPool::decode(FILE_DESCRIPTOR_SET)
        .expect("the embedded descriptor set decodes")
        .get_message_by_name("aip.adapter.v1.InvokeRequest")
        .expect("InvokeRequest is in it")
}

fn rpc(client_streaming: bool) -> Rpc {
    Rpc {
        service: "aip.adapter.v1.Adapter",
        method: "Invoke",
        input_type: "aip.adapter.v1.InvokeRequest",
        output_type: "aip.adapter.v1.InvokeResponse",
        client_streaming,
        server_streaming: false,
    }
}

fn invalid_input(result: Result<Vec<prost_reflect::DynamicMessage>, CallError>) -> String {
    match result {
        Err(CallError::InvalidInput(message)) => message,
        Err(other) => panic!("expected invalid input, got {}", other.kind()),
        Ok(messages) => panic!("expected invalid input, got {} messages", messages.len()),
    }
}

#[test]
fn unary_input_is_one_message_in_proto_json() {
    let messages = parse_requests(
        &rpc(false),
        &invoke_request_type(),
        r#"{"operation":"op","inputJson":"{}"}"#,
    )
    .expect("fits");
    let [message] = messages.as_slice() else {
        panic!("one message")
    };
    assert_eq!(
        message
            .get_field_by_name("operation")
            .and_then(|v| v.as_str().map(str::to_string))
            .as_deref(),
        Some("op")
    );
    let message = invalid_input(parse_requests(
        &rpc(false),
        &invoke_request_type(),
        r#"{"nosuch":1}"#,
    ));
    assert!(
        message.starts_with("input does not fit aip.adapter.v1.InvokeRequest"),
        "{message}"
    );
    assert!(
        invalid_input(parse_requests(&rpc(false), &invoke_request_type(), "{"))
            .starts_with("input is not valid JSON")
    );
}

#[test]
fn streaming_input_is_an_array_and_errors_name_the_message() {
    let messages = parse_requests(
        &rpc(true),
        &invoke_request_type(),
        r#"[{"operation":"a"},{"operation":"b"}]"#,
    )
    .expect("fits");
    assert_eq!(messages.len(), 2);
    let message = invalid_input(parse_requests(
        &rpc(true),
        &invoke_request_type(),
        r#"{"operation":"a"}"#,
    ));
    assert_eq!(
        message,
        "aip.adapter.v1.Adapter.Invoke takes a stream: the input must be a JSON array of aip.adapter.v1.InvokeRequest messages"
    );
    let message = invalid_input(parse_requests(
        &rpc(true),
        &invoke_request_type(),
        r#"[{"operation":"a"},{"requestId":5}]"#,
    ));
    assert!(
        message.starts_with("input (message 1) does not fit"),
        "{message}"
    );
}

#[test]
fn credentials_become_lowercase_metadata_and_bad_ones_are_refused() {
    let credentials = vec![("Api-Key".to_string(), "k1".to_string())];
    let map = metadata(&credentials, Some("req-7")).expect("valid metadata");
    assert_eq!(map.get("api-key").and_then(|v| v.to_str().ok()), Some("k1"));
    assert_eq!(
        map.get("x-request-id").and_then(|v| v.to_str().ok()),
        Some("req-7")
    );
    let bad_key = vec![("api key".to_string(), "k".to_string())];
    assert!(
        matches!(metadata(&bad_key, None), Err(CallError::InvalidInput(m)) if m.contains("is not a gRPC metadata key"))
    );
    let bad_value = vec![("key".to_string(), "a\nb".to_string())];
    assert!(
        matches!(metadata(&bad_value, None), Err(CallError::InvalidInput(m)) if m.contains("is not a valid metadata value"))
    );
}

#[test]
fn a_status_from_the_vendor_is_a_vendor_error() {
    match vendor_error(tonic::Status::new(Code::NotFound, "no such shelf")) {
        CallError::Vendor {
            status,
            content_type,
            body,
        } => {
            assert_eq!(
                (status, content_type.as_str(), body.as_str()),
                (Code::NotFound as u32, "application/grpc", "no such shelf")
            );
        }
        other => panic!("expected a vendor error, got {}", other.kind()),
    }
}

#[test]
fn an_answer_the_json_mapping_cannot_show_is_an_error_not_a_string() {
    let any = DescriptorPool::global()
        .get_message_by_name("google.protobuf.Any")
        .expect("well-known types are in the global pool");
    let mut message = prost_reflect::DynamicMessage::new(any);
    message.set_field_by_name(
        "type_url",
        prost_reflect::Value::String("type.googleapis.com/vendor.Unknown".into()),
    );
    match to_json(&message) {
        Err(CallError::Transport(text)) => assert!(
            text.contains("google.protobuf.Any answer cannot be shown as JSON"),
            "{text}"
        ),
        other => panic!("expected a transport error, got {other:?}"),
    }
}
