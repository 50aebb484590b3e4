//! A PostgreSQL server from Debian's `postgresql` package, started on a
//! free 127.0.0.1 port in a temp dir (initdb, trust auth for the test
//! role), stopped when dropped. As root it runs as the `postgres` user,
//! since PostgreSQL refuses to run as root.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::free_port;

/// A running PostgreSQL.
pub struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

/// The newest `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap_or_else(|e| {
            panic!("PostgreSQL must be installed (.ci/run installs Debian's postgresql): {e}")
        })
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("a PostgreSQL version in /usr/lib/postgresql")
        .1
}

/// uid and gid of the `postgres` user, when we are root.
fn run_as() -> Option<(u32, u32)> {
    let me = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        return None;
    }
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

fn command(program: &Path, user: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(program);
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

impl Postgres {
    /// initdb + postgres on a free port; waits until it accepts connections.
    pub fn start() -> Postgres {
        let dir = tempfile::tempdir().expect("tempdir");
        let user = run_as();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        }
        let bin = bin_dir();
        let data = dir.path().join("data");
        let out = command(&bin.join("initdb"), user)
            .args([
                "-D",
                &data.display().to_string(),
                "-U",
                "aip",
                "--auth=trust",
                "-E",
                "UTF8",
            ])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("postgres.log")).expect("log");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path().join("postgres.log"), Some(uid), Some(gid))
                .expect("chown log");
        }
        let child = command(&bin.join("postgres"), user)
            .args([
                "-D",
                &data.display().to_string(),
                "-p",
                &port.to_string(),
                "-k",
                &dir.path().display().to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                // Tests kill the service, not the database.
                "-c",
                "fsync=off",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("postgres starts");
        let server = Postgres {
            dir,
            port,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = command(&bin.join("pg_isready"), None)
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "aip"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ready && TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not come up: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `postgres://aip@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://aip@127.0.0.1:{}/postgres", self.port)
    }

    /// The server log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT: PostgreSQL's fast shutdown (backends end too).
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
