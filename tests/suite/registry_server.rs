//! A real OCI registry for the tests: Debian's `docker-registry` on a free
//! 127.0.0.1 port with its storage in a temp dir; its HTTP API for tests
//! that play an attacker tampering with it; and a TCP proxy in front of it
//! that can stop it at an exact point of a push or answer 503s.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::free_port;

/// A running `docker-registry`.
pub struct Registry {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    /// The `auth:` section of its config (empty: anonymous).
    auth_yaml: String,
}

impl Registry {
    /// Starts a registry with deletes enabled (the tampering tests delete).
    pub fn start() -> Registry {
        Registry::launch(|_| String::new())
    }

    /// Starts a registry that requires `user`/`password` (htpasswd, basic auth).
    pub fn start_with_auth(user: &str, password: &str) -> Registry {
        let hash = bcrypt::hash(password, 4).expect("bcrypt");
        Registry::launch(|dir| {
            let file = dir.join("htpasswd");
            std::fs::write(&file, format!("{user}:{hash}\n")).expect("write htpasswd");
            format!(
                "auth:\n  htpasswd:\n    realm: aip-test\n    path: {}\n",
                file.display()
            )
        })
    }

    /// Starts a registry that requires bearer tokens from `tokens` (the
    /// distribution token flow: 401 with a Bearer challenge naming the
    /// token service, which takes basic credentials and answers a JWT).
    pub fn start_with_token_auth(tokens: &TokenServer) -> Registry {
        let (realm, cert) = (tokens.realm(), tokens.cert_path.display().to_string());
        Registry::launch(move |_| {
            format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {cert}\n"
            )
        })
    }

    fn launch(auth: impl FnOnce(&std::path::Path) -> String) -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        let auth_yaml = auth(dir.path());
        let mut registry = Registry {
            dir,
            port: free_port(),
            child: None,
            auth_yaml,
        };
        registry.spawn();
        registry
    }

    fn spawn(&mut self) {
        let config = self.dir.path().join("config.yml");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{}\n",
            self.dir.path().join("data").display(),
            self.port
        );
        yaml.push_str(&self.auth_yaml);
        std::fs::write(&config, yaml).expect("write registry config");
        let log = std::fs::File::create(self.dir.path().join("registry.log")).expect("log");
        let child = Command::new("docker-registry")
            .args(["serve", &config.display().to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("docker-registry must be installed (.ci/run installs Debian's docker-registry): {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if api()
                .get(&format!("http://{}/v2/", self.host()))
                .call()
                // 401: up, with auth required.
                .is_ok_and(|r| r.status() == 200 || r.status() == 401)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not come up: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The address, for a proxy.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Stops the registry (SIGKILL: it disappears, as a crashed one does).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Its log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The process id, for a proxy that stops it.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The registry's HTTP API (the test playing an attacker or an admin).
    pub fn api(&self) -> RegistryApi {
        RegistryApi {
            base: format!("http://{}/v2", self.host()),
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

fn api() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Direct calls to the distribution API.
pub struct RegistryApi {
    base: String,
}

/// OCI manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

impl RegistryApi {
    /// A manifest's bytes and digest, `None` if absent.
    pub fn manifest(&self, repo: &str, reference: &str) -> Option<(Vec<u8>, String)> {
        let mut resp = api()
            .get(&format!("{}/{repo}/manifests/{reference}", self.base))
            .header("Accept", &format!("{OCI_MANIFEST}, {OCI_INDEX}"))
            .call()
            .expect("GET manifest");
        if resp.status() == 404 {
            return None;
        }
        assert_eq!(resp.status(), 200, "GET manifest {repo}:{reference}");
        let digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Some((resp.body_mut().read_to_vec().expect("body"), digest))
    }

    /// Puts a manifest under a tag or digest.
    pub fn put_manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) {
        let resp = api()
            .put(&format!("{}/{repo}/manifests/{reference}", self.base))
            .header("Content-Type", media_type)
            .send(bytes)
            .expect("PUT manifest");
        assert_eq!(resp.status(), 201, "PUT manifest {repo}:{reference}");
    }

    /// Deletes a manifest by digest (and with it every tag on it).
    pub fn delete_manifest(&self, repo: &str, digest: &str) {
        let resp = api()
            .delete(&format!("{}/{repo}/manifests/{digest}", self.base))
            .call()
            .expect("DELETE manifest");
        assert_eq!(resp.status(), 202, "DELETE manifest {repo}@{digest}");
    }

    /// A blob.
    pub fn blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        let mut resp = api()
            .get(&format!("{}/{repo}/blobs/{digest}", self.base))
            .call()
            .expect("GET blob");
        assert_eq!(resp.status(), 200, "GET blob {repo}@{digest}");
        resp.body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .expect("blob body")
    }

    /// Uploads a blob (monolithic); returns its digest.
    pub fn put_blob(&self, repo: &str, bytes: &[u8]) -> String {
        use sha2::Digest;
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)));
        let resp = api()
            .post(&format!("{}/{repo}/blobs/uploads/", self.base))
            .send_empty()
            .expect("POST upload");
        assert_eq!(resp.status(), 202, "start upload");
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let url = if location.starts_with("http") {
            location
        } else {
            format!("{}{}", self.base.trim_end_matches("/v2"), location)
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let resp = api()
            .put(&format!("{url}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .send(bytes)
            .expect("PUT upload");
        assert_eq!(resp.status(), 201, "finish upload");
        digest
    }

    /// Copies a manifest and every blob it names from one repo/reference
    /// to another.
    pub fn copy_manifest(&self, from_repo: &str, from_ref: &str, to_repo: &str, to_ref: &str) {
        let (bytes, _) = self
            .manifest(from_repo, from_ref)
            .expect("manifest to copy");
        let manifest: serde_json::Value = serde_json::from_slice(&bytes).expect("manifest json");
        let mut digests = vec![
            manifest["config"]["digest"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ];
        for layer in manifest["layers"].as_array().into_iter().flatten() {
            digests.push(layer["digest"].as_str().unwrap_or_default().to_string());
        }
        for digest in digests {
            let blob = self.blob(from_repo, &digest);
            self.put_blob(to_repo, &blob);
        }
        let media_type = manifest["mediaType"]
            .as_str()
            .unwrap_or(OCI_MANIFEST)
            .to_string();
        self.put_manifest(to_repo, to_ref, &media_type, &bytes);
    }
}

/// A TCP proxy in front of a registry. It counts blob uploads started
/// (`POST /v2/…/blobs/uploads/`), can answer the first connections with
/// 503, and can kill the registry just before forwarding the n-th upload.
pub struct Proxy {
    ip: String,
    port: u16,
    state: Arc<ProxyState>,
}

#[derive(Default)]
struct ProxyState {
    uploads: AtomicUsize,
    fail_connections: AtomicUsize,
    answered_503: AtomicUsize,
    kill_at_upload: Mutex<Option<(usize, u32)>>,
}

impl Proxy {
    /// Starts a proxy to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        Proxy::start_at("127.0.0.1", upstream)
    }

    /// Starts a proxy to `upstream` listening on `ip` (e.g. 127.0.0.2, a
    /// loopback address the plain-HTTP rule does not cover).
    pub fn start_at(ip: &str, upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind((ip, 0)).expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(ProxyState::default());
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(client, upstream, &state));
            }
        });
        Proxy {
            ip: ip.to_string(),
            port,
            state,
        }
    }

    /// `IP:PORT`.
    pub fn host(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    /// Blob uploads started through the proxy so far.
    pub fn uploads(&self) -> usize {
        self.state.uploads.load(Ordering::SeqCst)
    }

    /// Resets the upload count.
    pub fn reset_uploads(&self) {
        self.state.uploads.store(0, Ordering::SeqCst);
    }

    /// Answers the next `n` connections with `503 Service Unavailable`.
    pub fn fail_next_connections(&self, n: usize) {
        self.state.fail_connections.store(n, Ordering::SeqCst);
    }

    /// How many 503s were sent.
    pub fn answered_503(&self) -> usize {
        self.state.answered_503.load(Ordering::SeqCst)
    }

    /// SIGKILLs process `pid` when the `n`-th upload (1-based, counted from
    /// now) arrives, before forwarding it.
    pub fn kill_at_upload(&self, n: usize, pid: u32) {
        self.reset_uploads();
        *self.state.kill_at_upload.lock().expect("lock") = Some((n, pid));
    }
}

