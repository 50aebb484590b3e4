//! Shared helpers: the binary, keys, spec index, a fake vendor server.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

/// A one-operation spec the regen and CI-recipe tests edit: a compatible
/// change adds a query parameter, a breaking one retypes `name`.
pub const PETS_SPEC: &str = "openapi: 3.0.3
info: {title: Pets, version: '1'}
servers: [{url: 'https://pets.example.com/v1'}]
paths:
  /pets/{petId}:
    get:
      operationId: getPet
      parameters:
        - {name: petId, in: path, required: true, schema: {type: integer}}
      responses:
        '200': {description: ok, content: {application/json: {schema: {type: object, properties: {id: {type: integer}, name: {type: string}}}}}}
";

/// The password of the test signing key.
pub const PASSWORD: &str = "test-password";

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_default()
}

/// A path under the repository root.
pub fn repo(path: &str) -> PathBuf {
    root().join(path)
}

/// Runs `aip-builder` with `args` in `cwd`, with the test key's password.
pub fn aip(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aip-builder"))
        .args(args)
        .current_dir(cwd)
        .env("COSIGN_PASSWORD", PASSWORD)
        .output()
        .expect("aip-builder runs")
}

/// stdout + stderr of a run, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A cosign key pair made once per test run: (dir, cosign.key, cosign.pub).
pub fn keys() -> &'static (PathBuf, PathBuf, PathBuf) {
    static KEYS: OnceLock<(PathBuf, PathBuf, PathBuf)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let out = aip(&dir, &["keygen", "--out", "."]);
        assert!(out.status.success(), "keygen failed: {}", text(&out));
        (dir.clone(), dir.join("cosign.key"), dir.join("cosign.pub"))
    })
}

/// One line of specs/index.txt.
#[derive(Debug, Clone)]
pub struct IndexedSpec {
    /// Module name.
    pub name: String,
    /// Path under specs/.
    pub path: String,
    /// Extra generate flags.
    pub flags: Vec<String>,
}

impl IndexedSpec {
    /// `wasm` or `grpc`: the `--target` flag, `wasm` by default.
    pub fn target(&self) -> &str {
        self.flag_value("--target").unwrap_or("wasm")
    }

    /// The value after `flag`, if given.
    pub fn flag_value(&self, flag: &str) -> Option<&str> {
        self.flags
            .iter()
            .position(|f| f == flag)
            .and_then(|i| self.flags.get(i + 1))
            .map(String::as_str)
    }

    /// `generated/<name>/<target>`, relative to the repository.
    pub fn generated_dir(&self) -> String {
        format!("generated/{}/{}", self.name, self.target())
    }
}

/// The specs the golden tests cover.
pub fn spec_index() -> Vec<IndexedSpec> {
    let text = std::fs::read_to_string(repo("specs/index.txt")).expect("specs/index.txt");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.split_whitespace().map(str::to_string);
            IndexedSpec {
                name: parts.next().unwrap_or_default(),
                path: parts.next().unwrap_or_default(),
                flags: parts.collect(),
            }
        })
        .collect()
}

/// Builds `spec` as module `name` into a fresh modules folder with the test key.
/// Returns (temp dir that holds modules/, module dir).
pub fn build(spec: &Path, name: &str, extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let work = tempfile::tempdir().expect("tempdir");
    let key = keys().1.display().to_string();
    let spec = spec.display().to_string();
    let mut args = vec![
        "build",
        spec.as_str(),
        "--name",
        name,
        "--key",
        key.as_str(),
        "--out",
        "modules",
    ];
    args.extend_from_slice(extra);
    let out = aip(work.path(), &args);
    assert!(
        out.status.success(),
        "build of {name} failed: {}",
        text(&out)
    );
    let dir = work.path().join("modules").join(name);
    (work, dir)
}

/// Every file under `dir` with its bytes, by relative path.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                let rel = path
                    .strip_prefix(base)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, bytes);
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    for (rel, bytes) in snapshot(from) {
        let path = to.join(rel);
        std::fs::create_dir_all(path.parent().unwrap_or(to)).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }
}

/// What the fake vendor saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path and query, as sent.
    pub url: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Seen {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A canned answer.
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
}

type Responder = dyn Fn(&Seen) -> Reply + Send + Sync;

/// A vendor HTTP server on 127.0.0.1 that records every request.
pub struct FakeVendor {
    server: Arc<tiny_http::Server>,
    /// Requests seen so far.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeVendor {
    /// Starts a server answering with `respond`.
    pub fn start(respond: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> FakeVendor {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let respond: Arc<Responder> = Arc::new(respond);
        let (s, log) = (server.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            for mut request in s.incoming_requests() {
                let mut body = Vec::new();
                let _ = std::io::Read::read_to_end(request.as_reader(), &mut body);
                let entry = Seen {
                    method: request.method().as_str().to_string(),
                    url: request.url().to_string(),
                    headers: request
                        .headers()
                        .iter()
                        .map(|h| {
                            (
                                h.field.as_str().as_str().to_ascii_lowercase(),
                                h.value.as_str().to_string(),
                            )
                        })
                        .collect(),
                    body,
                };
                let reply = respond(&entry);
                log.lock().expect("log").push(entry);
                let header = tiny_http::Header::from_bytes("content-type", reply.content_type)
                    .expect("header");
                let response = tiny_http::Response::from_string(reply.body)
                    .with_status_code(reply.status)
                    .with_header(header);
                let _ = request.respond(response);
            }
        });
        FakeVendor {
            server,
            seen,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.server_addr())
    }

    /// Takes the recorded requests.
    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().expect("log"))
    }
}

impl Drop for FakeVendor {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A JSON 200 reply echoing nothing in particular.
pub fn json_reply(body: serde_json::Value) -> Reply {
    Reply {
        status: 200,
        content_type: "application/json",
        body: body.to_string(),
    }
}

/// The module built from tests/fixtures/specs/e2e-vendor.yaml, built once
/// per test run. Tests that modify a module copy it first.
pub fn e2e_module() -> &'static PathBuf {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE.get_or_init(|| {
        let (work, dir) = build(
            &repo("tests/fixtures/specs/e2e-vendor.yaml"),
            "e2e-vendor",
            &[],
        );
        let _kept = work.keep();
        dir
    })
}

/// Runs `aip-builder invoke --format json` and parses its stdout.
pub fn invoke(
    module: &Path,
    operation: &str,
    input: &str,
    extra: &[&str],
) -> (Output, serde_json::Value) {
    let module = module.display().to_string();
    let mut args = vec![
        "invoke",
        module.as_str(),
        operation,
        "--input",
        input,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = aip(&root(), &args);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out, json)
}

/// A port nothing listens on now (for servers the tests start).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The named steps of a long scenario test: when the test fails, the step
/// it was in is printed under the panic, so a failure says which step broke
/// without reading line numbers.
pub struct Steps {
    current: &'static str,
    number: usize,
}

impl Steps {
    /// A scenario at its first step.
    pub fn start(first: &'static str) -> Steps {
        Steps {
            current: first,
            number: 1,
        }
    }

    /// The scenario moves on to the step `name`.
    pub fn enter(&mut self, name: &'static str) {
        self.current = name;
        self.number += 1;
    }
}

impl Drop for Steps {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("failed in step {}: {}", self.number, self.current);
        }
    }
}
