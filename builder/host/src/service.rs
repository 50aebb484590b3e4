//! Running gRPC modules: the static service executable of a
//! `runtime.type: grpc` module, started as a child process on a free
//! loopback port (its address is read from its `listening` log line) and
//! called over `aip.adapter.v1.Adapter` and `grpc.health.v1`.
//!
//! The executable is not sandboxed here: `permissions.net` is enforced by
//! the container runtime or network policy where the platform runs it.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aip_adapter_proto::v1::adapter_client::AdapterClient;
use aip_adapter_proto::v1::{Credential, DescribeRequest, InvokeRequest};

/// How long a service may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a service may take to drain and exit after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Log lines kept for error messages and callers.
const KEPT_LOG_LINES: usize = 200;

/// Why running or calling a service failed (not an adapter error: those
/// are [`InvokeFailure`]s).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The executable could not be written or started.
    #[error("cannot start the module's service: {0}")]
    Start(String),
    /// It did not start listening.
    #[error(
        "the module's service did not start listening within {timeout:?} ({state}); its log:\n{log}"
    )]
    NotListening {
        /// The limit.
        timeout: Duration,
        /// Exit status or "still running".
        state: String,
        /// Its last log lines.
        log: String,
    },
    /// The gRPC exchange itself failed.
    #[error("calling the module's service at {addr}: {message}")]
    Call {
        /// Where it listens.
        addr: SocketAddr,
        /// What went wrong.
        message: String,
    },
}

/// An adapter error reported by the service (the WIT world's kinds).
#[derive(Debug, Clone)]
pub struct InvokeFailure {
    /// The gRPC status code.
    pub code: tonic::Code,
    /// `unknown-operation`, `invalid-input`, `missing-credential`, `vendor`
    /// or `transport`.
    pub kind: &'static str,
    /// The message.
    pub message: String,
    /// Vendor status and body, for `vendor`.
    pub vendor: Option<(u32, String)>,
}

/// A running service; stopped when dropped.
pub struct ServiceProcess {
    child: Option<Child>,
    reader: Option<std::thread::JoinHandle<()>>,
    addr: SocketAddr,
    log: Arc<Mutex<VecDeque<String>>>,
    runtime: tokio::runtime::Runtime,
    _dir: Option<tempfile::TempDir>,
}

