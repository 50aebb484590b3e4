//! The build service's API: builds followed over SSE, modules, auth and
//! tenants, bad input, SSRF, push and install, signing keys, its OpenAPI
//! document.

use std::path::Path;

use serde_json::{Value, json};

use crate::service_harness::*;
use crate::support::{Steps, aip, repo, text};

#[test]
fn inline_specs_build_into_registered_modules_followed_over_sse() {
    let mut steps = Steps::start("set up");
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start(data.path());
    let (status, _, job) = call(
        "POST",
        &service.url("/v1/builder/adapter"),
        Some("builder-key-1"),
        Some(&submission_with(
            "svc-e2e",
            "1.0.0",
            &json!({
                "intents": {"search": "find.items"},
                "resources": {"cpu": "500m", "memory": "256Mi"}
            }),
        )),
        &[],
    );
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().expect("id").to_string();
    assert_eq!(
        job["links"]["events"],
        json!(format!("/v1/builder/jobs/{id}/events"))
    );

    let events = follow(&service, &id, "viewer-key-1");
    assert_eq!(
        states(&events),
        ["queued", "running", "succeeded"],
        "{events:?}\n{}",
        service.log()
    );
    let stages: Vec<&str> = events
        .iter()
        .filter(|(k, _)| k == "stage")
        .filter_map(|(_, d)| d["data"]["stage"].as_str())
        .collect();
    assert_eq!(
        stages,
        [
            "ingest", "key", "render", "compile", "package", "sign", "register"
        ],
        "{events:?}"
    );
    steps.enter(
        "The events name no server path: not the data folder (nor the key in it) or the cache",
    );
    let cache = std::env::var("AIP_BUILDER_CACHE")
        .or_else(|_| std::env::var("XDG_CACHE_HOME").map(|x| format!("{x}/aip-builder")))
        .or_else(|_| std::env::var("HOME").map(|h| format!("{h}/.cache/aip-builder")))
        .expect("a cache folder");
    let shown = format!("{events:?}");
    for path in [data.path().display().to_string(), cache] {
        assert!(!shown.contains(&path), "{path} shown in {shown}");
    }
    assert!(
        shown.contains("\"detail\": String(\"spec.yaml\")"),
        "{shown}"
    );
    let seqs: Vec<i64> = events
        .iter()
        .filter_map(|(_, d)| d["seq"].as_i64())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "gapless, ordered: {seqs:?}"
    );

    let (status, _, job) = call(
        "GET",
        &service.url(&format!("/v1/builder/jobs/{id}")),
        Some("viewer-key-1"),
        None,
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(job["state"], json!("succeeded"), "{job}");
    assert_eq!(job["module"]["name"], json!("svc-e2e"));
    assert_eq!(job["tenant"], json!("acme"));

    steps.enter("A client that connects late gets the whole history, then the end");
    assert_eq!(follow(&service, &id, "builder-key-1").len(), events.len());
    let (status, content_type, logs) = call(
        "GET",
        &service.url(&format!("/v1/builder/jobs/{id}/logs")),
        Some("viewer-key-1"),
        None,
        &[],
    );
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/plain"));
    assert!(
        logs.as_str().is_some_and(|l| l.contains("==> compile")),
        "{logs}"
    );

    steps
        .enter("The module is registered in the data folder, per tenant and version, and verifies");
    let module = data.path().join("modules/acme/svc-e2e/1.0.0");
    let out = aip(
        data.path(),
        &[
            "verify",
            &module.display().to_string(),
            "--key",
            &data.path().join("cosign.pub").display().to_string(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));

    modules_are_listed_served_and_verified(&service, &module);

    steps.enter("Prometheus metrics: jobs by state, stage durations, queue depth, HTTP latency by route template");
    let (status, content_type, metrics) = get_bytes(&service, "/metrics", "viewer-key-1");
    assert_eq!(status, 200);
    assert!(content_type.contains("openmetrics-text"), "{content_type}");
    let metrics = String::from_utf8_lossy(&metrics);
    for line in [
        "aip_builder_jobs{state=\"succeeded\"} 1",
        "aip_builder_jobs{state=\"failed\"} 0",
        "aip_builder_queue_depth 0",
        "aip_builder_builds_running 0",
        "aip_builder_stage_duration_seconds_count{stage=\"compile\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
    assert!(
        metrics.contains(
            "aip_builder_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/builder/adapter\",status=\"202\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("route=\"/v1/builder/jobs/{id}\""),
        "routes, not raw paths: {metrics}"
    );
}

/// `/v1/modules…` over the module `svc-e2e` 1.0.0 of tenant acme, whose
/// folder is `module`.
fn modules_are_listed_served_and_verified(service: &BuilderService, module: &Path) {
    let mut steps = Steps::start("set up");
    let (status, _, list) = call(
        "GET",
        &service.url("/v1/modules"),
        Some("viewer-key-1"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{list}");
    let listed = &list["modules"][0];
    assert_eq!(
        (
            &listed["name"],
            &listed["latest"],
            &listed["status"],
            &listed["tenant"]
        ),
        (
            &json!("svc-e2e"),
            &json!("1.0.0"),
            &json!("Installed"),
            &json!("acme")
        ),
        "{list}"
    );
    steps.enter("The intent override the submission named, beside the derived ones");
    let intents = listed["intents"].as_array().cloned().unwrap_or_default();
    assert!(intents.contains(&json!("find.items")), "{intents:?}");
    assert!(intents.contains(&json!("get-item")), "{intents:?}");
    assert!(!intents.contains(&json!("search")), "{intents:?}");

    steps.enter("Another tenant sees no modules, and this one is not found for it");
    let (_, _, theirs) = call(
        "GET",
        &service.url("/v1/modules"),
        Some("globex-key-1"),
        None,
        &[],
    );
    assert_eq!(theirs["modules"], json!([]), "{theirs}");
    for path in [
        "/v1/modules/svc-e2e",
        "/v1/modules/svc-e2e/versions/1.0.0/manifest",
        "/v1/modules/svc-e2e?tenant=acme",
    ] {
        let (status, _, v) = call("GET", &service.url(path), Some("globex-key-1"), None, &[]);
        assert_eq!(status, 404, "{path}: {v}");
    }
    let (status, _, v) = call(
        "POST",
        &service.url("/v1/modules/svc-e2e/versions/1.0.0/verify"),
        Some("globex-key-1"),
        None,
        &[],
    );
    assert_eq!(status, 404, "{v}");
    steps.enter("The admin sees every tenant's, and reads acme's with ?tenant=");
    let (_, _, all) = call(
        "GET",
        &service.url("/v1/modules"),
        Some("admin-key-01"),
        None,
        &[],
    );
    assert_eq!(all["modules"][0]["tenant"], json!("acme"), "{all}");
    let (status, _, _) = call(
        "GET",
        &service.url("/v1/modules/svc-e2e?tenant=acme"),
        Some("admin-key-01"),
        None,
        &[],
    );
    assert_eq!(status, 200);

    let (status, _, detail) = call(
        "GET",
        &service.url("/v1/modules/svc-e2e"),
        Some("viewer-key-1"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{detail}");
    let version = &detail["versions"][0];
    assert_eq!(version["version"], json!("1.0.0"), "{detail}");
    assert_eq!(version["runtime"], json!("wasm"), "{detail}");

    steps.enter("Manifest, SBOM and artifact are the registered bytes");
    let base = "/v1/modules/svc-e2e/versions/1.0.0";
    let (status, content_type, manifest) =
        get_bytes(service, &format!("{base}/manifest"), "viewer-key-1");
    assert_eq!((status, content_type.as_str()), (200, "application/yaml"));
    assert_eq!(
        manifest,
        std::fs::read(module.join("manifest.yaml")).expect("manifest")
    );
    steps.enter("The requested resources are what the manifest carries");
    let manifest_text = String::from_utf8_lossy(&manifest);
    assert!(
        manifest_text.contains("cpu: 500m") && manifest_text.contains("memory: 256Mi"),
        "{manifest_text}"
    );
    let (status, content_type, sbom) = get_bytes(service, &format!("{base}/sbom"), "viewer-key-1");
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/vnd.cyclonedx+json")
    );
    assert_eq!(
        sbom,
        std::fs::read(module.join("sbom.cdx.json")).expect("sbom")
    );
    let (status, content_type, artifact) =
        get_bytes(service, &format!("{base}/artifact"), "viewer-key-1");
    assert_eq!((status, content_type.as_str()), (200, "application/wasm"));
    let digest = format!("sha256:{}", sha256_hex(&artifact));
    assert!(
        version["artifact_digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{detail}"
    );
    assert!(
        String::from_utf8_lossy(&manifest).contains(&digest),
        "the artifact served is the layer manifest.yaml names"
    );
    for bad in [
        format!("{base}/source"),
        "/v1/modules/svc-e2e/versions/9.9.9/manifest".to_string(),
        "/v1/modules/svc-e2e/versions/..%2F..%2Fcosign.key/manifest".to_string(),
        "/v1/modules/..%2Fglobex/versions/1.0.0/manifest".to_string(),
    ] {
        let (status, _, v) = call("GET", &service.url(&bad), Some("viewer-key-1"), None, &[]);
        assert_eq!(status, 404, "{bad}: {v}");
    }

    steps.enter("Verification, run again on request: passes, then fails once the");
    // Verification, run again on request: passes, then fails once the
    // SBOM is altered on disk, and the status chip follows.
    let verify = service.url(&format!("{base}/verify"));
    let (status, _, result) = call("POST", &verify, Some("viewer-key-1"), None, &[]);
    assert_eq!(
        (status, &result["verified"]),
        (200, &json!(true)),
        "{result}"
    );
    let sbom_path = module.join("sbom.cdx.json");
    let mut altered = sbom.clone();
    altered.extend_from_slice(b" ");
    std::fs::write(&sbom_path, &altered).expect("alter");
    let (status, _, result) = call("POST", &verify, Some("viewer-key-1"), None, &[]);
    assert_eq!(
        (status, &result["verified"]),
        (200, &json!(false)),
        "{result}"
    );
    assert!(
        result["error"].as_str().is_some_and(|e| e.contains("sbom")),
        "{result}"
    );
    assert_eq!(result["check"], json!("sbom-modified"), "{result}");
    let (_, _, detail) = call(
        "GET",
        &service.url("/v1/modules/svc-e2e"),
        Some("viewer-key-1"),
        None,
        &[],
    );
    assert_eq!(detail["status"], json!("Unverified"), "{detail}");
    assert_eq!(
        detail["versions"][0]["failed_check"],
        json!("sbom-modified"),
        "the chip names the failed check: {detail}"
    );
    std::fs::write(&sbom_path, &sbom).expect("restore");
}

#[test]
fn keys_roles_tenants_idempotency_and_bad_input_get_clear_problems() {
    let mut steps = Steps::start("set up");
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start(data.path());
    let submit = service.url("/v1/builder/adapter");
    let body = submission("svc-auth", "1.0.0");
    let problem = |status: u16, content_type: &str, v: &Value, kind: &str| {
        assert!(
            content_type.starts_with("application/problem+json"),
            "{content_type}: {v}"
        );
        assert_eq!(v["status"], json!(status), "{v}");
        assert_eq!(
            v["type"],
            json!(format!("https://aip.dev/problems/{kind}")),
            "{v}"
        );
        assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
    };

    steps.enter("Authentication and roles");
    let (s, ct, v) = call("POST", &submit, None, Some(&body), &[]);
    assert_eq!(s, 401);
    problem(401, &ct, &v, "unauthenticated");
    let (s, ct, v) = call("POST", &submit, Some("not-a-key-at-all"), Some(&body), &[]);
    assert_eq!(s, 401);
    problem(401, &ct, &v, "unauthenticated");
    let (s, ct, v) = call("POST", &submit, Some("viewer-key-1"), Some(&body), &[]);
    assert_eq!(s, 403);
    problem(403, &ct, &v, "forbidden");

    steps.enter("Idempotency: the same key and body give the same job; another body, 409");
    let idem = [("Idempotency-Key", "build-svc-auth-1")];
    let (s, _, first) = call("POST", &submit, Some("builder-key-1"), Some(&body), &idem);
    assert_eq!(s, 202, "{first}");
    let (s, _, again) = call("POST", &submit, Some("builder-key-1"), Some(&body), &idem);
    assert_eq!(s, 202, "{again}");
    assert_eq!(first["id"], again["id"]);
    let (s, ct, v) = call(
        "POST",
        &submit,
        Some("builder-key-1"),
        Some(&submission("svc-auth", "2.0.0")),
        &idem,
    );
    assert_eq!(s, 409);
    problem(409, &ct, &v, "idempotency-conflict");
    let id = first["id"].as_str().expect("id").to_string();

    steps.enter("Tenants: globex cannot see acme's job (404, no hint), admin can");
    let job_url = service.url(&format!("/v1/builder/jobs/{id}"));
    let (s, ct, v) = call("GET", &job_url, Some("globex-key-1"), None, &[]);
    assert_eq!(s, 404);
    problem(404, &ct, &v, "not-found");
    let (s, _, v) = call(
        "GET",
        &service.url("/v1/builder/jobs/job-nonexistent"),
        Some("globex-key-1"),
        None,
        &[],
    );
    assert_eq!(
        (s, v["detail"].as_str().map(|d| d.starts_with("no job"))),
        (404, Some(true)),
        "same answer as for a missing job"
    );
    let (s, _, _) = call("GET", &job_url, Some("admin-key-01"), None, &[]);
    assert_eq!(s, 200);

    steps.enter("Bad input: each a 4xx problem naming what is wrong");
    for (body, status, kind, needle) in [
        (b"{not json".to_vec(), 400, "bad-request", "line 1"),
        (
            br#"{"name":"x1","protocol":"rest","spec":"a","colour":"red"}"#.to_vec(),
            400,
            "bad-request",
            "unknown field `colour`",
        ),
        (
            br#"{"protocol":"rest","spec":"a"}"#.to_vec(),
            400,
            "bad-request",
            "missing field `name`",
        ),
        (
            br#"{"name":"x1","protocol":"soap","spec":"a"}"#.to_vec(),
            400,
            "bad-request",
            "unknown variant `soap`",
        ),
        (
            br#"{"name":"Bad Name","protocol":"rest","spec":"a"}"#.to_vec(),
            422,
            "invalid-request",
            "not a module name",
        ),
        (
            br#"{"name":"x1","protocol":"rest"}"#.to_vec(),
            422,
            "invalid-request",
            "give the spec",
        ),
        (
            br#"{"name":"x1","protocol":"rest","spec":"openapi: 3.0.0\ninfo: [oops"}"#.to_vec(),
            422,
            "invalid-spec",
            "spec.yaml",
        ),
        (
            br#"{"name":"x1","protocol":"rest","spec":"a","push":"localhost:5000/x"}"#.to_vec(),
            403,
            "forbidden",
            "registry localhost:5000 is not one this service pushes to",
        ),
        (
            br#"{"name":"x1","protocol":"rest","spec":"a","push":"localhost:5000/x@1.0.0"}"#
                .to_vec(),
            422,
            "invalid-request",
            "names a version or digest",
        ),
        (
            br#"{"name":"x1","protocol":"rest","spec":"a","intents":{"search":"Find Items"}}"#
                .to_vec(),
            422,
            "invalid-request",
            "is not an intent name",
        ),
        (
            submission_with("x1", "1.0.0", &json!({"intents": {"noSuchOp": "find"}})),
            422,
            "invalid-request",
            "no such operation",
        ),
        (
            submission_with("x1", "1.0.0", &json!({"intents": {"search": "get-item"}})),
            422,
            "invalid-request",
            "would route to two operations",
        ),
    ] {
        let (s, ct, v) = call("POST", &submit, Some("builder-key-1"), Some(&body), &[]);
        assert_eq!(s, status, "{needle}: {v}");
        problem(status, &ct, &v, kind);
        assert!(
            v["detail"].as_str().is_some_and(|d| d.contains(needle)),
            "{needle}: {v}"
        );
    }
    steps.enter("A 100 MB body is refused before it is sent (curl asks with");
    // A 100 MB body is refused before it is sent (curl asks with
    // `Expect: 100-continue`; the declared length is over the limit).
    let big_file = tempfile::NamedTempFile::new().expect("temp file");
    big_file.as_file().set_len(100 << 20).expect("100 MB");
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "-",
            "-w",
            "\n%{http_code} %{size_upload}",
            "-H",
            "Content-Type: application/json",
        ])
        .args(["-H", "X-API-Key: builder-key-1", "--data-binary"])
        .arg(format!("@{}", big_file.path().display()))
        .arg(&submit)
        .output()
        .expect("curl runs");
    let answer = String::from_utf8_lossy(&out.stdout);
    let (body, status_line) = answer.rsplit_once('\n').unwrap_or_default();
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    assert!(status_line.starts_with("413 "), "{answer}");
    problem(413, "application/problem+json", &v, "too-large");
    let uploaded: f64 = status_line
        .split(' ')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(f64::MAX);
    assert!(uploaded < 1e6, "the body was not sent: {status_line}");
    steps.enter("And it keeps serving");
    let (s, _, _) = call("GET", &service.url("/healthz"), None, None, &[]);
    assert_eq!(s, 200);
    let (s, _, _) = call("GET", &service.url("/readyz"), None, None, &[]);
    assert_eq!(s, 200);
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("succeeded"),
        "{events:?}"
    );

    steps.enter("Cancelling needs the builder role; an ended job stays as it ended");
    let cancel = service.url(&format!("/v1/builder/jobs/{id}/cancel"));
    let (s, ct, v) = call("POST", &cancel, Some("viewer-key-1"), None, &[]);
    assert_eq!(s, 403);
    problem(403, &ct, &v, "forbidden");
    let (s, _, v) = call("POST", &cancel, Some("builder-key-1"), None, &[]);
    assert_eq!((s, &v["state"]), (200, &json!("succeeded")), "{v}");
}

/// A spec server (the vendor's docs site): the spec, and redirects that try
/// to lead the service into private address space.
fn spec_server() -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("spec server");
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .expect("port");
    let spec = std::fs::read_to_string(repo("tests/fixtures/specs/e2e-vendor.yaml")).expect("spec");
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let redirect = |to: &str| {
                tiny_http::Response::from_string("")
                    .with_status_code(302)
                    .with_header(tiny_http::Header::from_bytes("Location", to).expect("header"))
            };
            let hops = request
                .url()
                .strip_prefix("/hop/")
                .and_then(|n| n.parse::<u32>().ok());
            let _ = match (request.url(), hops) {
                (_, Some(0)) => request.respond(tiny_http::Response::from_string(spec.clone())),
                (_, Some(n)) => request.respond(redirect(&format!("/hop/{}", n - 1))),
                (url, None) => match url {
                    "/spec.yaml" => request.respond(tiny_http::Response::from_string(spec.clone())),
                    "/to-private" => request.respond(redirect("http://10.0.0.1/spec.yaml")),
                    "/to-metadata" => {
                        request.respond(redirect("http://169.254.169.254/latest/meta-data/"))
                    }
                    _ => request
                        .respond(tiny_http::Response::from_string("no").with_status_code(404)),
                },
            };
        }
    });
    format!("127.0.0.1:{port}")
}

