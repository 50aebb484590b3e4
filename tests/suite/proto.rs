//! Protobuf ingest: real proto sets lower into the IR with proto3-JSON
//! schemas; bad protos give located errors; gRPC vendors are refused as
//! WASM builds with a clear "not supported yet" and nothing registered.

use serde_json::{Value, json};

use crate::support::{aip, keys, repo, snapshot, text};

fn describe(args: &[&str]) -> Value {
    let mut all = vec!["describe"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = aip(&repo(""), &all);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).expect("json")
}

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

#[test]
fn real_proto_sets_lower_with_every_method_kind() {
    let bytestream = describe(&["specs/proto/google-bytestream"]);
    assert_eq!(
        kinds(&bytestream),
        vec![
            ("Read".into(), "server-streaming".into()),
            ("Write".into(), "client-streaming".into()),
            ("QueryWriteStatus".into(), "unary".into())
        ]
    );
    let read = &bytestream["operations"][0];
    assert_eq!(read["path"], "/google.bytestream.ByteStream/Read");
    assert_eq!(
        read["output_schema"]["type"], "array",
        "server streaming answers a list of messages"
    );
    assert_eq!(bytestream["operations"][1]["input_schema"]["type"], "array");

    let tei = describe(&["specs/proto/hf-tei"]);
    assert_eq!(tei["operations"].as_array().map(Vec::len), Some(17));
    assert!(kinds(&tei).contains(&("Embed.EmbedStream".into(), "bidi-streaming".into())));
    assert!(kinds(&tei).contains(&("Rerank.RerankStream".into(), "client-streaming".into())));

    // Multi-file package with google.api annotations supplied by aip-builder.
    let gemini = describe(&[
        "specs/proto/google-generativelanguage/google/ai/generativelanguage/v1/generative_service.proto",
        "--proto-path",
        "specs/proto/google-generativelanguage",
    ]);
    assert!(kinds(&gemini).contains(&("StreamGenerateContent".into(), "server-streaming".into())));
    assert_eq!(gemini["name"], "google-ai-generativelanguage-v1");

    let weaviate = describe(&["specs/proto/weaviate"]);
    assert!(kinds(&weaviate).contains(&("BatchStream".into(), "bidi-streaming".into())));
    for set in [
        "specs/proto/kserve-v2",
        "specs/proto/hf-tgi",
        "specs/proto/google-longrunning",
    ] {
        let doc = describe(&[set]);
        assert!(
            doc["operations"].as_array().is_some_and(|o| !o.is_empty()),
            "{set}"
        );
    }
}

#[test]
fn message_schemas_follow_the_proto3_json_mapping() {
    let kserve = describe(&["specs/proto/kserve-v2"]);
    let defs = &kserve["$defs"];
    let request = &defs["inference.ModelInferRequest"];
    assert_eq!(
        request["properties"]["modelName"]["type"], "string",
        "fields by JSON name"
    );
    assert_eq!(
        request["properties"]["parameters"]["type"], "object",
        "maps are objects"
    );
    assert_eq!(
        request["properties"]["parameters"]["additionalProperties"]["$ref"],
        "#/$defs/inference.InferParameter"
    );
    assert_eq!(
        request["properties"]["rawInputContents"]["items"]["contentEncoding"],
        "base64"
    );
    let param_def = &defs["inference.InferParameter"];
    assert_eq!(
        param_def["dependentSchemas"]["boolParam"]["properties"]["stringParam"],
        json!(false),
        "a oneof takes at most one of its fields"
    );
    assert!(
        request.get("dependentSchemas").is_none(),
        "no oneof, no exclusions"
    );
    let param = &param_def["properties"];
    assert_eq!(
        param["int64Param"]["type"],
        json!(["string", "integer"]),
        "64-bit integers accept strings"
    );
    assert!(
        request["properties"]["modelName"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("name of the model"))
    );

    let longrunning = describe(&["specs/proto/google-longrunning"]);
    let op = &longrunning["$defs"]["google.longrunning.Operation"]["properties"];
    assert_eq!(
        op["metadata"]["properties"]["@type"]["type"], "string",
        "Any carries @type"
    );
    let wait = &longrunning["$defs"]["google.longrunning.WaitOperationRequest"]["properties"];
    assert_eq!(wait["timeout"]["type"], "string", "Duration is a string");
    let weaviate = describe(&["specs/proto/weaviate"]);
    let text = weaviate.to_string();
    assert!(text.contains("\"enum\":["), "enums by name");
}

