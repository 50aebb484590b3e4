//! The state every handler shares.

use std::sync::Arc;

use crate::ServiceConfig;
use crate::metrics::Metrics;
use crate::modules::Registry;
use crate::rate_limit::{FailedAuth, RateLimits};
use crate::runner::Runner;
use crate::store::Store;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<ServiceConfig>,
    /// Jobs.
    pub store: Store,
    /// The queue.
    pub runner: Runner,
    /// Registered modules.
    pub registry: Registry,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Per-key request rate limits.
    pub limits: RateLimits,
    /// Failed authentications per client address.
    pub failed_auth: FailedAuth,
    /// Console sign-ins.
    pub sessions: crate::console::Sessions,
    /// What the configured registries hold.
    pub catalog: crate::catalog::Catalog,
}
