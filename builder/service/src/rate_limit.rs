//! Per-key request rate limits (governor's GCRA): a key over its rate gets
//! `429` with `Retry-After`, other keys are unaffected.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::problem::Problem;

/// A key's allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: NonZeroU32,
    /// Requests allowed at once above the sustained rate.
    pub burst: NonZeroU32,
}

/// The limiter shared by the handlers; `None` inside: unlimited.
#[derive(Clone, Default)]
pub struct RateLimits(Option<Arc<DefaultKeyedRateLimiter<String>>>);

impl RateLimits {
    /// Limits per key (`None`: no limit).
    pub fn new(limit: Option<RateLimit>) -> RateLimits {
        RateLimits(limit.map(|l| {
            Arc::new(RateLimiter::keyed(
                Quota::per_second(l.per_second).allow_burst(l.burst),
            ))
        }))
    }

    /// Counts one request of `key_id`; `429` with `Retry-After` (whole
    /// seconds, at least 1) when it is over its rate.
    pub fn check(&self, key_id: &str) -> Result<(), Problem> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter.check_key(&key_id.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Problem::rate_limited(wait.as_secs_f64().ceil().max(1.0) as u64)
        })
    }
}

/// Failed authentications per client address: past a small allowance an
/// address is answered `429` for a while, before its key is even looked at,
/// so keys cannot be guessed at the speed of the network.
#[derive(Clone)]
pub struct FailedAuth {
    limiter: Arc<DefaultKeyedRateLimiter<std::net::IpAddr>>,
    blocked: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, std::time::Instant>>>,
}

impl Default for FailedAuth {
    fn default() -> Self {
        // 5 failures a second sustained, 20 at once: a person mistyping a
        // key never meets it; a guessing loop does within a second.
        let quota = Quota::per_second(NonZeroU32::MIN.saturating_add(4))
            .allow_burst(NonZeroU32::MIN.saturating_add(19));
        FailedAuth {
            limiter: Arc::new(RateLimiter::keyed(quota)),
            blocked: Arc::default(),
        }
    }
}

impl FailedAuth {
    /// `429` while `addr` is blocked.
    pub fn check(&self, addr: std::net::IpAddr) -> Result<(), Problem> {
        let now = std::time::Instant::now();
        let until = self.blocked.lock().ok().and_then(|b| b.get(&addr).copied());
        match until {
            Some(until) if until > now => Err(Problem::rate_limited(
                (until - now).as_secs_f64().ceil().max(1.0) as u64,
            )),
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication from `addr`: the `401` to answer, or
    /// `429` (and a block) once it is over its allowance.
    pub fn failed(&self, addr: std::net::IpAddr) -> Problem {
        match self.limiter.check_key(&addr) {
            Ok(()) => Problem::unauthenticated(),
            Err(not_until) => {
                let wait = not_until
                    .wait_time_from(DefaultClock::default().now())
                    .max(std::time::Duration::from_secs(1));
                if let Ok(mut blocked) = self.blocked.lock() {
                    let now = std::time::Instant::now();
                    if blocked.len() > 10_000 {
                        blocked.retain(|_, until| *until > now);
                    }
                    blocked.insert(addr, now + wait);
                }
                Problem::rate_limited(wait.as_secs_f64().ceil() as u64)
            }
        }
    }
}