#[test]
fn source_urls_are_fetched_but_never_into_private_address_space() {
    let data = tempfile::tempdir().expect("tempdir");
    // 127.0.0.1 is allowed in the config file (the spec server plays an
    // internal docs site); everything else private stays refused. The
    // file also adds an API key.
    let config = data.path().join("aip-builder.toml");
    std::fs::write(
        &config,
        "[service]\nallow_hosts = [\"127.0.0.1\"]\napi_keys = [\"file-key-001:builder:acme\"]\n",
    )
    .expect("config");
    let service =
        BuilderService::start_with(data.path(), &["--config", &config.display().to_string()]);
    let specs = spec_server();
    let port = specs.rsplit(':').next().unwrap_or_default().to_string();
    let submit = |source: String| {
        let body = serde_json::to_vec(
            &json!({"name": "svc-source", "protocol": "rest", "source": source}),
        )
        .expect("json");
        call(
            "POST",
            &service.url("/v1/builder/adapter"),
            Some("file-key-001"),
            Some(&body),
            &[],
        )
    };

    let (status, _, job) = submit(format!("http://{specs}/spec.yaml"));
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().expect("id").to_string();
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("succeeded"),
        "{events:?}"
    );

    // At most 5 redirects: the 5th is followed, the 6th refused.
    let (status, _, job) = submit(format!("http://{specs}/hop/5"));
    assert_eq!(status, 202, "5 redirects: {job}");
    for (source, needle) in [
        (format!("http://{specs}/hop/6"), "more than 5 redirects"),
        (
            format!("http://localhost:{port}/spec.yaml"),
            "localhost resolves to",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "link-local",
        ),
        (format!("http://{specs}/to-private"), "redirect was refused"),
        (format!("http://{specs}/to-metadata"), "169.254.169.254"),
        ("http://[::1]:9/spec".to_string(), "loopback"),
    ] {
        let (status, content_type, problem) = submit(source.clone());
        assert_eq!(status, 422, "{source}: {problem}");
        assert!(content_type.starts_with("application/problem+json"));
        assert_eq!(
            problem["type"],
            json!("https://aip.dev/problems/ssrf-refused"),
            "{source}: {problem}"
        );
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains(needle)),
            "{source}: {problem}"
        );
    }
    let (status, _, problem) = submit("file:///etc/passwd".to_string());
    assert_eq!(
        (status, &problem["type"]),
        (422, &json!("https://aip.dev/problems/invalid-request")),
        "{problem}"
    );
}

