//! `nats-server -js` from Debian's package, on a free 127.0.0.1 port with
//! its JetStream store in a temp dir, stopped when dropped.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::free_port;

/// A running NATS server with JetStream.
pub struct Nats {
    _dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl Nats {
    /// Starts it and waits until it accepts connections.
    pub fn start() -> Nats {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let child = Command::new("nats-server")
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-sd",
                &dir.path().display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("nats-server must be installed (.ci/run installs Debian's nats-server): {e}")
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        Nats {
            _dir: dir,
            port,
            child,
        }
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