impl ServiceProcess {
    /// Writes `executable` to a private temp folder and starts it on a free
    /// loopback port, with a clean environment plus `env`.
    pub fn start(executable: &[u8], env: &[(&str, &str)]) -> Result<ServiceProcess, ServiceError> {
        use std::os::unix::fs::PermissionsExt;
        let start_err = |e: std::io::Error| ServiceError::Start(e.to_string());
        let dir = tempfile::Builder::new()
            .prefix("aip-service-")
            .tempdir()
            .map_err(start_err)?;
        let exe = dir.path().join("aip-adapter");
        std::fs::write(&exe, executable).map_err(start_err)?;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755))
            .map_err(start_err)?;
        let mut cmd = Command::new(&exe);
        cmd.env_clear()
            .env("AIP_LISTEN", "127.0.0.1:0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = spawn(&mut cmd)?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = mpsc::channel();
        let mut reader = None;
        if let Some(stderr) = child.stderr.take() {
            let log = Arc::clone(&log);
            reader = Some(std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(addr) = listening_addr(&line) {
                        let _ = tx.send(addr);
                    }
                    if let Ok(mut log) = log.lock() {
                        if log.len() == KEPT_LOG_LINES {
                            log.pop_front();
                        }
                        log.push_back(line);
                    }
                }
            }));
        }
        let mut service = ServiceProcess {
            child: Some(child),
            reader,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            runtime: runtime()?,
            _dir: Some(dir),
        };
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => {
                service.addr = addr;
                Ok(service)
            }
            Err(_) => {
                // The log ended (stderr closed) or the time ran out; a process
                // that closed stderr is exiting, so give it a moment.
                let state = service
                    .child
                    .as_mut()
                    .and_then(|c| exit_status_within(c, Duration::from_secs(2)))
                    .map_or("still running".to_string(), |s| s.to_string());
                Err(ServiceError::NotListening {
                    timeout: START_TIMEOUT,
                    state,
                    log: service.log_tail().join("\n"),
                })
            }
        }
    }

    /// A handle on a service something else started (a container), once its
    /// health check answers within `wait`.
    pub fn attach(addr: SocketAddr, wait: Duration) -> Result<ServiceProcess, ServiceError> {
        let service = ServiceProcess {
            child: None,
            reader: None,
            addr,
            log: Arc::default(),
            runtime: runtime()?,
            _dir: None,
        };
        let deadline = Instant::now() + wait;
        loop {
            match service.health() {
                Ok(_) => return Ok(service),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The last lines it logged (JSON lines).
    pub fn log_tail(&self) -> Vec<String> {
        self.log
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn call_err(&self, message: impl std::fmt::Display) -> ServiceError {
        ServiceError::Call {
            addr: self.addr,
            message: message.to_string(),
        }
    }

    async fn client(&self) -> Result<AdapterClient<tonic::transport::Channel>, ServiceError> {
        AdapterClient::connect(format!("http://{}", self.addr))
            .await
            .map_err(|e| self.call_err(e))
    }

    /// `Describe`: the describe JSON text.
    pub fn describe(&self) -> Result<String, ServiceError> {
        self.runtime.block_on(async {
            let mut client = self.client().await?;
            let answer = client
                .describe(DescribeRequest {})
                .await
                .map_err(|s| self.call_err(s))?;
            Ok(answer.into_inner().describe_json)
        })
    }

    /// `grpc.health.v1.Health/Check` of the Adapter service, e.g. `SERVING`.
    pub fn health(&self) -> Result<String, ServiceError> {
        self.runtime.block_on(async {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
                .map_err(|e| self.call_err(e))?
                .connect()
                .await
                .map_err(|e| self.call_err(e))?;
            let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
            let answer = client
                .check(tonic_health::pb::HealthCheckRequest {
                    service: aip_adapter_proto::SERVICE_NAME.into(),
                })
                .await
                .map_err(|s| self.call_err(s))?;
            Ok(answer.into_inner().status().as_str_name().to_string())
        })
    }

    /// `Invoke`: the output JSON text, or the adapter's error.
    pub fn invoke(
        &self,
        operation: &str,
        input: &str,
        credentials: &[(String, String)],
        request_id: &str,
    ) -> Result<Result<String, InvokeFailure>, ServiceError> {
        self.runtime.block_on(async {
            let mut client = self.client().await?;
            let request = invoke_request(operation, input, credentials, request_id);
            Ok(match client.invoke(request).await {
                Ok(answer) => Ok(answer.into_inner().output_json),
                Err(status) => Err(failure(&status)),
            })
        })
    }

    /// `InvokeStream`: every streamed output JSON text, or the first error.
    pub fn invoke_stream(
        &self,
        operation: &str,
        input: &str,
        credentials: &[(String, String)],
    ) -> Result<Result<Vec<String>, InvokeFailure>, ServiceError> {
        self.runtime.block_on(async {
            let mut client = self.client().await?;
            let request = invoke_request(operation, input, credentials, "");
            let mut stream = match client.invoke_stream(request).await {
                Ok(answer) => answer.into_inner(),
                Err(status) => return Ok(Err(failure(&status))),
            };
            let mut outputs = Vec::new();
            loop {
                match stream.message().await {
                    Ok(Some(item)) => outputs.push(item.output_json),
                    Ok(None) => return Ok(Ok(outputs)),
                    Err(status) => return Ok(Err(failure(&status))),
                }
            }
        })
    }

    /// Sends SIGTERM and waits for the exit status; afterwards
    /// [`ServiceProcess::log_tail`] holds everything it logged.
    pub fn terminate(&mut self) -> Result<ExitStatus, ServiceError> {
        let Some(mut child) = self.child.take() else {
            return Err(ServiceError::Start("not a process started here".into()));
        };
        let pid = rustix::process::Pid::from_child(&child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .map_err(|e| ServiceError::Start(format!("SIGTERM: {e}")))?;
        let Some(status) = exit_status_within(&mut child, SHUTDOWN_GRACE) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ServiceError::Start(format!(
                "the service did not stop within {SHUTDOWN_GRACE:?} of SIGTERM and was killed"
            )));
        };
        // Its stderr is closed now: the reader finishes the last lines.
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        Ok(status)
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One worker thread: it keeps driving the client's connections between
/// calls, so a dropped client closes its connection and the service's
/// graceful shutdown is not left waiting for it.
/// The child's exit status if it exits within `wait`.
fn exit_status_within(child: &mut Child, wait: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + wait;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => return None,
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ServiceError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| ServiceError::Start(format!("async runtime: {e}")))
}

fn invoke_request(
    operation: &str,
    input: &str,
    credentials: &[(String, String)],
    request_id: &str,
) -> InvokeRequest {
    InvokeRequest {
        operation: operation.to_string(),
        input_json: input.to_string(),
        credentials: credentials
            .iter()
            .map(|(scheme, value)| Credential {
                scheme: scheme.clone(),
                value: value.clone(),
            })
            .collect(),
        request_id: request_id.to_string(),
    }
}

/// The adapter error in a status; a status without one is a transport
/// failure between caller and service.
fn failure(status: &tonic::Status) -> InvokeFailure {
    match aip_adapter_proto::adapter_error(status) {
        Some(error) => InvokeFailure {
            code: status.code(),
            kind: aip_adapter_proto::kind_name(error.kind()),
            message: error.message,
            vendor: error.vendor.map(|v| (v.status, v.body)),
        },
        None => InvokeFailure {
            code: status.code(),
            kind: "transport",
            message: format!("{:?}: {}", status.code(), status.message()),
            vendor: None,
        },
    }
}

/// Spawns, retrying briefly on ETXTBSY: another thread's fork can hold the
/// just-written executable open for an instant.
fn spawn(cmd: &mut Command) -> Result<Child, ServiceError> {
    let mut attempts = 0;
    loop {
        match cmd.spawn() {
            Ok(child) => return Ok(child),
            Err(e) if e.raw_os_error() == Some(26) && attempts < 40 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(e) => return Err(ServiceError::Start(e.to_string())),
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
