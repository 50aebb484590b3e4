//! The configured registries' catalogue (`registries`): which modules they
//! hold and the newest version of each signed by a key the service trusts.
//! Read at most once a minute per process (registries are slow to walk),
//! and behind the Not Installed and Needs Update chips.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aip_distribute::CatalogEntry;

use crate::state::AppState;

/// How long a read catalogue is reused.
const FRESH_FOR: Duration = Duration::from_secs(60);

/// What the registries held when last read, and what could not be read.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every module of every configured registry.
    pub entries: Vec<CatalogEntry>,
    /// Registries that could not be read, and why.
    pub warnings: Vec<String>,
}

/// The cached catalogue.
#[derive(Clone, Default)]
pub struct Catalog {
    cached: Arc<Mutex<Option<(Instant, Snapshot)>>>,
}

impl Catalog {
    /// The catalogue, read again when older than a minute or `fresh`.
    pub async fn snapshot(&self, state: &AppState, fresh: bool) -> Snapshot {
        if !fresh
            && let Some((at, snapshot)) = self
                .cached
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
            && at.elapsed() < FRESH_FOR
        {
            return snapshot.clone();
        }
        let snapshot = read(state).await;
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), snapshot.clone()));
        snapshot
    }

    /// Forgets what was read (after an install, so chips change at once).
    pub fn invalidate(&self) {
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

async fn read(state: &AppState) -> Snapshot {
    let options = aip_distribute::ClientOptions {
        insecure_registries: state.config.insecure_registries.clone(),
        retry: aip_distribute::RetryPolicy {
            attempts: 2,
            ..aip_distribute::RetryPolicy::default()
        },
    };
    let mut snapshot = Snapshot::default();
    for registry in &state.config.registries {
        let client = match aip_distribute::RegistryClient::connect(registry, &options).await {
            Ok(client) => client,
            Err(e) => {
                snapshot.warnings.push(format!("{registry}: {e}"));
                continue;
            }
        };
        match aip_distribute::catalogue(&client, state.registry.trusted()).await {
            Ok(entries) => snapshot.entries.extend(entries),
            Err(e) => snapshot
                .warnings
                .push(format!("cannot list the catalogue of {registry}: {e}")),
        }
    }
    snapshot
        .entries
        .sort_by(|a, b| a.name.cmp(&b.name).then(a.repository.cmp(&b.repository)));
    snapshot
}

/// The version `entry` offers over `installed`: its newest version signed
/// with a trusted key, when that is newer (what Needs Update and the
/// Update button mean).
pub fn update_for<'e>(entry: &'e CatalogEntry, installed: &str) -> Option<&'e str> {
    let trusted = entry.newest_trusted.as_deref()?;
    let newer = semver::Version::parse(trusted).ok()? > semver::Version::parse(installed).ok()?;
    newer.then_some(trusted)
}

/// `GET /v1/catalog` query.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogQuery {
    /// Read the registries now instead of using what was read in the last
    /// minute.
    refresh: Option<bool>,
}

/// One module a configured registry holds, against the caller's tenant.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CatalogModule {
    /// `registry/repository`.
    pub repository: String,
    /// Module name.
    pub name: String,
    /// One line about it.
    pub description: String,
    /// Intents of its newest version.
    pub intents: Vec<String>,
    /// The newest stable version.
    pub newest: String,
    /// The newest stable version signed with a key the service trusts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_trusted: Option<String>,
    /// The newest version installed in the caller's tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed: Option<String>,
    /// `Installed`, `Not Installed`, `Needs Update` or `Unverified`.
    pub status: String,
}

/// `GET /v1/catalog`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CatalogList {
    /// By name.
    pub modules: Vec<CatalogModule>,
    /// Registries that could not be read.
    pub warnings: Vec<String>,
}

/// What the configured registries hold, with each module's status in the
/// caller's tenant (what the console's chips say).
#[utoipa::path(
    get,
    path = "/v1/catalog",
    operation_id = "listCatalog",
    tag = "modules",
    params(CatalogQuery),
    responses(
        (status = 200, description = "The registries' modules", body = CatalogList),
        (status = 401, description = "No valid API key", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn list(
    axum::extract::State(state): axum::extract::State<AppState>,
    caller: crate::auth::Caller,
    axum::extract::Query(query): axum::extract::Query<CatalogQuery>,
) -> axum::Json<CatalogList> {
    let snapshot = state
        .catalog
        .snapshot(&state, query.refresh.unwrap_or(false))
        .await;
    let modules = snapshot
        .entries
        .iter()
        .map(|entry| {
            let local = state.registry.module(&caller.tenant, &entry.name);
            let installed = local.as_ref().map(|m| m.latest.clone());
            let status = match &local {
                None => "Not Installed",
                Some(m) if m.status == crate::modules::Status::Unverified => "Unverified",
                Some(m) if update_for(entry, &m.latest).is_some() => "Needs Update",
                Some(_) => "Installed",
            };
            CatalogModule {
                repository: entry.repository.clone(),
                name: entry.name.clone(),
                description: entry.description.clone(),
                intents: entry.intents.clone(),
                newest: entry.newest.clone(),
                newest_trusted: entry.newest_trusted.clone(),
                installed,
                status: status.to_string(),
            }
        })
        .collect();
    axum::Json(CatalogList {
        modules,
        warnings: snapshot.warnings,
    })
}
