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
