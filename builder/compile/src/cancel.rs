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
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            if flag.is_cancelled() {
                kill_group(pid);
                return;
            }
            std::thread::sleep(POLL);
        }
    });
    WatchGuard(done)
}

/// Stops the watcher thread when dropped.
pub(crate) struct WatchGuard(Arc<AtomicBool>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
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
