//! Running a registered gRPC module: its static executable, unpacked from
//! the image layer, started on a free loopback port and called over
//! `aip.adapter.v1.Adapter`.
//!
//! The executable runs as a plain child process, not in a container: the
//! manifest's `permissions.net` is not enforced here (a container runtime or
//! network policy does that where the platform runs it).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aip_adapter_proto::v1::adapter_client::AdapterClient;
use aip_adapter_proto::v1::{Credential, InvokeRequest};
use aip_register::OpenedModule;

use crate::exit::{CliError, internal};

/// How long the service may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// stderr lines kept for error messages.
const KEPT_LOG_LINES: usize = 40;

/// A started service; stopped when dropped.
pub struct RunningService {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

/// Why an Invoke failed, as the adapter reported it.
pub struct InvokeFailure {
    /// `invalid-input`, `vendor`, ...
    pub kind: &'static str,
    /// The message.
    pub message: String,
    /// Vendor status and body, for `vendor`.
    pub vendor: Option<(u32, String)>,
}

impl RunningService {
    /// Unpacks and starts `module`'s executable. `vendor_url` becomes
    /// `AIP_VENDOR_URL`.
    pub fn start(
        module: &OpenedModule,
        vendor_url: Option<&str>,
    ) -> Result<RunningService, CliError> {
        let dir = tempfile::Builder::new()
            .prefix("aip-service-")
            .tempdir()
            .map_err(internal)?;
        let exe = dir.path().join("aip-adapter");
        write_executable(&exe, &module.payload)?;
        let mut cmd = Command::new(&exe);
        cmd.env_clear()
            .env("AIP_LISTEN", "127.0.0.1:0")
            .env("AIP_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(url) = vendor_url {
            cmd.env("AIP_VENDOR_URL", url);
        }
        let mut child = spawn(&mut cmd)?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        if let Some(stderr) = child.stderr.take() {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(addr) = listening_addr(&line) {
                        let _ = tx.send(addr);
                    }
                    if let Ok(mut log) = log.lock() {
                        if log.len() == KEPT_LOG_LINES {
                            log.remove(0);
                        }
                        log.push(line);
                    }
                }
            });
        }
        let mut service = RunningService {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            _dir: dir,
        };
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => {
                service.addr = addr;
                Ok(service)
            }
            Err(_) => {
                let status = service.child.try_wait().ok().flatten();
                Err(internal(anyhow::anyhow!(
                    "the module's service did not start listening within {START_TIMEOUT:?} ({}); its log:\n{}",
                    status.map_or("still running".to_string(), |s| s.to_string()),
                    service.log_tail()
                )))
            }
        }
    }

    /// The last lines the service logged.
    pub fn log_tail(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Calls `Invoke` once.
    pub fn invoke(
        &self,
        operation: &str,
        input: &str,
        credentials: &[(String, String)],
    ) -> Result<Result<String, InvokeFailure>, CliError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(internal)?;
        runtime.block_on(async {
            let mut client = AdapterClient::connect(format!("http://{}", self.addr))
                .await
                .map_err(|e| {
                    internal(anyhow::anyhow!(
                        "connecting to the module's service at {}: {e}",
                        self.addr
                    ))
                })?;
            let request = InvokeRequest {
                operation: operation.to_string(),
                input_json: input.to_string(),
                credentials: credentials
                    .iter()
                    .map(|(scheme, value)| Credential {
                        scheme: scheme.clone(),
                        value: value.clone(),
                    })
                    .collect(),
                request_id: String::new(),
            };
            Ok(match client.invoke(request).await {
                Ok(response) => Ok(response.into_inner().output_json),
                Err(status) => Err(failure(&status)),
            })
        })
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn failure(status: &tonic::Status) -> InvokeFailure {
    match aip_adapter_proto::adapter_error(status) {
        Some(error) => InvokeFailure {
            kind: aip_adapter_proto::kind_name(error.kind()),
            message: error.message,
            vendor: error.vendor.map(|v| (v.status, v.body)),
        },
        None => InvokeFailure {
            kind: "transport",
            message: format!("{:?}: {}", status.code(), status.message()),
            vendor: None,
        },
    }
}

fn write_executable(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).map_err(internal)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(internal)
}

/// Spawns, retrying briefly on ETXTBSY: another thread's fork can hold the
/// just-written file open for an instant.
fn spawn(cmd: &mut Command) -> Result<Child, CliError> {
    let mut attempts = 0;
    loop {
        match cmd.spawn() {
            Ok(child) => return Ok(child),
            Err(e) if e.raw_os_error() == Some(26) && attempts < 20 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(e) => {
                return Err(internal(anyhow::anyhow!(
                    "starting the module's service: {e}"
                )));
            }
        }
    }
}

/// The address in the service's `listening` log line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = value.get("fields")?;
    if fields.get("message")?.as_str()? != "listening" {
        return None;
    }
    fields.get("listen")?.as_str()?.parse().ok()
}