#[test]
fn descriptor_sets_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = dir.path().join("kserve.binpb");
    let mut compiler = protox::Compiler::new([repo("specs/proto/kserve-v2")]).expect("compiler");
    compiler.include_imports(true);
    compiler
        .open_file("docs/predict-api/v2/grpc_predict_v2.proto")
        .expect("compiles");
    std::fs::write(&set, compiler.encode_file_descriptor_set()).expect("write");
    let from_set = describe(&[&set.display().to_string()]);
    let from_source = describe(&["specs/proto/kserve-v2"]);
    assert_eq!(kinds(&from_set), kinds(&from_source));
    let garbage = dir.path().join("garbage.pb");
    std::fs::write(&garbage, b"\xff\xff\xff not a descriptor").expect("write");
    let out = aip(&repo(""), &["describe", &garbage.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a valid FileDescriptorSet"),
        "{}",
        text(&out)
    );
}

/// Writes `files` into a fresh proto root and describes `entry`.
fn describe_protos(files: &[(&str, &str)], entry: &str) -> std::process::Output {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let root = dir.join("root");
    std::fs::create_dir_all(&root).expect("mkdir");
    for (name, source) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, source).expect("write");
    }
    aip(&dir, &["describe", entry, "--proto-path", "root"])
}

/// Files (path, text), the entry to describe, and the expected message.
type ProtoCase<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

