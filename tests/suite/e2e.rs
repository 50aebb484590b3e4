//! End to end: a spec becomes a module, and every operation called through
//! the component reaches a fake vendor exactly as the spec says.

use serde_json::{Value, json};

use crate::support::{
    FakeVendor, Reply, Seen, Steps, build, e2e_module, invoke, json_reply, repo, text,
};

fn vendor() -> FakeVendor {
    FakeVendor::start(|seen: &Seen| {
        let path = seen.url.split('?').next().unwrap_or("");
        match (seen.method.as_str(), path) {
            ("GET", "/v2/items/7") => json_reply(json!({"id": 7, "name": "seven"})),
            ("GET", "/v2/items/404") => Reply {
                status: 404,
                content_type: "application/json",
                body: r#"{"error":"no such item"}"#.into(),
            },
            ("PUT", "/v2/items/7") => Reply {
                status: 200,
                content_type: "application/json; charset=utf-8",
                body: String::from_utf8_lossy(&seen.body).into_owned(),
            },
            ("DELETE", "/v2/items/7") => Reply {
                status: 204,
                content_type: "text/plain",
                body: String::new(),
            },
            ("GET", "/v2/search") => Reply {
                status: 200,
                content_type: "text/plain",
                body: "found 2".into(),
            },
            ("POST", "/v2/forms") => Reply {
                status: 201,
                content_type: "application/json",
                body: r#"{"created":true}"#.into(),
            },
            _ => json_reply(json!({"ok": true})),
        }
    })
}

fn ok_output(out: &std::process::Output, json: &Value) -> Value {
    assert!(out.status.success(), "{}", text(out));
    assert_eq!(json["ok"], json!(true), "{}", text(out));
    json["output"].clone()
}

