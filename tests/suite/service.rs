//! A generated gRPC service run by a test: its static executable started on
//! a free loopback port, called over `aip.adapter.v1` and `grpc.health.v1`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aip_adapter_proto::v1::adapter_client::AdapterClient;
use aip_adapter_proto::v1::{Credential, DescribeRequest, InvokeRequest};
use serde_json::Value;

/// A running service; killed when dropped.
pub struct ServiceProcess {
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Everything it logged so far.
    pub log: Arc<Mutex<Vec<String>>>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// An Invoke that failed: the adapter error kind, message and vendor status.
#[derive(Debug)]
pub struct Failure {
    /// gRPC status code.
    pub code: tonic::Code,
    /// `invalid-input`, `vendor`, ...
    pub kind: &'static str,
    /// The message.
    pub message: String,
    /// Vendor status, for `vendor`.
    pub vendor_status: Option<u32>,
}

impl ServiceProcess {
    /// Writes `executable` to a temp dir and starts it with `env`.
    pub fn start(executable: &[u8], env: &[(&str, &str)]) -> ServiceProcess {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let exe = dir.path().join("aip-adapter");
        std::fs::write(&exe, executable).expect("write executable");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut cmd = Command::new(&exe);
        cmd.env_clear()
            .env("AIP_LISTEN", "127.0.0.1:0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // ETXTBSY: another test thread's fork may hold the new file open briefly.
        let mut child = None;
        for _ in 0..40 {
            match cmd.spawn() {
                Ok(c) => {
                    child = Some(c);
                    break;
                }
                Err(e) if e.raw_os_error() == Some(26) => {
                    std::thread::sleep(Duration::from_millis(25))
                }
                Err(e) => panic!("start {}: {e}", exe.display()),
            }
        }
        let mut child = child.expect("spawned");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        let thread_log = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening(&line) {
                    let _ = tx.send(addr);
                }
                thread_log.lock().expect("log").push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("service did not listen: {:?}", log.lock().expect("log")));
        ServiceProcess {
            child: Some(child),
            addr,
            log,
            runtime: tokio::runtime::Runtime::new().expect("runtime"),
            _dir: dir,
        }
    }

    /// A handle on a service something else started (a container), once
    /// its health check answers; `None` if it never does within `wait`.
    pub fn attach(addr: SocketAddr, wait: Duration) -> Option<ServiceProcess> {
        let service = ServiceProcess {
            child: None,
            addr,
            log: Arc::default(),
            runtime: tokio::runtime::Runtime::new().expect("runtime"),
            _dir: tempfile::tempdir().expect("tempdir"),
        };
        let deadline = std::time::Instant::now() + wait;
        while std::time::Instant::now() < deadline {
            if service.try_health().is_some() {
                return Some(service);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        None
    }

    fn client(&self) -> AdapterClient<tonic::transport::Channel> {
        self.runtime
            .block_on(AdapterClient::connect(format!("http://{}", self.addr)))
            .expect("connect")
    }

    /// `Describe`, parsed.
    pub fn describe(&self) -> Value {
        let mut client = self.client();
        let answer = self
            .runtime
            .block_on(client.describe(DescribeRequest {}))
            .expect("describe");
        serde_json::from_str(&answer.into_inner().describe_json).expect("describe json")
    }

    /// `grpc.health.v1.Health/Check` for the Adapter service.
    pub fn health(&self) -> String {
        self.try_health().expect("health check answers")
    }

    fn try_health(&self) -> Option<String> {
        self.runtime.block_on(async {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
                .ok()?
                .connect()
                .await
                .ok()?;
            let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
            let answer = client
                .check(tonic_health::pb::HealthCheckRequest {
                    service: aip_adapter_proto::SERVICE_NAME.into(),
                })
                .await
                .ok()?;
            Some(answer.into_inner().status().as_str_name().to_string())
        })
    }

    fn request(
        operation: &str,
        input: &str,
        credentials: &[(&str, &str)],
        request_id: &str,
    ) -> InvokeRequest {
        InvokeRequest {
            operation: operation.into(),
            input_json: input.into(),
            credentials: credentials
                .iter()
                .map(|(s, v)| Credential {
                    scheme: s.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            request_id: request_id.into(),
        }
    }

    /// `Invoke`: the output JSON, or the failure.
    pub fn invoke(
        &self,
        operation: &str,
        input: &str,
        credentials: &[(&str, &str)],
    ) -> Result<Value, Failure> {
        let mut client = self.client();
        self.runtime
            .block_on(client.invoke(Self::request(operation, input, credentials, "req-1")))
            .map(|r| serde_json::from_str(&r.into_inner().output_json).expect("output json"))
            .map_err(|s| failure(&s))
    }

    /// `InvokeStream`: every streamed output, or the first failure.
    pub fn invoke_stream(&self, operation: &str, input: &str) -> Result<Vec<Value>, Failure> {
        let mut client = self.client();
        self.runtime.block_on(async {
            let mut stream = client
                .invoke_stream(Self::request(operation, input, &[], ""))
                .await
                .map_err(|s| failure(&s))?
                .into_inner();
            let mut out = Vec::new();
            while let Some(item) = stream.message().await.map_err(|s| failure(&s))? {
                out.push(serde_json::from_str(&item.output_json).expect("output json"));
            }
            Ok(out)
        })
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("a started process");
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill -TERM");
        child.wait().expect("wait")
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

fn failure(status: &tonic::Status) -> Failure {
    let error = aip_adapter_proto::adapter_error(status)
        .unwrap_or_else(|| panic!("no AdapterError in the status details: {status:?}"));
    Failure {
        code: status.code(),
        kind: aip_adapter_proto::kind_name(error.kind()),
        message: error.message,
        vendor_status: error.vendor.map(|v| v.status),
    }
}

fn listening(line: &str) -> Option<SocketAddr> {
    let value: Value = serde_json::from_str(line).ok()?;
    let fields = value.get("fields")?;
    (fields.get("message")?.as_str()? == "listening")
        .then(|| fields.get("listen")?.as_str()?.parse().ok())
        .flatten()
}
