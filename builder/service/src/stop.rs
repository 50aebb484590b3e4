//! Stopping running builds: on request (`POST …/cancel`) or when they
//! exceed the per-build time limit. The pipeline sees a
//! [`CancelFlag`]; why it was set is kept here, so the job ends as
//! `cancelled` or as `failed` (timed out).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aip_compile::CancelFlag;

/// Why a build was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A caller cancelled it.
    Cancelled,
    /// It ran longer than the time limit.
    TimedOut(Duration),
    /// The job was taken from it (cancelled in the store, or started again
    /// by a later attempt): it must not record anything.
    Lost,
}

/// One running build's stop switch.
#[derive(Clone, Default)]
pub struct Stop {
    flag: CancelFlag,
    state: Arc<Mutex<StopState>>,
}

/// Where a build stands with respect to stopping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum StopState {
    /// It may still be stopped.
    #[default]
    Open,
    /// It was stopped, for this reason.
    Stopped(StopReason),
    /// It is registering its module: too late to stop, it finishes.
    Committed,
}

/// What asking a build to stop did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// No build of this process holds the job.
    NotHere,
    /// The build stops at its next check (cargo is killed).
    Stopping,
    /// The build is registering its module and finishes.
    TooLate,
}

impl Stop {
    /// The flag the pipeline watches.
    pub fn flag(&self) -> CancelFlag {
        self.flag.clone()
    }

    /// Stops the build for `reason` unless it has committed (the first
    /// reason wins); `false` when it is too late.
    pub fn stop(&self, reason: StopReason) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        match *state {
            StopState::Committed => false,
            StopState::Stopped(_) => true,
            StopState::Open => {
                *state = StopState::Stopped(reason);
                self.flag.cancel();
                true
            }
        }
    }

    /// Marks the build as registering its module, after which it is not
    /// stopped; `false` when it was stopped first (it must not register).
    pub fn commit(&self) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        match *state {
            StopState::Open => {
                *state = StopState::Committed;
                true
            }
            StopState::Committed => true,
            StopState::Stopped(_) => false,
        }
    }

    /// Why it was stopped, if it was.
    pub fn reason(&self) -> Option<StopReason> {
        match self.state.lock().ok().map(|s| *s) {
            Some(StopState::Stopped(reason)) => Some(reason),
            _ => None,
        }
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
            let _ = timer_stop.stop(StopReason::TimedOut(limit));
        });
        RunningGuard {
            running: self.clone(),
            id: id.to_string(),
            stop,
            timer,
        }
    }

    /// Cancels job `id` if a build of this process holds it.
    pub fn cancel(&self, id: &str) -> StopOutcome {
        let stop = self.0.lock().ok().and_then(|map| map.get(id).cloned());
        match stop {
            Some(stop) if stop.stop(StopReason::Cancelled) => StopOutcome::Stopping,
            Some(_) => StopOutcome::TooLate,
            None => StopOutcome::NotHere,
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
