//! `GET /metrics`: Prometheus text exposition (prometheus-client): jobs
//! by state, queue depth, builds running, stage durations, HTTP latency.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;
use crate::store::JobState;

type Labels = Vec<(&'static str, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// The service's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    jobs: Family<Labels, Gauge>,
    queue_depth: Gauge,
    running: Gauge,
    stage_seconds: Histograms,
    http_seconds: Histograms,
}

fn stage_histogram() -> Histogram {
    // 10 ms .. ~11 min
    Histogram::new(exponential_buckets(0.01, 3.0, 11))
}

fn http_histogram() -> Histogram {
    // 0.5 ms .. ~8 s
    Histogram::new(exponential_buckets(0.0005, 2.5, 12))
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("aip_builder");
        let jobs = Family::<Labels, Gauge>::default();
        let queue_depth = Gauge::default();
        let running = Gauge::default();
        let stage_seconds: Histograms = Family::new_with_constructor(stage_histogram);
        let http_seconds: Histograms = Family::new_with_constructor(http_histogram);
        registry.register("jobs", "Jobs in the job store, by state", jobs.clone());
        registry.register(
            "queue_depth",
            "Accepted jobs waiting for a build slot",
            queue_depth.clone(),
        );
        registry.register("builds_running", "Builds running now", running.clone());
        registry.register(
            "stage_duration_seconds",
            "Time spent in each pipeline stage",
            stage_seconds.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by method, route and status",
            http_seconds.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            jobs,
            queue_depth,
            running,
            stage_seconds,
            http_seconds,
        }
    }
}

impl Metrics {
    /// Records that `stage` took `seconds`.
    pub fn stage_finished(&self, stage: &str, seconds: f64) {
        self.stage_seconds
            .get_or_create(&vec![("stage", stage.to_string())])
            .observe(seconds);
    }

    /// A build started (+1) or ended (-1).
    pub fn builds_running(&self, delta: i64) {
        self.running.inc_by(delta);
    }
}

/// Prometheus metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    security(()),
    responses((status = 200, description = "OpenMetrics text", body = String, content_type = "application/openmetrics-text")),
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let metrics = &state.metrics;
    match state.store.count_by_state().await {
        Ok(counts) => {
            for job_state in [
                JobState::Queued,
                JobState::Running,
                JobState::Succeeded,
                JobState::Failed,
                JobState::Cancelled,
            ] {
                let n = counts
                    .iter()
                    .find(|(s, _)| *s == job_state)
                    .map_or(0, |(_, n)| *n);
                metrics
                    .jobs
                    .get_or_create(&vec![("state", job_state.as_str().to_string())])
                    .set(n);
            }
        }
        Err(e) => tracing::error!("metrics: cannot count jobs: {e}"),
    }
    let depth = state.runner.depth.load(std::sync::atomic::Ordering::SeqCst);
    metrics
        .queue_depth
        .set(i64::try_from(depth).unwrap_or(i64::MAX));
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &metrics.registry) {
        tracing::error!("metrics: cannot encode: {e}");
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The `method` label: one of the standard methods, else `other`. Labels
/// come from closed sets, so no request can grow `/metrics`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: observes every request's latency under its route template
/// (`/v1/builder/jobs/{id}`), never the raw path (ids would explode the
/// label set).
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = method_label(request.method()).to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .http_seconds
        .get_or_create(&vec![
            ("method", method),
            ("route", route),
            ("status", response.status().as_u16().to_string()),
        ])
        .observe(started.elapsed().as_secs_f64());
    response
}
