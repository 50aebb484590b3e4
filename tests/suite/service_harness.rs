//! The build service under test: `aip-builder serve` started as a real
//! process on a free 127.0.0.1 port with its data in a temp dir, and the
//! HTTP calls the service tests make to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{PASSWORD, repo};

pub const KEYS: &str = "builder-key-1:builder:acme,viewer-key-1:viewer:acme,globex-key-1:builder:globex,admin-key-01:admin";

/// A running `aip-builder serve`.
pub struct BuilderService {
    child: Option<Child>,
    addr: String,
    /// Its data folder.
    pub data: PathBuf,
    log: Arc<Mutex<String>>,
}

impl BuilderService {
    pub fn start(data: &Path) -> BuilderService {
        BuilderService::start_with(data, &[])
    }

    pub fn start_with(data: &Path, extra: &[&str]) -> BuilderService {
        BuilderService::start_with_env(data, extra, &[])
    }

    /// As `start_with`, with more environment variables for the service.
    pub fn start_with_env(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> BuilderService {
        // ci/bench-console runs the browser benchmark against a release
        // build of the service; tests use the binary cargo built for them.
        let binary = std::env::var_os("AIP_BENCH_SERVICE_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_aip-builder").into());
        let mut child = Command::new(binary)
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
            .envs(env.iter().copied())
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

    /// The service's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for BuilderService {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// (status, content type, JSON body or Null).
pub fn call(
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
            for (k, v) in extra {
                req = req.header(*k, *v);
            }
            req.send_empty()
        }
        _ => {
            let mut req = agent.get(url);
            if let Some(key) = key {
                req = req.header("X-API-Key", key);
            }
            for (k, v) in extra {
                req = req.header(*k, *v);
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

/// Submits `body` with `key`; the accepted job's id.
pub fn submit_job(service: &BuilderService, key: &str, body: &[u8]) -> String {
    let (status, _, job) = call(
        "POST",
        &service.url("/v1/builder/adapter"),
        Some(key),
        Some(body),
        &[],
    );
    assert_eq!(status, 202, "{job}");
    job["id"].as_str().expect("an id").to_string()
}

pub fn submission(name: &str, version: &str) -> Vec<u8> {
    submission_with(name, version, &json!({}))
}

/// A submission of the e2e vendor spec inline, with `extra` fields merged in.
pub fn submission_with(name: &str, version: &str, extra: &Value) -> Vec<u8> {
    let spec = std::fs::read_to_string(repo("tests/fixtures/specs/e2e-vendor.yaml")).expect("spec");
    let mut body = json!({"name": name, "protocol": "rest", "spec": spec, "version": version});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    serde_json::to_vec(&body).expect("json")
}

/// Reads the job's SSE stream to its end; returns (event, data) pairs.
pub fn follow(service: &BuilderService, id: &str, key: &str) -> Vec<(String, Value)> {
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

pub fn states(events: &[(String, Value)]) -> Vec<String> {
    events
        .iter()
        .filter(|(k, _)| k == "state")
        .filter_map(|(_, d)| d["data"]["state"].as_str().map(str::to_string))
        .collect()
}

/// (status, content type, body bytes) of a GET.
pub fn get_bytes(service: &BuilderService, path: &str, key: &str) -> (u16, String, Vec<u8>) {
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

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Waits until job `id` is compiling (or has ended).
pub fn wait_for_compile(service: &BuilderService, id: &str) {
    wait_for_compile_attempt(service, id, 1);
}

/// Waits until job `id`'s `attempt`-th run is compiling (or it has ended).
pub fn wait_for_compile_attempt(service: &BuilderService, id: &str, attempt: i64) {
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
pub fn submit_uncached(service: &BuilderService, tag: &str) -> (String, String) {
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

pub fn job_of(service: &BuilderService, id: &str) -> Value {
    call(
        "GET",
        &service.url(&format!("/v1/builder/jobs/{id}")),
        Some("builder-key-1"),
        None,
        &[],
    )
    .2
}
