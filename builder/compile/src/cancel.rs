//! Stopping a build from another thread: a running tool (cargo and the
//! rustc processes it started) is killed as a process group.

use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often a running tool checks whether it was cancelled.
const POLL: Duration = Duration::from_millis(100);

/// Set once to stop a build; clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A flag not set.
    pub fn new() -> CancelFlag {
        CancelFlag::default()
    }

    /// Asks the build to stop: a running tool is killed within ~100 ms,
    /// and the build ends at its next step with a cancelled error.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`CancelFlag::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Kills `child`'s process group when `flag` is set, until the returned
/// guard is dropped. The child must lead its own process group
/// (`process_group(0)`), so its children die with it.
pub(crate) fn watch(child: &Child, flag: &CancelFlag) -> WatchGuard {
    let done = Arc::new(AtomicBool::new(false));
    let (flag, stop) = (flag.clone(), done.clone());
    let pid = child.id();
    let reaper = orphan_reaper(pid);
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            if flag.is_cancelled() {
                kill_group(pid);
                return;
            }
            std::thread::sleep(POLL);
        }
    });
    WatchGuard(done, reaper)
}

/// The script of the orphan reaper: while its parent is still the process
/// that started the build (`$1`), wait; once that process is gone (killed,
/// even with SIGKILL, which no handler sees), kill the build's process
/// group (`$2`). `/proc/self/stat`'s 4th field is the current parent.
const REAPER_SCRIPT: &str = r#"while [ "$(cut -d' ' -f4 /proc/$$/stat)" = "$1" ]; do sleep 0.5; done; kill -KILL -- "-$2" 2>/dev/null"#;

/// A small process outside ours that kills the build's process group
/// `pgid` if this process dies before the build ends, so no cargo or rustc
/// outlives a killed service. It is stopped when the build ends. `None`
/// where it cannot be started (no `sh`): then only a live process stops
/// its builds.
fn orphan_reaper(pgid: u32) -> Option<Child> {
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", REAPER_SCRIPT, "aip-build-reaper"])
        .arg(std::process::id().to_string())
        .arg(pgid.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn().ok()
}

/// Stops the watcher thread and the orphan reaper when dropped.
pub(crate) struct WatchGuard(Arc<AtomicBool>, Option<Child>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
        if let Some(reaper) = &mut self.1 {
            let _ = reaper.kill();
            let _ = reaper.wait();
        }
    }
}

#[cfg(unix)]
fn kill_group(pid: u32) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: u32) {}