#[test]
fn bad_protos_are_located() {
    let cases: &[ProtoCase] = &[
        (
            &[(
                "root/a.proto",
                "syntax = \"proto3\";\nmessage A {\n  int32 x = ;\n}\n",
            )],
            "root/a.proto",
            "a.proto:3:",
        ),
        (
            &[(
                "root/a.proto",
                "syntax = \"proto3\";\nimport \"missing.proto\";\nmessage A {}\n",
            )],
            "root/a.proto",
            "missing.proto",
        ),
        (
            // protox itself refuses `..` in import paths, at the import.
            &[
                (
                    "root/a.proto",
                    "syntax = \"proto3\";\nimport \"../secret.proto\";\nmessage A {}\n",
                ),
                ("secret.proto", "syntax = \"proto3\";\nmessage S {}\n"),
            ],
            "root/a.proto",
            "a.proto:2:8",
        ),
        (
            &[(
                "root/a.proto",
                "syntax = \"proto3\";\nmessage A {\n  Nope n = 1;\n}\nservice S { rpc M(A) returns (A); }\n",
            )],
            "root/a.proto",
            "a.proto:3:",
        ),
        (
            &[(
                "root/a.proto",
                "syntax = \"proto3\";\nmessage A {}\nservice Empty {}\n",
            )],
            "root/a.proto",
            "defines no operations",
        ),
    ];
    for (files, entry, expected) in cases {
        let out = describe_protos(files, entry);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{expected}: {}", text(&out));
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // An import that leaves the root through a symlink.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("root")).expect("mkdir");
    std::fs::write(
        dir.path().join("secret.proto"),
        "syntax = \"proto3\";\nmessage S {}\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("root/a.proto"),
        "syntax = \"proto3\";\nimport \"link.proto\";\nmessage A { S s = 1; }\n",
    )
    .expect("write");
    std::os::unix::fs::symlink(
        dir.path().join("secret.proto"),
        dir.path().join("root/link.proto"),
    )
    .expect("symlink");
    let out = aip(
        dir.path(),
        &["describe", "root/a.proto", "--proto-path", "root"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("resolves outside the proto root"),
        "{}",
        text(&out)
    );
}

#[test]
fn rust_keywords_in_protos_are_safe_and_grpc_builds_are_refused_cleanly() {
    let source = "syntax = \"proto3\";\npackage match.self;\n// A \"quoted\" */ comment } with fences ```\nmessage type { string fn = 1; oneof loop { int64 async = 2; string r#ref = 3; } }\nservice impl { rpc match(type) returns (type); rpc Self(stream type) returns (stream type); }\n";
    let out = describe_protos(
        &[("root/k.proto", &source.replace("r#ref", "ref_"))],
        "root/k.proto",
    );
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("match  intent=match  POST /match.self.impl/match  (unary)"),
        "{listing}"
    );
    assert!(
        listing.contains("Self  intent=self  POST /match.self.impl/Self  (bidi-streaming)"),
        "{listing}"
    );
    // As a gRPC service, the keywords reach generated code only as escaped
    // string literals: rendering (which parses every file with syn) succeeds.
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(work.path().join("root")).expect("mkdir");
    std::fs::write(
        work.path().join("root/k.proto"),
        source.replace("r#ref", "ref_"),
    )
    .expect("write");
    let out = aip(
        work.path(),
        &[
            "generate",
            "root/k.proto",
            "--target",
            "grpc",
            "--name",
            "keywords",
            "--out",
            "gen",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let operations =
        std::fs::read_to_string(work.path().join("gen/src/operations.rs")).expect("operations.rs");
    assert!(
        operations.contains(r#"service: "match.self.impl""#),
        "{operations}"
    );

    // A build of a gRPC vendor as WASM: a clear error, nothing registered.
    let work = tempfile::tempdir().expect("tempdir");
    let out = aip(
        work.path(),
        &[
            "build",
            &repo("specs/proto/kserve-v2").display().to_string(),
            "--key",
            &keys().1.display().to_string(),
            "--out",
            "modules",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not supported yet: building inference")
            && stderr.contains("--target grpc"),
        "{stderr}"
    );
    assert!(snapshot(&work.path().join("modules")).is_empty());
    let out = aip(
        work.path(),
        &[
            "generate",
            &repo("specs/proto/kserve-v2").display().to_string(),
            "--out",
            "gen",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!work.path().join("gen").exists());
}

/// A live gRPC server offering reflection over kserve's schema, v1 and/or
/// v1alpha. Returns its address; the server lives as long as the runtime.
fn reflection_server(v1: bool, v1alpha: bool) -> (tokio::runtime::Runtime, String) {
    let mut compiler = protox::Compiler::new([repo("specs/proto/kserve-v2")]).expect("compiler");
    compiler.include_imports(true).include_source_info(true);
    compiler
        .open_file("docs/predict-api/v2/grpc_predict_v2.proto")
        .expect("compiles");
    let set = compiler.encode_file_descriptor_set();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    runtime.spawn(async move {
        let v1_svc = v1.then(|| {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(&set)
                .build_v1()
                .expect("v1 service")
        });
        let v1alpha_svc = v1alpha.then(|| {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(&set)
                .build_v1alpha()
                .expect("v1alpha service")
        });
        let _ = tonic::transport::Server::builder()
            .add_optional_service(v1_svc)
            .add_optional_service(v1alpha_svc)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await;
    });
    (runtime, addr)
}

#[test]
fn live_servers_are_read_through_reflection() {
    for (v1, v1alpha) in [(true, false), (false, true)] {
        let (_runtime, addr) = reflection_server(v1, v1alpha);
        let doc = describe(&[&format!("grpc://{addr}"), "--fetch-timeout", "10"]);
        let from_source = describe(&["specs/proto/kserve-v2"]);
        assert_eq!(
            kinds(&doc),
            kinds(&from_source),
            "v1={v1} v1alpha={v1alpha}"
        );
        assert_eq!(
            doc["$defs"]["inference.ModelInferRequest"],
            from_source["$defs"]["inference.ModelInferRequest"]
        );
    }

    // Nothing listens: a clear error.
    let out = aip(
        &repo(""),
        &["describe", "grpc://127.0.0.1:9", "--fetch-timeout", "5"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot fetch grpc://127.0.0.1:9: cannot connect"),
        "{}",
        text(&out)
    );

    // A server that accepts and then says nothing: a timeout, not a hang.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr");
    // Detached: it holds whatever connects until the test process ends.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    let started = std::time::Instant::now();
    let out = aip(
        &repo(""),
        &[
            "describe",
            &format!("grpc://{addr}"),
            "--fetch-timeout",
            "2",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("did not answer within 2s")
            || stderr.contains("no complete reflection answer within 2s"),
        "{stderr}"
    );
}