fn serve(mut client: TcpStream, upstream: SocketAddr, state: &ProxyState) {
    if state
        .fail_connections
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        // Read the request head, then refuse it.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && client.read(&mut byte).is_ok_and(|n| n == 1) {
            head.push(byte[0]);
        }
        state.answered_503.fetch_add(1, Ordering::SeqCst);
        let _ = client.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    let Ok(server) = TcpStream::connect(upstream) else {
        return; // the registry is gone: the client sees the connection close
    };
    let (Ok(mut client_read), Ok(mut server_write)) = (client.try_clone(), server.try_clone())
    else {
        return;
    };
    let mut server_read = server;
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut server_read, &mut client);
        let _ = client.shutdown(std::net::Shutdown::Both);
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut tail: Vec<u8> = Vec::new();
    const NEEDLE: &[u8] = b"POST /v2/";
    loop {
        let n = match client_read.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut window = std::mem::take(&mut tail);
        window.extend_from_slice(&buf[..n]);
        let found = window
            .windows(NEEDLE.len())
            .filter(|w| *w == NEEDLE)
            .count();
        tail = window[window.len().saturating_sub(NEEDLE.len() - 1)..].to_vec();
        if found > 0 {
            let count = state.uploads.fetch_add(found, Ordering::SeqCst) + found;
            let kill = *state.kill_at_upload.lock().expect("lock");
            if let Some((at, pid)) = kill
                && count >= at
            {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                *state.kill_at_upload.lock().expect("lock") = None;
                let _ = server_write.shutdown(std::net::Shutdown::Both);
                break;
            }
        }
        if server_write.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = server_write.shutdown(std::net::Shutdown::Write);
    let _ = back.join();
}

