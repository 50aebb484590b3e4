//! A generated gRPC service run by a test, through the host's
//! [`aip_host::service::ServiceProcess`], with JSON values in and out.

use std::net::SocketAddr;
use std::time::Duration;

use aip_host::service::{InvokeFailure, ServiceProcess as Process};
use serde_json::Value;

/// A running service; stopped when dropped.
pub struct ServiceProcess(Process);

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

impl From<InvokeFailure> for Failure {
    fn from(f: InvokeFailure) -> Failure {
        Failure {
            code: f.code,
            kind: f.kind,
            message: f.message,
            vendor_status: f.vendor.map(|v| v.0),
        }
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

impl ServiceProcess {
    /// Starts `executable` on a free loopback port with `env`.
    pub fn start(executable: &[u8], env: &[(&str, &str)]) -> ServiceProcess {
        ServiceProcess(Process::start(executable, env).unwrap_or_else(|e| panic!("{e}")))
    }

    /// A service a container runs, once its health check answers.
    pub fn attach(addr: SocketAddr, wait: Duration) -> Option<ServiceProcess> {
        Process::attach(addr, wait).ok().map(ServiceProcess)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    /// `Describe`, parsed.
    pub fn describe(&self) -> Value {
        json(&self.0.describe().unwrap_or_else(|e| panic!("{e}")))
    }

    /// The Adapter service's health status.
    pub fn health(&self) -> String {
        self.0.health().unwrap_or_else(|e| panic!("{e}"))
    }

    /// `Invoke` with request id `req-1`: the output, or the failure.
    pub fn invoke(
        &self,
        operation: &str,
        input: &str,
        credentials: &[(&str, &str)],
    ) -> Result<Value, Failure> {
        let credentials: Vec<(String, String)> = credentials
            .iter()
            .map(|(s, v)| (s.to_string(), v.to_string()))
            .collect();
        self.0
            .invoke(operation, input, &credentials, "req-1")
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|out| json(&out))
            .map_err(Failure::from)
    }

    /// `InvokeStream`: every streamed output, or the first failure.
    pub fn invoke_stream(&self, operation: &str, input: &str) -> Result<Vec<Value>, Failure> {
        self.0
            .invoke_stream(operation, input, &[])
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|outs| outs.iter().map(|o| json(o)).collect())
            .map_err(Failure::from)
    }

    /// Sends SIGTERM; the exit status and everything it logged.
    pub fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let status = self.0.terminate().unwrap_or_else(|e| panic!("{e}"));
        (status, self.0.log_tail())
    }
}
