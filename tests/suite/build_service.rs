//! The build service (`aip-builder serve`), started as a real process on a
//! free 127.0.0.1 port with its data in a temp dir, driven over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{PASSWORD, aip, repo, text};

const KEYS: &str = "builder-key-1:builder:acme,viewer-key-1:viewer:acme,globex-key-1:builder:globex,admin-key-01:admin";

/// A running `aip-builder serve`.
struct BuilderService {
    child: Option<Child>,
    addr: String,
    data: PathBuf,
    log: Arc<Mutex<String>>,
}

impl BuilderService {
    fn start(data: &Path) -> BuilderService {
        BuilderService::start_with(data, &[])
    }

    fn start_with(data: &Path, extra: &[&str]) -> BuilderService {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aip-builder"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data",
                &data.display().to_string(),
            ])
            .args(extra)
            .env("COSIGN_PASSWORD", PASSWORD)
            .env("AIP_BUILDER_API_KEYS", KEYS)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("aip-builder serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(addr.to_string());
                }
                if let Ok(mut log) = sink.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "the service did not say where it listens: {}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                )
            });
        BuilderService {
            child: Some(child),
            addr,
            data: data.to_path_buf(),
            log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for BuilderService {
    fn drop(&mut self) {
        self.kill();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// (status, content type, JSON body or Null).
fn call(
    method: &str,
    url: &str,
    key: Option<&str>,
    body: Option<&[u8]>,
    extra: &[(&str, &str)],
) -> (u16, String, Value) {
    let agent = agent();
    let mut response = match (method, body) {
        ("POST", Some(body)) => {
            let mut req = agent.post(url).header("Content-Type", "application/json");
            if let Some(key) = key {
                req = req.header("X-API-Key", key);
            }
            for (k, v) in extra {
                req = req.header(*k, *v);
            }
            req.send(body)
        }
        ("POST", None) => {
            let mut req = agent.post(url);
            if let Some(key) = key {
                req = req.header("X-API-Key", key);
            }
            req.send_empty()
        }
        _ => {
            let mut req = agent.get(url);
            if let Some(key) = key {
                req = req.header("X-API-Key", key);
            }
            req.call()
        }
    }
    .expect("HTTP call");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = response.body_mut().read_to_vec().unwrap_or_default();
    (
        status,
        content_type,
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned())),
    )
}

fn submission(name: &str, version: &str) -> Vec<u8> {
    submission_with(name, version, &json!({}))
}

/// A submission of the e2e vendor spec inline, with `extra` fields merged in.
fn submission_with(name: &str, version: &str, extra: &Value) -> Vec<u8> {
    let spec = std::fs::read_to_string(repo("tests/fixtures/specs/e2e-vendor.yaml")).expect("spec");
    let mut body = json!({"name": name, "protocol": "rest", "spec": spec, "version": version});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    serde_json::to_vec(&body).expect("json")
}

/// Reads the job's SSE stream to its end; returns (event, data) pairs.
fn follow(service: &BuilderService, id: &str, key: &str) -> Vec<(String, Value)> {
    let response = agent()
        .get(&service.url(&format!("/v1/builder/jobs/{id}/events")))
        .header("X-API-Key", key)
        .call()
        .expect("SSE");
    assert_eq!(response.status().as_u16(), 200);
    let reader = BufReader::new(response.into_body().into_reader());
    let mut events = Vec::new();
    let mut kind = String::new();
    for line in reader.lines().map_while(Result::ok) {
        if let Some(k) = line.strip_prefix("event: ") {
            kind = k.to_string();
        } else if let Some(data) = line.strip_prefix("data: ") {
            events.push((
                kind.clone(),
                serde_json::from_str(data).unwrap_or(Value::Null),
            ));
        }
    }
    events
}

fn states(events: &[(String, Value)]) -> Vec<String> {
    events
        .iter()
        .filter(|(k, _)| k == "state")
        .filter_map(|(_, d)| d["data"]["state"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn inline_specs_build_into_registered_modules_followed_over_sse() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start(data.path());
    let (status, _, job) = call(
        "POST",
        &service.url("/v1/builder/adapter"),
        Some("builder-key-1"),
        Some(&submission_with(
            "svc-e2e",
            "1.0.0",
            &json!({"intents": {"search": "find.items"}}),
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

    // A client that connects late gets the whole history, then the end.
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

    // The module is registered in the data folder, per tenant and version,
    // and verifies.
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

    // Prometheus metrics: jobs by state, stage durations, queue depth,
    // HTTP latency by route template.
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
    // The intent override the submission named, beside the derived ones.
    let intents = listed["intents"].as_array().cloned().unwrap_or_default();
    assert!(intents.contains(&json!("find.items")), "{intents:?}");
    assert!(intents.contains(&json!("get-item")), "{intents:?}");
    assert!(!intents.contains(&json!("search")), "{intents:?}");

    // Another tenant sees no modules, and this one is "not found" for it.
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
    // The admin sees every tenant's, and reads acme's with ?tenant=.
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

    // Manifest, SBOM and artifact are the registered bytes.
    let base = "/v1/modules/svc-e2e/versions/1.0.0";
    let (status, content_type, manifest) =
        get_bytes(service, &format!("{base}/manifest"), "viewer-key-1");
    assert_eq!((status, content_type.as_str()), (200, "application/yaml"));
    assert_eq!(
        manifest,
        std::fs::read(module.join("manifest.yaml")).expect("manifest")
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
    let (_, _, detail) = call(
        "GET",
        &service.url("/v1/modules/svc-e2e"),
        Some("viewer-key-1"),
        None,
        &[],
    );
    assert_eq!(detail["status"], json!("Unverified"), "{detail}");
    std::fs::write(&sbom_path, &sbom).expect("restore");
}

/// (status, content type, body bytes) of a GET.
fn get_bytes(service: &BuilderService, path: &str, key: &str) -> (u16, String, Vec<u8>) {
    let mut response = agent()
        .get(&service.url(path))
        .header("X-API-Key", key)
        .call()
        .expect("GET");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_default();
    (status, content_type, bytes)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn keys_roles_tenants_idempotency_and_bad_input_get_clear_problems() {
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

    // Authentication and roles.
    let (s, ct, v) = call("POST", &submit, None, Some(&body), &[]);
    assert_eq!(s, 401);
    problem(401, &ct, &v, "unauthenticated");
    let (s, ct, v) = call("POST", &submit, Some("not-a-key-at-all"), Some(&body), &[]);
    assert_eq!(s, 401);
    problem(401, &ct, &v, "unauthenticated");
    let (s, ct, v) = call("POST", &submit, Some("viewer-key-1"), Some(&body), &[]);
    assert_eq!(s, 403);
    problem(403, &ct, &v, "forbidden");

    // Idempotency: the same key and body give the same job; another body, 409.
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

    // Tenants: globex cannot see acme's job (404, no hint), admin can.
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

    // Bad input: each a 4xx problem naming what is wrong.
    let big = vec![b' '; 17 << 20];
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
        (big, 413, "too-large", "larger than"),
    ] {
        let (s, ct, v) = call("POST", &submit, Some("builder-key-1"), Some(&body), &[]);
        assert_eq!(s, status, "{needle}: {v}");
        problem(status, &ct, &v, kind);
        assert!(
            v["detail"].as_str().is_some_and(|d| d.contains(needle)),
            "{needle}: {v}"
        );
    }
    // And it keeps serving.
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

    // Cancelling needs the builder role; an ended job stays as it ended.
    let cancel = service.url(&format!("/v1/builder/jobs/{id}/cancel"));
    let (s, ct, v) = call("POST", &cancel, Some("viewer-key-1"), None, &[]);
    assert_eq!(s, 403);
    problem(403, &ct, &v, "forbidden");
    let (s, _, v) = call("POST", &cancel, Some("builder-key-1"), None, &[]);
    assert_eq!((s, &v["state"]), (200, &json!("succeeded")), "{v}");
}

#[test]
fn jobs_survive_a_killed_service_and_end_exactly_once() {
    killed_service_case(&[], "sqlite");
}

#[test]
fn jobs_in_postgresql_survive_a_killed_service_and_end_exactly_once() {
    let postgres = crate::postgres_server::Postgres::start();
    let url = postgres.url();
    killed_service_case(&["--database", &url], "pg");
    // The job state is in PostgreSQL, not in a jobs.db beside it.
    let out = std::process::Command::new("psql")
        .args([
            url.as_str(),
            "-At",
            "-c",
            "SELECT state, attempts FROM jobs",
        ])
        .output()
        .expect("psql runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "succeeded|2",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Submits a build, kills the service (SIGKILL) while cargo compiles it,
/// restarts it on the same data (and `extra` arguments): the job ends
/// exactly once, resumed, with one module registered and nothing staged.
fn killed_service_case(extra: &[&str], tag: &str) {
    let data = tempfile::tempdir().expect("tempdir");
    let mut service = BuilderService::start_with(data.path(), extra);
    // A name no other test uses, so the compile cache misses and the kill
    // lands while cargo is building.
    let name = format!("svc-crash-{tag}-{}", std::process::id());
    let (status, _, job) = call(
        "POST",
        &service.url("/v1/builder/adapter"),
        Some("builder-key-1"),
        Some(&submission(&name, "1.0.0")),
        &[],
    );
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().expect("id").to_string();
    wait_for_compile(&service, &id);
    service.kill();

    let service = BuilderService::start_with(data.path(), extra);
    let events = follow(&service, &id, "builder-key-1");
    let states = states(&events);
    let terminal: Vec<&String> = states
        .iter()
        .filter(|s| ["succeeded", "failed", "cancelled"].contains(&s.as_str()))
        .collect();
    assert_eq!(
        terminal,
        [&"succeeded".to_string()],
        "exactly one terminal state: {states:?}\n{}",
        service.log()
    );
    assert!(
        events.iter().any(|(_, d)| d["data"]["line"]
            .as_str()
            .is_some_and(|l| l.contains("the service restarted while this job was running"))),
        "the resume is recorded: {events:?}"
    );
    let names = |dir: PathBuf| -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("modules")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(
        names(data.path().join("modules/acme")),
        [name.clone()],
        "one module"
    );
    assert_eq!(
        names(data.path().join("modules/acme").join(&name)),
        ["1.0.0"],
        "one version, no staging leftovers"
    );
    let out = aip(
        data.path(),
        &[
            "verify",
            &data
                .path()
                .join("modules/acme")
                .join(&name)
                .join("1.0.0")
                .display()
                .to_string(),
            "--key",
            &data.path().join("cosign.pub").display().to_string(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
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
            let _ = match request.url() {
                "/spec.yaml" => request.respond(tiny_http::Response::from_string(spec.clone())),
                "/to-private" => request.respond(redirect("http://10.0.0.1/spec.yaml")),
                "/to-metadata" => {
                    request.respond(redirect("http://169.254.169.254/latest/meta-data/"))
                }
                _ => request.respond(tiny_http::Response::from_string("no").with_status_code(404)),
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

    for (source, needle) in [
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

    // Refusals: a viewer, a registry not configured, a malformed reference.
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

    // Once its signature is gone from the registry, installing is refused
    // and nothing is written.
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

/// Waits until job `id` is compiling (or has ended).
fn wait_for_compile(service: &BuilderService, id: &str) {
    wait_for_compile_attempt(service, id, 1);
}

/// Waits until job `id`'s `attempt`-th run is compiling (or it has ended).
fn wait_for_compile_attempt(service: &BuilderService, id: &str, attempt: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, _, job) = call(
            "GET",
            &service.url(&format!("/v1/builder/jobs/{id}")),
            Some("builder-key-1"),
            None,
            &[],
        );
        let attempts = job["attempts"].as_i64().unwrap_or_default();
        if job["stage"] == json!("compile") && attempts >= attempt
            || job["state"] != json!("queued") && job["state"] != json!("running")
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the job never reached compile: {job}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Submits a build of a name no other test uses (so the compile cache
/// misses and cargo really runs); returns the job id.
fn submit_uncached(service: &BuilderService, tag: &str) -> (String, String) {
    let name = format!("svc-{tag}-{}", std::process::id());
    let (status, _, job) = call(
        "POST",
        &service.url("/v1/builder/adapter"),
        Some("builder-key-1"),
        Some(&submission(&name, "1.0.0")),
        &[],
    );
    assert_eq!(status, 202, "{job}");
    (job["id"].as_str().expect("id").to_string(), name)
}

fn job_of(service: &BuilderService, id: &str) -> Value {
    call(
        "GET",
        &service.url(&format!("/v1/builder/jobs/{id}")),
        Some("builder-key-1"),
        None,
        &[],
    )
    .2
}

#[test]
fn running_builds_are_cancelled_and_stopped_at_their_time_limit() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut service = BuilderService::start(data.path());
    let (id, name) = submit_uncached(&service, "cancel");
    wait_for_compile(&service, &id);
    let (status, _, job) = call(
        "POST",
        &service.url(&format!("/v1/builder/jobs/{id}/cancel")),
        Some("builder-key-1"),
        None,
        &[],
    );
    assert_eq!(status, 202, "{job}");
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("cancelled"),
        "{events:?}\n{}",
        service.log()
    );
    let job = job_of(&service, &id);
    assert_eq!(job["error"], json!("cancelled while running"), "{job}");
    assert!(
        !data.path().join("modules/acme").join(&name).exists(),
        "nothing registered"
    );
    service.kill();

    // A one-second limit stops the next uncached build in compile.
    let mut service = BuilderService::start_with(data.path(), &["--build-timeout", "1"]);
    let (id, name) = submit_uncached(&service, "timeout");
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("failed"),
        "{events:?}"
    );
    let job = job_of(&service, &id);
    assert!(
        job["error"]
            .as_str()
            .is_some_and(|e| e.contains("exceeded its time limit of 1 s")),
        "{job}"
    );
    assert!(!data.path().join("modules/acme").join(&name).exists());
    service.kill();

    // The killed cargo left the shared build folder usable: building the
    // same module again succeeds.
    let service = BuilderService::start(data.path());
    let (status, _, job) = call(
        "POST",
        &service.url("/v1/builder/adapter"),
        Some("builder-key-1"),
        Some(&submission(&name, "1.0.0")),
        &[],
    );
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().expect("id").to_string();
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("succeeded"),
        "{events:?}"
    );
}

#[test]
fn a_job_that_keeps_stopping_the_service_is_failed_after_three_attempts() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut service = BuilderService::start(data.path());
    let (id, _) = submit_uncached(&service, "crashloop");
    for attempt in 1..=3 {
        wait_for_compile_attempt(&service, &id, attempt);
        service.kill();
        service = BuilderService::start(data.path());
    }
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("failed"),
        "{events:?}"
    );
    let job = job_of(&service, &id);
    assert_eq!(job["attempts"], json!(3), "{job}");
    assert!(
        job["error"]
            .as_str()
            .is_some_and(|e| e.contains("stopped 3 times")),
        "{job}"
    );
}

#[test]
fn each_key_is_rate_limited_on_its_own_with_retry_after() {
    let data = tempfile::tempdir().expect("tempdir");
    let service =
        BuilderService::start_with(data.path(), &["--rate-limit", "1", "--rate-burst", "3"]);
    let get = |key: &str| {
        agent()
            .get(&service.url("/v1/modules"))
            .header("X-API-Key", key)
            .call()
            .expect("GET")
    };
    let mut limited = None;
    for _ in 0..10 {
        let mut response = get("viewer-key-1");
        if response.status().as_u16() == 429 {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let body: Value =
                serde_json::from_slice(&response.body_mut().read_to_vec().unwrap_or_default())
                    .unwrap_or(Value::Null);
            limited = Some((retry_after, body));
            break;
        }
        assert_eq!(response.status().as_u16(), 200);
    }
    let (retry_after, body) = limited.expect("the burst of 3 runs out within 10 requests");
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "Retry-After: {retry_after:?}"
    );
    assert_eq!(
        body["type"],
        json!("https://aip.dev/problems/rate-limited"),
        "{body}"
    );
    // Another key is not affected.
    assert_eq!(get("globex-key-1").status().as_u16(), 200);
    // The service serves its OpenAPI document, without a key.
    let (status, content_type, document) = get_bytes(&service, "/openapi.json", "");
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert_eq!(
        String::from_utf8_lossy(&document),
        aip_service::openapi_document()
    );
    // And the limited key is served again once its time has come.
    std::thread::sleep(Duration::from_secs(retry_after.unwrap_or(1)));
    assert_eq!(get("viewer-key-1").status().as_u16(), 200);
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

#[test]
fn a_hundred_concurrent_submissions_are_each_accepted_once_and_all_end() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start_with(data.path(), &["--rate-limit", "0"]);
    let url = service.url("/v1/builder/adapter");
    let body = Arc::new(submission("svc-many", "1.0.0"));
    // 100 clients, each sending its submission twice at once (a client
    // retrying): 200 requests, 100 Idempotency-Keys.
    let handles: Vec<_> = (0..200)
        .map(|i| {
            let (url, body) = (url.clone(), body.clone());
            std::thread::spawn(move || {
                let key = format!("client-{}", i % 100);
                let (status, _, job) = call(
                    "POST",
                    &url,
                    Some("builder-key-1"),
                    Some(&body),
                    &[("Idempotency-Key", &key)],
                );
                (key, status, job["id"].as_str().map(str::to_string))
            })
        })
        .collect();
    let mut by_key: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for handle in handles {
        let (key, status, id) = handle.join().expect("client thread");
        assert_eq!(status, 202, "{key}: {}", service.log());
        by_key.entry(key).or_default().insert(id.expect("a job id"));
    }
    assert_eq!(by_key.len(), 100);
    assert!(
        by_key.values().all(|ids| ids.len() == 1),
        "each key maps to one job: {by_key:?}"
    );
    let ids: std::collections::BTreeSet<String> = by_key.values().flatten().cloned().collect();
    assert_eq!(ids.len(), 100, "100 distinct jobs");

    let deadline = Instant::now() + Duration::from_secs(600);
    for id in &ids {
        loop {
            let job = job_of(&service, id);
            if job["state"] == json!("succeeded") {
                break;
            }
            assert!(
                job["state"] == json!("queued") || job["state"] == json!("running"),
                "{job}"
            );
            assert!(Instant::now() < deadline, "not done: {job}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // The store holds exactly these 100 jobs, all succeeded, each with one
    // terminal event.
    let (_, _, metrics) = get_bytes(&service, "/metrics", "viewer-key-1");
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics
            .lines()
            .any(|l| l == "aip_builder_jobs{state=\"succeeded\"} 100"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == "aip_builder_jobs{state=\"queued\"} 0")
    );
    for id in ids.iter().take(10) {
        let events = follow(&service, id, "builder-key-1");
        assert_eq!(states(&events), ["queued", "running", "succeeded"], "{id}");
    }
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
