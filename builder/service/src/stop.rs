//! Stopping running builds: on request (`POST …/cancel`) or when they
//! exceed the per-build time limit. The pipeline sees a
//! [`CancelFlag`]; why it was set is kept here, so the job ends as
//! `cancelled` or as `failed` (timed out).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aip_compile::CancelFlag;

/// Why a build was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A caller cancelled it.
    Cancelled,
    /// It ran longer than the time limit.
    TimedOut(Duration),
}

/// One running build's stop switch.
#[derive(Clone, Default)]
pub struct Stop {
    flag: CancelFlag,
    why: Arc<OnceLock<StopReason>>,
}

impl Stop {
    /// The flag the pipeline watches.
    pub fn flag(&self) -> CancelFlag {
        self.flag.clone()
    }

    /// Stops the build for `reason` (the first reason wins).
    pub fn stop(&self, reason: StopReason) {
        let _ = self.why.set(reason);
        self.flag.cancel();
    }

    /// Why it was stopped, if it was.
    pub fn reason(&self) -> Option<StopReason> {
        self.why.get().copied()
    }
}

/// The stop switches of the builds running now, by job id.
#[derive(Clone, Default)]
pub struct Running(Arc<Mutex<HashMap<String, Stop>>>);

impl Running {
    /// Registers job `id` as running and arms its time limit; the guard
    /// unregisters it (and disarms the timer) when dropped.
    pub fn start(&self, id: &str, limit: Duration) -> RunningGuard {
        let stop = Stop::default();
        if let Ok(mut map) = self.0.lock() {
            map.insert(id.to_string(), stop.clone());
        }
        let timer_stop = stop.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            timer_stop.stop(StopReason::TimedOut(limit));
        });
        RunningGuard {
            running: self.clone(),
            id: id.to_string(),
            stop,
            timer,
        }
    }

    /// Cancels job `id` if it is running here; `false` when it is not.
    pub fn cancel(&self, id: &str) -> bool {
        let stop = self.0.lock().ok().and_then(|map| map.get(id).cloned());
        match stop {
            Some(stop) => {
                stop.stop(StopReason::Cancelled);
                true
            }
            None => false,
        }
    }
}

/// A running build's registration.
pub struct RunningGuard {
    running: Running,
    id: String,
    /// Its stop switch.
    pub stop: Stop,
    timer: tokio::task::JoinHandle<()>,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.timer.abort();
        if let Ok(mut map) = self.running.0.lock() {
            map.remove(&self.id);
        }
    }
}
