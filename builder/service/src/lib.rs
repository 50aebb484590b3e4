//! The build service: `aip-builder serve`.
//!
//! 1. **Accept** (`api.rs`, axum): `POST /v1/builder/adapter` authenticates
//!    the caller (`auth.rs`: API keys with roles and tenants; failed keys
//!    throttled per address, `rate_limit.rs`), validates every field
//!    (`request.rs`), fetches a `source` URL with SSRF guards (`fetch.rs`)
//!    or checks an uploaded multi-file spec (`upload.rs`), stores the spec
//!    under `data/jobs/<id>/`, ingests it, and inserts the job (`store.rs`:
//!    SQLite in WAL mode or PostgreSQL through sqlx, embedded migrations),
//!    honouring `Idempotency-Key`. Errors are RFC 7807 problems with hints
//!    in the API's terms (`problem.rs`, `hints.rs`).
//! 2. **Queue** (`runner.rs`): a bounded number of build slots; a build
//!    takes its job with a compare-and-set (`queued` → `running`, with an
//!    attempt number that fences everything it records), runs
//!    `aip_pipeline::build_module` on a blocking thread, records every stage,
//!    log line and warning as a job event, then pushes the module
//!    (`push`) and announces it on NATS (`--nats`). Cancellation and time
//!    limits stop it through `stop.rs`.
//! 3. **Follow**: `GET /v1/builder/jobs/{id}` (state), `/events` (SSE:
//!    history first, then live, `sse.rs`), `/logs`.
//! 4. **Operate** (`console/`): the operators' console on the same router:
//!    sign-in for a session cookie, the Agents and module pages with chips
//!    from real verification, Add Vendor Spec with Check (`intake.rs`, shared
//!    with the API), jobs followed live; `account_api.rs` gives the API the
//!    same reach (jobs list, signing keys, sessions).
//! 5. **Recover**: on start, jobs that were queued or running when the
//!    service stopped are queued again; registration is atomic, so a build
//!    cut short left nothing half-registered, and running it again ends it.

mod account_api;
mod api;
mod auth;
mod catalog;
mod console;
mod fair;
mod fetch;
mod hints;
mod intake;
mod job;
mod job_spec;
mod metrics;
mod modules;
mod modules_api;
mod openapi;
mod problem;
mod rate_limit;
mod request;
mod routes;
mod runner;
mod scrub;
mod sse;
mod state;
mod stop;
mod store;
mod upload;
mod verify_cache;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::job::{JobFailure, JobUpdate};

pub use auth::{ApiKey, Role, parse_keys};
pub use fetch::{FetchPolicy, forbidden};
pub use openapi::document_json as openapi_document;
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
    /// Where job state lives: `None` for SQLite in the data folder, else a
    /// `postgres://` URL.
    pub database: Option<String>,
    /// Concurrent builds.
    pub max_builds: usize,
    /// Most concurrent builds of one tenant (tenants with waiting jobs
    /// also take turns for free slots).
    pub max_builds_per_tenant: usize,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Most operations one spec may define.
    pub max_operations: usize,
    /// API keys (empty: open mode, loopback only).
    pub api_keys: Vec<ApiKey>,
    /// Signing keys, by the name requests give as `signing.cosign_key_ref`
    /// (`default` when they name none).
    pub signing_keys: Vec<SigningKey>,
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
    /// NATS server registered modules are announced on (`None`: not
    /// announced).
    pub nats_url: Option<String>,
}

/// A signing key requests may name.
pub struct SigningKey {
    /// The name (`signing.cosign_key_ref`).
    pub name: String,
    /// The cosign.key file.
    pub path: PathBuf,
    /// Its password.
    pub password: zeroize::Zeroizing<Vec<u8>>,
    /// Tenants that may sign with it (`*`: every tenant).
    pub tenants: Vec<String>,
}

