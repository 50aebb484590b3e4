//! End to end through the gRPC microservice target: a gRPC vendor (a real
//! tonic server) and a REST vendor, each called through the generated
//! service's `aip.adapter.v1.Adapter`, asserting what the vendor received
//! and what came back, for every method kind.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::echo_vendor;
use crate::service::ServiceProcess;
use crate::support::{FakeVendor, Reply, Seen, Steps, aip, build, json_reply, repo, text};

fn kinds(doc: &Value) -> Vec<(String, String)> {
    doc["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap_or("").to_string(),
                o["kind"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn echo_kinds() -> Vec<(String, String)> {
    [
        ("Say", "unary"),
        ("Count", "server-streaming"),
        ("Sum", "client-streaming"),
        ("Chat", "bidi-streaming"),
        ("Fail", "unary"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

#[test]
fn grpc_vendors_are_called_for_every_method_kind() {
    let mut steps = Steps::start("set up");
    let (_vendor_runtime, vendor_url) = echo_vendor::start();
    let proto_root = repo("tests/fixtures/proto").display().to_string();
    let (work, dir) = build(
        &repo("tests/fixtures/proto/aiptest/echo/v1/echo.proto"),
        "echo",
        &[
            "--proto-path",
            &proto_root,
            "--target",
            "grpc",
            "--vendor-url",
            &vendor_url,
        ],
    );
    let module = aip_register::open_module(&dir).expect("opens");
    let m = &module.manifest;
    assert_eq!(m.runtime.kind, "grpc");
    assert_eq!(m.runtime.service.as_deref(), Some("aip.adapter.v1.Adapter"));
    assert_eq!(m.runtime.image.as_deref(), Some(m.artifact.digest.as_str()));
    assert_eq!(m.metadata.source.format, "protobuf");
    assert_eq!(
        m.permissions.net,
        vec![vendor_url.trim_start_matches("http://").to_string()]
    );
    assert_eq!(m.intents.len(), 5);

    let service = ServiceProcess::start(
        &module.payload,
        &[("AIP_CREDENTIALS", r#"{"authorization":"Bearer from-env"}"#)],
    );
    assert_eq!(service.health(), "SERVING");
    assert_eq!(kinds(&service.describe()), echo_kinds());

    steps.enter("Unary, through the whole proto3 JSON mapping both ways; credentials");
    // Unary, through the whole proto3 JSON mapping both ways; credentials
    // become metadata (the call's own beside the configured one).
    let input = json!({
        "text": "hi \"there\"",
        "bigNumber": "9007199254740993",
        "mood": "MOOD_HAPPY",
        "labels": {"k": "v"},
        "blob": "aGk=",
        "inner": {"values": [1, 2]},
        "at": "2024-01-02T03:04:05Z"
    });
    let out = service
        .invoke("Say", &input.to_string(), &[("x-api-key", "k1")])
        .expect("Say");
    assert_eq!(out["echo"], input);
    assert_eq!(out["metadata"]["x-api-key"], "k1");
    assert_eq!(out["metadata"]["authorization"], "Bearer from-env");
    assert_eq!(out["metadata"]["x-request-id"], "req-1");

    steps.enter("Server streaming: Invoke collects, InvokeStream streams");
    let indexes = json!([{}, {"index": 1}, {"index": 2}]);
    assert_eq!(
        service
            .invoke("Count", r#"{"count":3}"#, &[])
            .expect("Count"),
        indexes
    );
    assert_eq!(
        service
            .invoke_stream("Count", r#"{"count":3}"#)
            .expect("Count stream"),
        indexes.as_array().cloned().unwrap_or_default()
    );

    steps.enter("Client streaming: a JSON array of requests");
    assert_eq!(
        service
            .invoke("Sum", r#"[{"value":"40"},{"value":"2"},{}]"#, &[])
            .expect("Sum"),
        json!({"total": "42", "messages": 3})
    );

    steps.enter("Bidi streaming");
    assert_eq!(
        service
            .invoke_stream("Chat", r#"[{"text":"a"},{"text":"b"}]"#)
            .expect("Chat"),
        vec![json!({"text": "re: a"}), json!({"text": "re: b"})]
    );

    steps.enter("Distinct failures");
    let failure = service.invoke("Fail", "{}", &[]).expect_err("vendor error");
    assert_eq!(failure.kind, "vendor");
    assert_eq!(failure.code, tonic::Code::FailedPrecondition);
    assert_eq!(failure.vendor_status, Some(9), "the vendor's gRPC code");
    assert!(failure.message.contains("always fails"), "{failure:?}");
    let failure = service.invoke("Nope", "{}", &[]).expect_err("unknown");
    assert_eq!(
        (failure.kind, failure.code),
        ("unknown-operation", tonic::Code::NotFound)
    );
    let failure = service
        .invoke("Say", r#"{"noSuchField":1}"#, &[])
        .expect_err("bad input");
    assert_eq!(failure.kind, "invalid-input");
    assert!(
        failure.message.contains("aiptest.echo.v1.SayRequest"),
        "{failure:?}"
    );
    let failure = service
        .invoke("Sum", r#"{"value":"1"}"#, &[])
        .expect_err("not a list");
    assert_eq!(failure.kind, "invalid-input");
    assert!(failure.message.contains("JSON array"), "{failure:?}");
    let failure = service
        .invoke("Say", "{}", &[("bad key", "v")])
        .expect_err("bad metadata key");
    assert_eq!(failure.kind, "invalid-input");

    steps.enter("The service describes itself through reflection: aip-builder reads it");
    let out = aip(
        work.path(),
        &[
            "describe",
            &format!("grpc://{}", service.addr()),
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let own: Value = serde_json::from_slice(&out.stdout).expect("json");
    let own = kinds(&own);
    for expected in [
        ("Adapter.Describe", "unary"),
        ("Adapter.Invoke", "unary"),
        ("Adapter.InvokeStream", "server-streaming"),
        ("Health.Check", "unary"),
    ] {
        assert!(
            own.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} in {own:?}"
        );
    }

    steps.enter("`aip-builder invoke` runs the module's executable itself");
    let out = aip(
        work.path(),
        &[
            "invoke",
            "modules/echo",
            "Say",
            "--input",
            r#"{"text":"cli"}"#,
            "--credential",
            "authorization=Bearer cli",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["output"]["echo"]["text"], "cli");
    assert_eq!(json["output"]["metadata"]["authorization"], "Bearer cli");
    let out = aip(
        work.path(),
        &["invoke", "modules/echo", "Fail", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["error"]["kind"], "vendor");

    steps.enter("`aip-builder test`: every method against a mock gRPC vendor from the descriptors");
    let spec = repo("tests/fixtures/proto/aiptest/echo/v1/echo.proto")
        .display()
        .to_string();
    let out = aip(
        work.path(),
        &[
            "test",
            "modules/echo",
            "--spec",
            &spec,
            "--proto-path",
            &proto_root,
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["failed"], 0, "{report}");
    let tested: Vec<&str> = report["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter(|o| o["accepted"] == true && o["decoded"] == true)
        .filter_map(|o| o["operation"].as_str())
        .collect();
    assert_eq!(
        tested.len(),
        5,
        "every method kind, Fail included: {report}"
    );

    steps.enter("SIGTERM stops it cleanly");
    let (status, log) = service.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        log.iter().any(|l| l.contains("SIGTERM")),
        "the shutdown is logged: {log:?}"
    );

    steps.enter("An unreachable vendor is a transport error");
    let down = ServiceProcess::start(&module.payload, &[("AIP_VENDOR_URL", "http://127.0.0.1:1")]);
    let failure = down.invoke("Say", "{}", &[]).expect_err("vendor down");
    assert_eq!(
        (failure.kind, failure.code),
        ("transport", tonic::Code::Unavailable)
    );
}

#[test]
fn live_vendors_are_read_through_reflection_and_proto_vendors_need_no_wasm() {
    let (_vendor_runtime, vendor_url) = echo_vendor::start();
    let grpc_url = vendor_url.replace("http://", "grpc://");
    let out = aip(&repo(""), &["describe", &grpc_url, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(kinds(&doc), echo_kinds());

    // Built from the live server, the module calls that server by default.
    let (work, dir) = build(
        &PathBuf::from(&grpc_url),
        "echo-live",
        &["--target", "grpc"],
    );
    let module = aip_register::open_module(&dir).expect("opens");
    assert_eq!(
        module.manifest.permissions.net,
        vec![grpc_url.trim_start_matches("grpc://").to_string()]
    );
    let service = ServiceProcess::start(&module.payload, &[]);
    let out = service
        .invoke("Sum", r#"[{"value":"2"},{"value":"3"}]"#, &[])
        .expect("Sum");
    assert_eq!(out, json!({"total": "5", "messages": 2}));
    drop(work);

    let say = &doc["$defs"]["aiptest.echo.v1.SayRequest"];
    assert_eq!(
        say["properties"]["bigNumber"]["format"], "int64",
        "int64 as a string (or a number) in the proto3 mapping: {say}"
    );
    assert_eq!(
        say["properties"]["bigNumber"]["type"],
        json!(["string", "integer"])
    );
}

fn rest_vendor() -> FakeVendor {
    FakeVendor::start(|seen: &Seen| {
        let path = seen.url.split('?').next().unwrap_or("");
        match (seen.method.as_str(), path) {
            ("GET", "/v2/items/7") => json_reply(json!({"id": 7, "name": "seven"})),
            ("GET", "/v2/items/404") => Reply {
                status: 404,
                content_type: "application/json",
                body: r#"{"error":"no such item"}"#.into(),
            },
            ("GET", "/v2/search") => Reply {
                status: 200,
                content_type: "text/plain",
                body: "found 2".into(),
            },
            _ => json_reply(json!({"ok": true})),
        }
    })
}

#[test]
fn rest_vendors_are_called_through_the_grpc_service_as_through_wasm() {
    let (_work, dir) = build(
        &repo("tests/fixtures/specs/e2e-vendor.yaml"),
        "e2e-grpc",
        &["--target", "grpc"],
    );
    let module = aip_register::open_module(&dir).expect("opens");
    assert_eq!(module.manifest.runtime.kind, "grpc");

    // Bad configuration: the service exits at once, naming the variable.
    for (var, value) in [
        ("AIP_LISTEN", "not-an-address"),
        ("AIP_VENDOR_URL", "ftp://vendor.example"),
        ("AIP_CREDENTIALS", "[1,2]"),
        ("AIP_VENDOR_TIMEOUT_SECS", "0"),
        ("AIP_LOG", "loud"),
    ] {
        let err = aip_host::service::ServiceProcess::start(&module.payload, &[(var, value)])
            .err()
            .unwrap_or_else(|| panic!("{var}={value} must be refused"));
        let message = err.to_string();
        assert!(message.contains("exit status: 2"), "{var}: {message}");
        assert!(message.contains(var), "{var}: {message}");
    }

    let vendor = rest_vendor();
    let server = format!("{}/v2", vendor.url());
    let service = ServiceProcess::start(
        &module.payload,
        &[
            ("AIP_VENDOR_URL", server.as_str()),
            ("AIP_CREDENTIALS", r#"{"headerKey":"hk"}"#),
        ],
    );

    // The same request the WASM adapter sends (see e2e.rs), built by the
    // same shared runtime code.
    let out = service
        .invoke(
            "getItem",
            r#"{"itemId":7,"fields":["a","b"],"tags":["x","y"],"X-Trace":"t-1","session":"s1"}"#,
            &[],
        )
        .expect("getItem");
    assert_eq!(out, json!({"id": 7, "name": "seven"}));
    let seen = vendor.take();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].url, "/v2/items/7?fields=a&fields=b&tags=x,y");
    assert_eq!(seen[0].header("x-api-key"), Some("hk"));
    assert_eq!(seen[0].header("x-trace"), Some("t-1"));
    assert_eq!(seen[0].header("cookie"), Some("session=s1"));
    assert_eq!(seen[0].header("x-request-id"), Some("req-1"));

    // A JSON body, and a text answer as a JSON string.
    let out = service
        .invoke(
            "replaceItem",
            r#"{"itemId":8,"body":{"id":8,"name":"new"}}"#,
            &[("headerKey", "call-key")],
        )
        .expect("replaceItem");
    assert_eq!(out, json!({"ok": true}));
    let seen = vendor.take();
    assert_eq!(seen[0].method, "PUT");
    assert_eq!(
        seen[0].header("x-api-key"),
        Some("call-key"),
        "the call's credential wins"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&seen[0].body).expect("json body"),
        json!({"id": 8, "name": "new"})
    );
    assert_eq!(
        service
            .invoke("search", r#"{"q":"x"}"#, &[("queryKey", "qk")])
            .expect("search"),
        json!("found 2")
    );
    vendor.take();

    let failure = service
        .invoke("getItem", r#"{"itemId":404}"#, &[])
        .expect_err("404");
    assert_eq!((failure.kind, failure.vendor_status), ("vendor", Some(404)));
    let failure = service
        .invoke("getItem", "{}", &[])
        .expect_err("missing path param");
    assert_eq!(failure.kind, "invalid-input");
    assert_eq!(
        service
            .invoke_stream("getItem", r#"{"itemId":7}"#)
            .expect("one streamed answer"),
        vec![json!({"id": 7, "name": "seven"})]
    );
}

#[test]
fn bad_vendor_urls_are_refused_before_anything_is_built() {
    let work = tempfile::tempdir().expect("tempdir");
    for bad in ["ftp://vendor.example", "not a url", "http://"] {
        let out = aip(
            work.path(),
            &[
                "generate",
                &repo("tests/fixtures/specs/e2e-vendor.yaml")
                    .display()
                    .to_string(),
                "--target",
                "grpc",
                "--vendor-url",
                bad,
                "--out",
                "gen",
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--vendor-url"), "{stderr}");
        assert!(!work.path().join("gen").exists());
    }
}

#[test]
fn vendor_answers_that_do_not_decode_are_transport_errors() {
    let (_vendor_runtime, vendor_url) = echo_vendor::start();
    // The module's idea of SayResponse disagrees with the vendor's: field 1
    // is a varint here, a message on the wire.
    let protos = tempfile::tempdir().expect("tempdir");
    let dir = protos.path().join("aiptest/echo/v1");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let source = std::fs::read_to_string(repo("tests/fixtures/proto/aiptest/echo/v1/echo.proto"))
        .expect("echo.proto");
    assert!(source.contains("  SayRequest echo = 1;"));
    std::fs::write(
        dir.join("echo.proto"),
        source.replace("  SayRequest echo = 1;", "  int64 echo = 1;"),
    )
    .expect("write");
    let root = protos.path().display().to_string();
    let (_work, module_dir) = build(
        &dir.join("echo.proto"),
        "echo-skewed",
        &[
            "--proto-path",
            &root,
            "--target",
            "grpc",
            "--vendor-url",
            &vendor_url,
        ],
    );
    let module = aip_register::open_module(&module_dir).expect("opens");
    let service = ServiceProcess::start(&module.payload, &[]);
    let failure = service
        .invoke("Say", r#"{"text":"x"}"#, &[])
        .expect_err("undecodable answer");
    assert_eq!(failure.kind, "transport", "{failure:?}");
    assert!(
        failure.message.contains("decoding the vendor's answer"),
        "{failure:?}"
    );
}
