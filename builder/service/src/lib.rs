//! The build service: `aip-builder serve`.
//!
//! 1. **Accept** (`api.rs`, axum): `POST /v1/builder/adapter` authenticates
//!    the caller (`auth.rs`: API keys with roles and tenants), validates the
//!    request (`request.rs`), stores the spec under `data/jobs/<id>/`, and
//!    inserts the job (`store.rs`: SQLite in WAL mode through sqlx, embedded
//!    migrations), honouring `Idempotency-Key`. Errors are RFC 7807
//!    problems (`problem.rs`).
//! 2. **Queue** (`runner.rs`): a bounded number of build slots; each build
//!    runs `aip_pipeline::build_module` on a blocking thread and records
//!    every stage, log line and warning as a job event.
//! 3. **Follow**: `GET /v1/builder/jobs/{id}` (state), `/events` (SSE:
//!    history first, then live, `sse.rs`), `/logs`.
//! 4. **Recover**: on start, jobs that were queued or running when the
//!    service stopped are queued again; registration is atomic, so a build
//!    cut short left nothing half-registered, and running it again ends it.

mod api;
mod auth;
mod fetch;
mod metrics;
mod modules;
mod modules_api;
mod problem;
mod rate_limit;
mod request;
mod runner;
mod sse;
mod stop;
mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use auth::{ApiKey, Role, parse_keys};
pub use fetch::{FetchPolicy, forbidden};
pub use problem::Problem;
pub use rate_limit::RateLimit;
pub use store::{Job, JobState};

/// Why the service cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The job database failed.
    #[error("job store: {0}")]
    Store(String),
    /// The configuration is wrong.
    #[error("{0}")]
    Config(String),
    /// Binding or serving failed.
    #[error("cannot serve on {addr}: {source}")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// How the service runs.
pub struct ServiceConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Data folder: `jobs.db`, `jobs/<id>/`, `modules/`.
    pub data: PathBuf,
    /// Concurrent builds.
    pub max_builds: usize,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// API keys (empty: open mode, loopback only).
    pub api_keys: Vec<ApiKey>,
    /// The signing key file.
    pub signing_key: PathBuf,
    /// Its password.
    pub signing_password: zeroize::Zeroizing<Vec<u8>>,
    /// Names a request's `signing.cosign_key_ref` may use.
    pub signing_key_refs: Vec<String>,
    /// Hosts `source` URLs may name even when they resolve to loopback or
    /// private addresses.
    pub allow_hosts: Vec<String>,
    /// Registries (`host[:port]`) builds may push to and modules may be
    /// installed from.
    pub registries: Vec<String>,
    /// Of those, the ones spoken to over plain HTTP (loopback ones always are).
    pub insecure_registries: Vec<String>,
    /// Public keys installed modules may be signed with, besides the
    /// service's own.
    pub trusted_keys: Vec<aip_sign::PublicKey>,
    /// Longest a build may run before it is stopped and failed.
    pub build_timeout: std::time::Duration,
    /// Requests per API key (`None`: unlimited).
    pub rate_limit: Option<RateLimit>,
}

impl ServiceConfig {
    /// Where registered modules go: `modules/<tenant>/<name>/<version>`.
    pub fn modules_dir(&self) -> PathBuf {
        self.data.join("modules")
    }

    /// How `source` URLs are fetched.
    pub fn fetch_policy(&self) -> fetch::FetchPolicy {
        fetch::FetchPolicy {
            allow_hosts: self.allow_hosts.clone(),
            max_bytes: self.max_body_bytes,
            timeout: std::time::Duration::from_secs(30),
        }
    }

    /// Where a job's spec is kept.
    pub fn job_dir(&self, id: &str) -> PathBuf {
        runner::job_dir(&self.data, id)
    }
}