#[test]
fn every_operation_reaches_the_vendor_as_the_spec_says() {
    let mut steps = Steps::start("set up");
    let module = e2e_module();
    let v = vendor();
    let server = format!("{}/v2", v.url());
    let s = ["--server", server.as_str()];
    let cred = |c: &'static str| ["--credential", c];

    steps.enter("Path, exploded and non-exploded query arrays, header and cookie parameters, API key header");
    let (out, json) = invoke(
        module,
        "getItem",
        r#"{"itemId":7,"fields":["a","b"],"tags":["x","y"],"X-Trace":"t-1","session":"s1"}"#,
        &[s[0], s[1], cred("headerKey=hk")[0], cred("headerKey=hk")[1]],
    );
    assert_eq!(ok_output(&out, &json), json!({"id": 7, "name": "seven"}));
    let seen = v.take();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].url, "/v2/items/7?fields=a&fields=b&tags=x,y");
    assert_eq!(seen[0].header("x-api-key"), Some("hk"));
    assert_eq!(seen[0].header("x-trace"), Some("t-1"));
    assert_eq!(seen[0].header("cookie"), Some("session=s1"));

    steps.enter("JSON body; the vendor's JSON answer comes back as is");
    let (out, json) = invoke(
        module,
        "replaceItem",
        r#"{"itemId":7,"body":{"id":7,"name":"new","children":[{"id":8,"name":"kid"}]}}"#,
        &[s[0], s[1], "--credential", "headerKey=hk"],
    );
    assert_eq!(
        ok_output(&out, &json),
        json!({"children":[{"id":8,"name":"kid"}],"id":7,"name":"new"})
    );
    let seen = v.take();
    assert_eq!(seen[0].method, "PUT");
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    let sent: Value = serde_json::from_slice(&seen[0].body).expect("json body");
    assert_eq!(sent["children"][0]["name"], json!("kid"));

    steps.enter("Bearer auth (operation-level security overrides the global one); 204 gives null");
    let (out, json) = invoke(
        module,
        "deleteItem",
        r#"{"itemId":7}"#,
        &[s[0], s[1], "--credential", "bearerAuth=tok-9"],
    );
    assert_eq!(ok_output(&out, &json), Value::Null);
    let seen = v.take();
    assert_eq!(seen[0].method, "DELETE");
    assert_eq!(seen[0].header("authorization"), Some("Bearer tok-9"));
    assert_eq!(seen[0].header("x-api-key"), None);

    steps.enter(
        "deepObject and spaceDelimited query styles, API key in the query; text/plain answer",
    );
    let (out, json) = invoke(
        module,
        "search",
        r#"{"q":"red shoes","filter":{"color":"red"},"words":["a","b"]}"#,
        &[s[0], s[1], "--credential", "queryKey=qk&1"],
    );
    assert_eq!(ok_output(&out, &json), json!("found 2"));
    let seen = v.take();
    assert_eq!(
        seen[0].url,
        "/v2/search?filter%5Bcolor%5D=red&words=a%20b&q=red%20shoes&api_key=qk%261"
    );

    steps.enter("Label-style path arrays; `security: []` needs no credential");
    let (out, json) = invoke(module, "getLabels", r#"{"ids":[1,2,3]}"#, &s);
    ok_output(&out, &json);
    assert_eq!(v.take()[0].url, "/v2/labels/.1,2,3");

    steps.enter("Form body with HTTP basic");
    let (out, json) = invoke(
        module,
        "submitForm",
        r#"{"body":{"name":"a b","count":3}}"#,
        &[s[0], s[1], "--credential", "basicAuth=alice:pa:ss"],
    );
    assert_eq!(ok_output(&out, &json), json!({"created": true}));
    let seen = v.take();
    assert_eq!(
        seen[0].header("authorization"),
        Some("Basic YWxpY2U6cGE6c3M=")
    );
    assert_eq!(
        seen[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(String::from_utf8_lossy(&seen[0].body), "count=3&name=a%20b");

    steps.enter("Multipart with a file part, API key in a cookie");
    let (out, json) = invoke(
        module,
        "upload",
        r#"{"body":{"title":"doc","file":{"content_base64":"aGVsbG8=","filename":"h.txt","content_type":"text/plain"}}}"#,
        &[s[0], s[1], "--credential", "cookieKey=ck"],
    );
    ok_output(&out, &json);
    let seen = v.take();
    assert_eq!(seen[0].header("cookie"), Some("sid=ck"));
    let ct = seen[0]
        .header("content-type")
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let body = String::from_utf8_lossy(&seen[0].body).into_owned();
    assert!(
        body.contains(
            "name=\"file\"; filename=\"h.txt\"\r\ncontent-type: text/plain\r\n\r\nhello\r\n"
        ),
        "{body}"
    );
    assert!(body.contains("name=\"title\"\r\n\r\ndoc\r\n"), "{body}");

    steps.enter("Text body; an alternative needing two schemes at once");
    let (out, json) = invoke(
        module,
        "postNote",
        r#"{"body":"plain note"}"#,
        &[
            s[0],
            s[1],
            "--credential",
            "headerKey=hk",
            "--credential",
            "queryKey=qk",
        ],
    );
    ok_output(&out, &json);
    let seen = v.take();
    assert_eq!(seen[0].url, "/v2/notes?api_key=qk");
    assert_eq!(seen[0].header("x-api-key"), Some("hk"));
    assert_eq!(String::from_utf8_lossy(&seen[0].body), "plain note");
}

#[test]
fn failures_are_distinct_error_kinds() {
    let module = e2e_module();
    let v = vendor();
    let server = format!("{}/v2", v.url());
    let cases: &[(&str, &str, &[&str], &str)] = &[
        (
            "getItem",
            r#"{"itemId":404}"#,
            &["--credential", "headerKey=hk"],
            "vendor",
        ),
        (
            "getItem",
            r#"{"itemId":"seven"}"#,
            &["--credential", "headerKey=hk"],
            "invalid-input",
        ),
        ("getItem", r#"{"itemId":7}"#, &[], "missing-credential"),
        ("noSuchOperation", "{}", &[], "unknown-operation"),
    ];
    for (op, input, extra, kind) in cases {
        let mut args = vec!["--server", server.as_str()];
        args.extend_from_slice(extra);
        let (out, json) = invoke(module, op, input, &args);
        assert_eq!(out.status.code(), Some(1), "{op}: {}", text(&out));
        assert_eq!(json["ok"], json!(false));
        assert_eq!(json["error"]["kind"], json!(kind), "{op}: {}", text(&out));
    }
    let (_, json) = invoke(
        module,
        "getItem",
        r#"{"itemId":404}"#,
        &["--server", &server, "--credential", "headerKey=hk"],
    );
    assert_eq!(json["error"]["status"], json!(404));
    assert_eq!(json["error"]["body"], json!(r#"{"error":"no such item"}"#));
    // Only the vendor error and nothing else reached the vendor.
    assert_eq!(v.take().len(), 2);

    // Transport failure: nothing listens there. Exit code 2.
    let (out, json) = invoke(
        module,
        "getLabels",
        r#"{"ids":[1]}"#,
        &["--server", "http://127.0.0.1:9/v2"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(json["error"]["kind"], json!("transport"));
}

#[test]
fn calls_to_hosts_the_manifest_does_not_permit_are_refused() {
    let module = aip_register::open_module(e2e_module()).expect("opens");
    assert_eq!(
        module.manifest.permissions.net,
        vec!["api.e2e.example".to_string()]
    );
    let v = vendor();
    let loaded = aip_host::LoadedComponent::new(&module.payload).expect("loads");
    let mut adapter = loaded
        .instantiate(&aip_host::HostOptions {
            allow: aip_host::AllowList::new(module.manifest.permissions.net.clone()),
            max_memory_bytes: 128 << 20,
        })
        .expect("instantiates");
    let ctx = aip_host::CallContext {
        credentials: vec![],
        server_url: Some(format!("{}/v2", v.url())),
        request_id: None,
    };
    let result = adapter
        .invoke("getLabels", r#"{"ids":[1]}"#, &ctx)
        .expect("no trap");
    match result {
        Err(aip_host::AdapterError::Transport(m)) => assert!(m.contains("denied"), "{m}"),
        other => panic!("expected a refused transport, got {other:?}"),
    }
    assert!(
        v.take().is_empty(),
        "the vendor must not see the refused request"
    );
}

/// A sample value for a parameter schema (enough to satisfy the adapter's checks).
fn sample(schema: &Value, defs: &Value) -> Value {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => defs
            .get(r.trim_start_matches("#/$defs/"))
            .unwrap_or(&Value::Null),
        None => schema,
    };
    let ty = match schema.get("type") {
        Some(Value::Array(types)) => types
            .iter()
            .find(|t| *t != "null")
            .cloned()
            .unwrap_or(Value::Null),
        Some(t) => t.clone(),
        None => Value::Null,
    };
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    match ty.as_str() {
        Some("integer") => json!(3),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        Some("array") => json!(["v"]),
        Some("object") => json!({}),
        _ => json!("v"),
    }
}

#[test]
fn every_operation_of_a_real_spec_is_callable() {
    let mut steps = Steps::start("set up");
    steps.enter(
        "gotify: Swagger 2.0, 31 operations, basic + API keys in header and query, formData upload",
    );
    let spec = repo("specs/openapi/gotify/docs/spec.json");
    let (_work, dir) = build(&spec, "gotify", &[]);
    let api = aip_ingest::ingest(aip_ingest::SpecSource::File(spec), &Default::default())
        .expect("ingests")
        .api;
    let module = aip_register::open_module(&dir).expect("opens");
    let v = FakeVendor::start(|_| json_reply(json!({"ok": true})));
    let loaded = aip_host::LoadedComponent::new(&module.payload).expect("loads");
    let mut allow = aip_host::AllowList::new(module.manifest.permissions.net.clone());
    allow.push(v.url().trim_start_matches("http://"));
    steps.enter("One instance, reused for every call");
    let mut adapter = loaded
        .instantiate(&aip_host::HostOptions {
            allow,
            max_memory_bytes: 128 << 20,
        })
        .expect("instantiates");
    let describe: Value =
        serde_json::from_str(&adapter.describe().expect("describe")).expect("json");
    let defs = describe["$defs"].clone();
    let ops = describe["operations"]
        .as_array()
        .expect("operations")
        .clone();
    assert_eq!(ops.len(), 31);
    let ctx = aip_host::CallContext {
        credentials: vec![
            aip_host::Credential {
                scheme: "basicAuth".into(),
                value: "admin:admin".into(),
            },
            aip_host::Credential {
                scheme: "clientTokenHeader".into(),
                value: "ctok".into(),
            },
            aip_host::Credential {
                scheme: "appTokenHeader".into(),
                value: "atok".into(),
            },
        ],
        server_url: Some(v.url()),
        request_id: Some("e2e".into()),
    };
    for op in &ops {
        let schema = &op["input_schema"];
        let mut input = serde_json::Map::new();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (name, prop) in schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default()
        {
            if required.contains(&name.as_str()) {
                let value = if name == "body" {
                    json!({})
                } else {
                    sample(&prop, &defs)
                };
                input.insert(name, value);
            }
        }
        let id = op["id"].as_str().expect("id");
        let result = adapter
            .invoke(id, &Value::Object(input.clone()).to_string(), &ctx)
            .expect("no trap");
        assert!(result.is_ok(), "{id}: {result:?}");
        let seen = v.take();
        assert_eq!(seen.len(), 1, "{id}");
        assert_eq!(
            seen[0].method,
            op["method"].as_str().expect("method"),
            "{id}"
        );
        // The path template with every {param} replaced by the sample value.
        let mut expected = op["path"].as_str().expect("path").to_string();
        for (k, val) in &input {
            let text = match val {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            expected = expected.replace(&format!("{{{k}}}"), &text);
        }
        assert_eq!(
            seen[0].url.split('?').next(),
            Some(expected.as_str()),
            "{id}"
        );
        assert_eq!(seen[0].header("x-request-id"), Some("e2e"), "{id}");
        let sent_credential =
            seen[0].header("authorization").is_some() || seen[0].header("x-gotify-key").is_some();
        let needs_credential = !api
            .operations
            .iter()
            .find(|o| o.id == id)
            .expect("in IR")
            .security
            .is_empty();
        assert_eq!(
            sent_credential, needs_credential,
            "{id}: credential placement"
        );
    }
}

#[test]
fn specs_are_read_from_stdin_and_urls() {
    let spec = std::fs::read(repo("tests/fixtures/specs/e2e-vendor.yaml")).expect("spec");
    // stdin
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aip-builder"))
        .args(["describe", "-", "--name", "from-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), &spec).expect("writes");
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.starts_with("from-stdin 2.1.0 (8 operations)"),
        "{listing}"
    );
    assert!(
        listing.contains("getItem  intent=get-item  GET /items/{itemId}"),
        "{listing}"
    );
    assert!(listing.contains("input { itemId: integer, fields?: array, tags?: array, X-Trace?: string, session?: string }"), "{listing}");

    // http URL, served by a test server playing the vendor's doc site.
    let served = String::from_utf8_lossy(&spec).into_owned();
    let site = FakeVendor::start(move |_| Reply {
        status: 200,
        content_type: "application/yaml",
        body: served.clone(),
    });
    let url = format!("{}/openapi.yaml", site.url());
    let out = crate::support::aip(&repo(""), &["describe", &url, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["name"], "e2e-vendor");
    assert_eq!(doc["operations"].as_array().map(Vec::len), Some(8));

    // An unreachable URL is a clear error.
    let out = crate::support::aip(&repo(""), &["describe", "http://127.0.0.1:9/openapi.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot fetch http://127.0.0.1:9/openapi.yaml"),
        "{}",
        text(&out)
    );
}
