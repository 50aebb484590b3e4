//! Taking in a build request, shared by the API and the console (as
//! cargo's `ops` layer is shared by its commands): validate it, store (or
//! fetch) its spec into a folder, and ingest it, so a spec that cannot
//! build is refused with ingest's diagnostics before any job exists.
//! [`check`] stops there and reports what would be built; a submission
//! goes on to a job (`api.rs`).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::api::internal;
use crate::auth::Caller;
use crate::problem::Problem;
use crate::request::{Accepted, AdapterRequest, SpecInput};
use crate::state::AppState;

/// A request whose spec is stored in its folder and ingests.
pub struct Prepared {
    /// The validated request.
    pub accepted: Accepted,
    /// What the spec describes, intent overrides applied.
    pub api: aip_ir::Api,
}

/// Validates `request` for `caller`, stores its spec under `dir` and
/// ingests it. On any failure `dir` is removed and nothing remains.
pub async fn prepare(
    state: &AppState,
    caller: &Caller,
    request: AdapterRequest,
    dir: &Path,
) -> Result<Prepared, Problem> {
    let accepted = request.accept(
        &state.config.key_refs_for(&caller.tenant),
        &state.config.registries,
        state.config.max_operations,
    )?;
    let result = store_and_ingest(state, &accepted, dir).await;
    match result {
        Ok(api) => Ok(Prepared { accepted, api }),
        Err(problem) => {
            let _ = std::fs::remove_dir_all(dir);
            Err(problem)
        }
    }
}

async fn store_and_ingest(
    state: &AppState,
    accepted: &Accepted,
    dir: &Path,
) -> Result<aip_ir::Api, Problem> {
    let spec = match &accepted.spec {
        SpecInput::Inline(bytes) => Some(bytes.clone()),
        SpecInput::Source(url) => {
            Some(crate::fetch::fetch_source(url, &state.config.fetch_policy()).await?)
        }
        SpecInput::Files(_) => None,
    };
    let spec_path = accepted.job.spec_path(dir);
    std::fs::create_dir_all(dir)
        .and_then(|()| match (&accepted.spec, spec) {
            (SpecInput::Files(files), _) => {
                crate::upload::write_files(&dir.join(crate::request::FILES_DIR), files)
            }
            (_, Some(bytes)) => std::fs::write(&spec_path, bytes),
            (_, None) => Ok(()),
        })
        .map_err(|e| internal(&format!("cannot store the spec in {}: {e}", dir.display())))?;
    // Ingest is milliseconds; it runs off the async threads all the same.
    let options = accepted
        .job
        .ingest_options(dir, state.config.max_operations);
    let intents = accepted.job.intents.clone();
    tokio::task::spawn_blocking(move || {
        let mut api = aip_ingest::ingest(aip_ingest::SpecSource::File(spec_path), &options)
            .map_err(|e| Problem::from_ingest(&e))?
            .api;
        aip_pipeline::apply_intent_overrides(&mut api, &intents)
            .map_err(|e| Problem::invalid(format!("intents: {e}")))?;
        Ok(api)
    })
    .await
    .map_err(|e| internal(&e))?
}

/// What a request would build, without building it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckReport {
    /// Module name.
    pub name: String,
    /// The version it would get.
    pub version: String,
    /// `wasm` or `grpc`.
    pub target: String,
    /// The vendor API's title and version.
    pub vendor: String,
    /// Every operation the adapter would offer, in spec order.
    pub operations: Vec<CheckedOperation>,
    /// The distinct intents it would be routed for.
    pub intents: Vec<String>,
    /// Hosts the adapter may call (`permissions.net`).
    pub hosts: Vec<String>,
    /// What was repaired in the spec (refused with `"strict": true`).
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<aip_ir::SpecWarning>,
}

/// One operation of a [`CheckReport`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckedOperation {
    /// Its id.
    pub id: String,
    /// HTTP method (gRPC: `POST`).
    pub method: String,
    /// Path template (gRPC: `/package.Service/Method`).
    pub path: String,
    /// The intent it serves.
    pub intent: String,
}

/// Checks `request` as a submission would, in a scratch folder that is
/// removed afterwards, and reports what would be built.
pub async fn check(
    state: &AppState,
    caller: &Caller,
    request: AdapterRequest,
) -> Result<CheckReport, Problem> {
    let dir = scratch_dir(&state.config.data);
    let prepared = prepare(state, caller, request, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    let Prepared { accepted, api } = prepared?;
    let mut intents: Vec<String> = api.operations.iter().map(|o| o.intent.clone()).collect();
    intents.sort();
    intents.dedup();
    Ok(CheckReport {
        name: accepted.job.name.clone(),
        version: accepted.job.version.clone(),
        target: match accepted.job.target {
            crate::request::TargetName::Grpc => "grpc".into(),
            crate::request::TargetName::Wasm => "wasm".into(),
        },
        vendor: format!("{} {}", api.title, api.api_version),
        operations: api
            .operations
            .iter()
            .map(|o| CheckedOperation {
                id: o.id.clone(),
                method: o.method.as_str().to_string(),
                path: o.path.clone(),
                intent: o.intent.clone(),
            })
            .collect(),
        intents,
        hosts: api.vendor_hosts(),
        warnings: api.source.warnings.clone(),
    })
}

fn scratch_dir(data: &Path) -> PathBuf {
    let mut bytes = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    data.join("checks").join(hex::encode(bytes))
}