/// Runs the service until SIGTERM or Ctrl-C. `ready` is called with the
/// bound address once it accepts connections.
pub async fn serve(
    config: ServiceConfig,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServiceError> {
    if config.api_keys.is_empty() && !config.listen.ip().is_loopback() {
        return Err(ServiceError::Config(format!(
            "no API keys are configured (AIP_BUILDER_API_KEYS), so the service only listens on loopback; {} is not",
            config.listen
        )));
    }
    std::fs::create_dir_all(&config.data).map_err(|e| {
        ServiceError::Config(format!(
            "cannot create the data folder {}: {e}",
            config.data.display()
        ))
    })?;
    // The key is read once at start: a wrong password fails here, not in
    // every build; its public half verifies what the service registered.
    let own_key = signing_public_key(&config)?;
    let mut trusted = vec![own_key];
    trusted.extend(config.trusted_keys.iter().cloned());
    let registry = modules::Registry::new(config.modules_dir(), trusted);
    let store = store::Store::open(&config.data).await?;
    let config = Arc::new(config);
    let metrics = metrics::Metrics::default();
    let runner = runner::Runner::start(
        store.clone(),
        config.clone(),
        registry.clone(),
        metrics.clone(),
    );
    recover(&store, &runner, &config.modules_dir()).await?;
    let app = api::router(api::AppState {
        config: config.clone(),
        store,
        runner,
        registry,
        metrics,
        limits: rate_limit::RateLimits::new(config.rate_limit),
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServiceError::Serve {
            addr: config.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServiceError::Serve {
            addr: config.listen,
            source,
        })?;
    ready(addr);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|source| ServiceError::Serve { addr, source })
}

fn signing_public_key(config: &ServiceConfig) -> Result<aip_sign::PublicKey, ServiceError> {
    let key = aip_sign::KeyRef::File(config.signing_key.clone());
    let pem = key
        .read()
        .map_err(|e| ServiceError::Config(format!("signing key: {e}")))?;
    aip_sign::PrivateKey::from_cosign_pem(&pem, &config.signing_password, &key.display())
        .map(|k| k.public_key())
        .map_err(|e| ServiceError::Config(format!("signing key: {e}")))
}

/// How many times a job may start before a restart fails it instead of
/// resuming it (a job that crashes the service must not crash it forever).
const MAX_ATTEMPTS: i64 = 3;

/// Queues again every job that had not ended when the service stopped,
/// and removes staging folders a killed build left in
/// `modules/<tenant>/<name>/` (they are
/// never modules: registration renames a complete one into place).
async fn recover(
    store: &store::Store,
    runner: &runner::Runner,
    modules: &Path,
) -> Result<(), ServiceError> {
    let children = |dir: &Path| -> Vec<std::fs::DirEntry> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .collect()
    };
    for tenant in children(modules) {
        for module in children(&tenant.path()) {
            for entry in children(&module.path()) {
                if entry.file_name().to_string_lossy().starts_with(".staging-") {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    }
    for job in store.unfinished().await? {
        if job.attempts >= MAX_ATTEMPTS {
            let error = format!(
                "the service stopped {} times while building this job; it is not tried again",
                job.attempts
            );
            if store
                .set_state(&job.id, JobState::Failed, Some(&error), None)
                .await?
            {
                let data = serde_json::json!({"state": "failed", "error": error});
                runner::emit(store, &runner.live, &job.id, "state", data).await;
            }
            continue;
        }
        tracing::info!(job = %job.id, state = job.state.as_str(), "resuming a job the service stopped during");
        runner::emit(
            store,
            &runner.live,
            &job.id,
            "log",
            serde_json::json!({"line": format!(
                "the service restarted while this job was {}{}; building it again",
                job.state.as_str(),
                job.stage.as_deref().map(|s| format!(" (stage {s})")).unwrap_or_default()
            )}),
        )
        .await;
        runner.enqueue(&job.id);
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// The data folder's default signing key path.
pub fn default_signing_key(data: &Path) -> PathBuf {
    data.join("cosign.key")
}