#[test]
fn builds_push_to_an_allowed_registry_and_other_tenants_install_from_it() {
    let mut steps = Steps::start("set up");
    let registry = crate::registry_server::Registry::start();
    let host = registry.host();
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start_with(data.path(), &["--registry", &host]);
    let repo_ref = format!("{host}/acme/svc-push");

    let (status, _, job) = call(
        "POST",
        &service.url("/v1/builder/adapter"),
        Some("builder-key-1"),
        Some(&submission_with(
            "svc-push",
            "1.0.0",
            &json!({"push": repo_ref}),
        )),
        &[],
    );
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().expect("id").to_string();
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("succeeded"),
        "{events:?}\n{}",
        service.log()
    );
    assert!(
        events
            .iter()
            .any(|(k, d)| k == "stage" && d["data"]["stage"] == json!("push")),
        "a push stage: {events:?}"
    );
    let (_, _, job) = call(
        "GET",
        &service.url(&format!("/v1/builder/jobs/{id}")),
        Some("builder-key-1"),
        None,
        &[],
    );
    let tags = job["module"]["pushed"]["tags"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(tags.contains(&json!("1.0.0")), "{job}");

    steps.enter("Another tenant installs it from the registry: verified with the");
    // Another tenant installs it from the registry: verified with the
    // service's key, registered in its own tenant.
    let install = service.url("/v1/modules/install");
    let body =
        |reference: &str| serde_json::to_vec(&json!({"reference": reference})).expect("json");
    let (status, _, installed) = call(
        "POST",
        &install,
        Some("globex-key-1"),
        Some(&body(&format!("{repo_ref}@1.0.0"))),
        &[],
    );
    assert_eq!(status, 200, "{installed}");
    assert_eq!(
        installed["origin"]["verification"]["status"],
        json!("verified"),
        "{installed}"
    );
    let (_, _, module) = call(
        "GET",
        &service.url("/v1/modules/svc-push"),
        Some("globex-key-1"),
        None,
        &[],
    );
    assert_eq!(module["status"], json!("Installed"), "{module}");
    assert_eq!(module["tenant"], json!("globex"), "{module}");
    assert_eq!(
        module["versions"][0]["origin"]["registry"],
        json!(host),
        "{module}"
    );

    steps.enter("Refusals: a viewer, a registry not configured, a malformed reference");
    for (key, reference, status, kind) in [
        ("viewer-key-1", repo_ref.clone(), 403, "forbidden"),
        (
            "globex-key-1",
            "registry.example.com/x/y".to_string(),
            403,
            "forbidden",
        ),
        (
            "globex-key-1",
            format!("{host}/Acme/Bad"),
            422,
            "invalid-request",
        ),
    ] {
        let (s, _, v) = call("POST", &install, Some(key), Some(&body(&reference)), &[]);
        assert_eq!(
            (s, &v["type"]),
            (status, &json!(format!("https://aip.dev/problems/{kind}"))),
            "{reference}: {v}"
        );
    }

    steps.enter("Once its signature is gone from the registry, installing is refused and nothing is written");
    let api = registry.api();
    let digest = job["module"]["artifact_digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (_, sig_digest) = api
        .manifest(
            "acme/svc-push",
            &format!("{}.sig", digest.replace(':', "-")),
        )
        .expect("signature");
    api.delete_manifest("acme/svc-push", &sig_digest);
    let before = std::fs::read_dir(service.data.join("modules/globex/svc-push"))
        .expect("versions")
        .count();
    let (s, _, v) = call(
        "POST",
        &install,
        Some("globex-key-1"),
        Some(&body(&format!("{repo_ref}@1.0.0"))),
        &[],
    );
    assert_eq!(
        (s, &v["type"]),
        (422, &json!("https://aip.dev/problems/module-unverified")),
        "{v}"
    );
    assert!(
        v["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not signed")),
        "{v}"
    );
    let after = std::fs::read_dir(service.data.join("modules/globex/svc-push"))
        .expect("versions")
        .count();
    assert_eq!(before, after, "nothing written");
}