/// `service` the token server issues tokens for.
pub const TOKEN_SERVICE: &str = "aip-test-registry";
/// `iss` of its tokens.
pub const TOKEN_ISSUER: &str = "aip-test-issuer";

/// A registry token service (the test playing an identity provider): checks
/// basic credentials and answers ES256 JWTs granting the requested scopes,
/// signed by a self-signed certificate the registry trusts.
pub struct TokenServer {
    _dir: tempfile::TempDir,
    cert_path: std::path::PathBuf,
    port: u16,
    issued: Arc<AtomicUsize>,
}

impl TokenServer {
    /// Starts it; `user`/`password` are the only valid credentials.
    pub fn start(user: &str, password: &str) -> TokenServer {
        use base64::Engine;
        let dir = tempfile::tempdir().expect("tempdir");
        let key_path = dir.path().join("key.pem");
        let cert_path = dir.path().join("cert.pem");
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=aip-test-token-signer",
            ])
            .arg("-keyout")
            .arg(&key_path)
            .arg("-out")
            .arg(&cert_path)
            .output()
            .unwrap_or_else(|e| panic!("openssl must be installed (.ci/run installs it): {e}"));
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key_pem = std::fs::read_to_string(&key_path).expect("key");
        let signing_key =
            <p256::ecdsa::SigningKey as p256::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&key_pem)
                .expect("p256 key");
        let cert_pem = std::fs::read_to_string(&cert_path).expect("cert");
        let cert_b64: String = cert_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();

        let server = tiny_http::Server::http("127.0.0.1:0").expect("token server");
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .expect("port");
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let issued = Arc::new(AtomicUsize::new(0));
        let count = issued.clone();
        let user = user.to_string();
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let authorized = request
                    .headers()
                    .iter()
                    .any(|h| h.field.equiv("Authorization") && h.value.as_str() == expected);
                if !authorized {
                    let _ = request.respond(
                        tiny_http::Response::from_string(
                            "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}",
                        )
                        .with_status_code(401),
                    );
                    continue;
                }
                let url = request.url().to_string();
                let access: Vec<serde_json::Value> = url
                    .split(['?', '&'])
                    .filter_map(|kv| kv.strip_prefix("scope="))
                    .map(|scope| scope.replace("%3A", ":").replace("%2F", "/").replace("%2C", ","))
                    .filter_map(|scope| {
                        let mut parts = scope.splitn(3, ':');
                        let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                        Some(serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
                    })
                    .collect();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let b64 =
                    |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
                let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "x5c": [cert_b64]});
                let claims = serde_json::json!({
                    "iss": TOKEN_ISSUER, "sub": user, "aud": TOKEN_SERVICE,
                    "exp": now + 300, "nbf": now - 10, "iat": now,
                    "jti": format!("t{}", count.fetch_add(1, Ordering::SeqCst)),
                    "access": access,
                });
                let signing_input = format!(
                    "{}.{}",
                    b64(header.to_string().as_bytes()),
                    b64(claims.to_string().as_bytes())
                );
                let signature: p256::ecdsa::Signature =
                    p256::ecdsa::signature::Signer::sign(&signing_key, signing_input.as_bytes());
                let jwt = format!("{signing_input}.{}", b64(&signature.to_bytes()));
                let body =
                    serde_json::json!({"token": jwt, "access_token": jwt, "expires_in": 300})
                        .to_string();
                let _ = request.respond(
                    tiny_http::Response::from_string(body).with_header(
                        tiny_http::Header::from_bytes("Content-Type", "application/json")
                            .expect("header"),
                    ),
                );
            }
        });
        TokenServer {
            _dir: dir,
            cert_path,
            port,
            issued,
        }
    }

    /// The token endpoint URL (the registry's `realm`).
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// Tokens issued so far.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }
}