impl SigningKey {
    /// Whether `tenant` may sign with this key.
    pub fn allows(&self, tenant: &str) -> bool {
        self.tenants.iter().any(|t| t == "*" || t == tenant)
    }
}

/// The key ref a request names when it names none.
pub const DEFAULT_KEY_REF: &str = "default";

impl ServiceConfig {
    /// The signing key named `name`, if `tenant` may use it.
    pub fn signing_key_for(&self, name: &str, tenant: &str) -> Option<&SigningKey> {
        self.signing_keys
            .iter()
            .find(|k| k.name == name && k.allows(tenant))
    }

    /// The signing key names `tenant` may use.
    pub fn key_refs_for(&self, tenant: &str) -> Vec<String> {
        self.signing_keys
            .iter()
            .filter(|k| k.allows(tenant))
            .map(|k| k.name.clone())
            .collect()
    }

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
    // Keys are read once at start: a wrong password fails here, not in
    // every build; their public halves verify what the service registered.
    let mut trusted = config
        .signing_keys
        .iter()
        .map(signing_public_key)
        .collect::<Result<Vec<_>, _>>()?;
    trusted.extend(config.trusted_keys.iter().cloned());
    let registry = modules::Registry::new(config.modules_dir(), trusted);
    let database = match &config.database {
        Some(url) => store::Database::postgres(url)?,
        None => store::Database::Sqlite(config.data.clone()),
    };
    tracing::info!("job store: {}", database.display());
    let store = store::Store::open(&database).await?;
    let config = Arc::new(config);
    let announcer = match &config.nats_url {
        Some(url) => Some(
            aip_fleet::Announcer::connect(url)
                .await
                .map_err(|e| ServiceError::Config(format!("AIP_NATS_URL: {e}")))?,
        ),
        None => None,
    };
    let metrics = metrics::Metrics::default();
    let runner = runner::Runner::start(
        store.clone(),
        config.clone(),
        registry.clone(),
        metrics.clone(),
        announcer,
    );
    recover(&store, &runner, &config.modules_dir()).await?;
    let app = api::router(api::AppState {
        config: config.clone(),
        store,
        runner,
        registry,
        metrics,
        limits: rate_limit::RateLimits::new(config.rate_limit),
        failed_auth: rate_limit::FailedAuth::default(),
        sessions: console::Sessions::default(),
        catalog: catalog::Catalog::default(),
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
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|source| ServiceError::Serve { addr, source })
}

fn signing_public_key(key: &SigningKey) -> Result<aip_sign::PublicKey, ServiceError> {
    let key_ref = aip_sign::KeyRef::File(key.path.clone());
    let context =
        |e: aip_sign::SignError| ServiceError::Config(format!("signing key {:?}: {e}", key.name));
    let pem = key_ref.read().map_err(context)?;
    aip_sign::PrivateKey::from_cosign_pem(&pem, &key.password, &key_ref.display())
        .map(|k| k.public_key())
        .map_err(context)
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
            let failure = JobFailure::internal(format!(
                "the service stopped {} times while building this job; it is not tried again",
                job.attempts
            ));
            if store
                .transition(
                    &job.id,
                    &[JobState::Queued, JobState::Running],
                    JobState::Failed,
                    Some(&failure),
                )
                .await?
            {
                let event = JobUpdate::State {
                    state: JobState::Failed,
                    failure: Some(failure),
                    module: None,
                };
                runner::emit(store, &runner.live, &job.id, &event).await;
            }
            continue;
        }
        tracing::info!(job = %job.id, state = job.state.as_str(), "resuming a job the service stopped during");
        let line = format!(
            "the service restarted while this job was {}{}; building it again",
            job.state.as_str(),
            job.stage
                .as_deref()
                .map(|s| format!(" (stage {s})"))
                .unwrap_or_default()
        );
        runner::emit(store, &runner.live, &job.id, &JobUpdate::Log { line }).await;
        runner.enqueue(&job.tenant, &job.id);
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