#[test]
fn signing_keys_are_named_by_requests_and_granted_per_tenant() {
    let data = tempfile::tempdir().expect("tempdir");
    let keys = data.path().join("release-keys");
    std::fs::create_dir_all(&keys).expect("mkdir");
    let out = aip(&keys, &["keygen", "--out", "."]);
    assert!(out.status.success(), "{}", text(&out));
    let config = data.path().join("aip-builder.toml");
    std::fs::write(
        &config,
        "[service.signing_keys.acme-release]\n\
         key = \"release-keys/cosign.key\"\n\
         password_env = \"COSIGN_PASSWORD\"\n\
         tenants = [\"acme\"]\n",
    )
    .expect("config");
    let service =
        BuilderService::start_with(data.path(), &["--config", &config.display().to_string()]);
    let body = submission_with(
        "svc-signed",
        "1.0.0",
        &json!({"signing": {"cosign_key_ref": "acme-release"}}),
    );
    // Another tenant may not sign with acme's key, nor with one not configured.
    let submit = service.url("/v1/builder/adapter");
    let (status, _, problem) = call("POST", &submit, Some("globex-key-1"), Some(&body), &[]);
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d
                .contains("\"acme-release\" is not one this tenant may use (it may use: default)")),
        "{problem}"
    );
    let other = submission_with(
        "svc-signed",
        "1.0.0",
        &json!({"signing": {"cosign_key_ref": "nope"}}),
    );
    let (status, _, _) = call("POST", &submit, Some("builder-key-1"), Some(&other), &[]);
    assert_eq!(status, 403);

    let (status, _, job) = call("POST", &submit, Some("builder-key-1"), Some(&body), &[]);
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().expect("id").to_string();
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("succeeded"),
        "{events:?}"
    );
    let job = job_of(&service, &id);
    assert_eq!(
        job["request"]["signing"]["cosign_key_ref"],
        json!("acme-release")
    );
    // Signed with the release key, not the service's default one.
    let module = data.path().join("modules/acme/svc-signed/1.0.0");
    let verify = |key: &Path| {
        aip(
            data.path(),
            &[
                "verify",
                &module.display().to_string(),
                "--key",
                &key.display().to_string(),
            ],
        )
    };
    let out = verify(&keys.join("cosign.pub"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(!verify(&data.path().join("cosign.pub")).status.success());
    // The service trusts its release key too: the module shows Installed.
    let (_, _, module) = call(
        "GET",
        &service.url("/v1/modules/svc-signed"),
        Some("viewer-key-1"),
        None,
        &[],
    );
    assert_eq!(module["status"], json!("Installed"), "{module}");
}

/// The checked-in `specs/aip-builder/openapi.json` is what the code
/// generates (`AIP_UPDATE_OPENAPI=1`, or `ci/generate`, rewrites it).
#[test]
fn the_service_openapi_document_is_current() {
    let path = repo("specs/aip-builder/openapi.json");
    let generated = aip_service::openapi_document();
    if std::env::var_os("AIP_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write openapi.json");
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "specs/aip-builder/openapi.json is not what the service generates; run ci/generate and commit it"
    );
    let doc: Value = serde_json::from_str(&generated).expect("JSON");
    assert_eq!(doc["openapi"], json!("3.1.0"));
    for path in [
        "/v1/builder/adapter",
        "/v1/builder/jobs/{id}",
        "/v1/builder/jobs/{id}/events",
        "/v1/builder/jobs/{id}/logs",
        "/v1/builder/jobs/{id}/cancel",
        "/v1/modules",
        "/v1/modules/{name}",
        "/v1/modules/{name}/versions/{version}/{part}",
        "/v1/modules/{name}/versions/{version}/verify",
        "/v1/modules/install",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
}
