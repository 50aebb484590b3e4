//! `/v1/modules…`: the tenant's registered modules, their parts,
//! re-verification, and installing from a registry.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::{AppState, internal};
use crate::auth::{Caller, Role};
use crate::modules::Part;
use crate::problem::Problem;

/// `?tenant=`: which tenant an admin looks at.
#[derive(Debug, Deserialize)]
pub struct TenantQuery {
    tenant: Option<String>,
}

/// The tenant a request reads: the caller's own; an admin may name another
/// with `?tenant=`. A non-admin naming another tenant sees nothing, as if
/// it did not exist.
fn tenant_of(caller: &Caller, query: &TenantQuery) -> Result<String, Problem> {
    match &query.tenant {
        Some(t) if caller.sees(t) => Ok(t.clone()),
        Some(_) => Err(Problem::not_found("no such tenant")),
        None => Ok(caller.tenant.clone()),
    }
}

/// `GET /v1/modules`: the caller's modules (an admin without `?tenant=`:
/// every tenant's).
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<TenantQuery>,
) -> Result<Response, Problem> {
    let tenant = match (&query.tenant, caller.may(Role::Admin)) {
        (None, true) => None,
        _ => Some(tenant_of(&caller, &query)?),
    };
    let registry = state.registry.clone();
    let modules = tokio::task::spawn_blocking(move || registry.list(tenant.as_deref()))
        .await
        .map_err(|e| internal(&e))?;
    Ok(Json(serde_json::json!({ "modules": modules })).into_response())
}

/// `GET /v1/modules/{name}`: versions (newest first), status chips, intents.
pub async fn module(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<TenantQuery>,
) -> Result<Response, Problem> {
    let tenant = tenant_of(&caller, &query)?;
    let registry = state.registry.clone();
    let lookup = name.clone();
    let module = tokio::task::spawn_blocking(move || registry.module(&tenant, &lookup))
        .await
        .map_err(|e| internal(&e))?;
    module
        .map(|m| Json(m).into_response())
        .ok_or_else(|| Problem::not_found(format!("no module {name}")))
}

/// `GET /v1/modules/{name}/versions/{version}/{manifest|sbom|artifact}`.
pub async fn part(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, version, part)): Path<(String, String, String)>,
    Query(query): Query<TenantQuery>,
) -> Result<Response, Problem> {
    let Some(part) = Part::parse(&part) else {
        return Err(Problem::not_found(format!(
            "no part {part:?}: use manifest, sbom or artifact"
        )));
    };
    let tenant = tenant_of(&caller, &query)?;
    let folder = state
        .registry
        .folder(&tenant, &name, &version)
        .ok_or_else(|| Problem::not_found(format!("no module {name} {version}")))?;
    let registry = state.registry.clone();
    let (bytes, content_type) = tokio::task::spawn_blocking(move || registry.part(&folder, part))
        .await
        .map_err(|e| internal(&e))??;
    Ok(([(header::CONTENT_TYPE, content_type)], Bytes::from(bytes)).into_response())
}

/// `POST /v1/modules/{name}/versions/{version}/verify`: verification run
/// again now; `200` with `verified: true|false` and what was checked or
/// what failed.
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
    Query(query): Query<TenantQuery>,
) -> Result<Response, Problem> {
    let tenant = tenant_of(&caller, &query)?;
    let folder = state
        .registry
        .folder(&tenant, &name, &version)
        .ok_or_else(|| Problem::not_found(format!("no module {name} {version}")))?;
    let registry = state.registry.clone();
    let result = tokio::task::spawn_blocking(move || registry.verify(&folder))
        .await
        .map_err(|e| internal(&e))?;
    let body = match result {
        Ok((key, report)) => serde_json::json!({
            "name": name, "version": version, "verified": true, "key": key, "report": report,
        }),
        Err(error) => serde_json::json!({
            "name": name, "version": version, "verified": false, "error": error,
        }),
    };
    Ok(Json(body).into_response())
}

/// `POST /v1/modules/install` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    /// `REGISTRY/REPO[@VERSION|:TAG|@sha256:…]`, as `aip-builder install`.
    reference: String,
    /// Refuse unless the signature verifies with a trusted key (default
    /// true; `false` installs it marked Unverified).
    #[serde(default = "yes")]
    require_signed: bool,
}

fn yes() -> bool {
    true
}

/// `POST /v1/modules/install`: pulls, verifies and registers a module from
/// an allowed registry into the caller's tenant, as `aip-builder install`.
pub async fn install(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Problem> {
    if !caller.may(Role::Builder) {
        return Err(Problem::forbidden(
            "installing modules needs the builder role",
        ));
    }
    let request: InstallRequest = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request(format!("request body: {e}")))?;
    let reference = aip_distribute::ModuleRef::parse(&request.reference)
        .map_err(|e| Problem::invalid(format!("reference: {e}")))?;
    if !state.config.registries.contains(&reference.registry) {
        return Err(Problem::forbidden(format!(
            "registry {} is not one this service installs from (its `registries` setting)",
            reference.registry
        )));
    }
    let options = aip_distribute::ClientOptions {
        insecure_registries: state.config.insecure_registries.clone(),
        ..Default::default()
    };
    let client = aip_distribute::RegistryClient::connect(&reference.registry, &options)
        .await
        .map_err(|e| distribute_problem(&e))?;
    let installed = aip_distribute::install(
        &client,
        &reference,
        &aip_distribute::InstallOptions {
            keys: state.registry.trusted(),
            require_signed: request.require_signed,
            destination: state.registry.destination(&caller.tenant),
        },
    )
    .await
    .map_err(|e| distribute_problem(&e))?;
    let links = serde_json::json!({
        "module": format!("/v1/modules/{}", installed.name),
    });
    Ok(Json(serde_json::json!({
        "name": installed.name,
        "version": installed.version,
        "tenant": caller.tenant,
        "origin": installed.origin,
        "links": links,
    }))
    .into_response())
}

fn distribute_problem(e: &aip_distribute::DistributeError) -> Problem {
    match e {
        aip_distribute::DistributeError::Refused(detail) => Problem::unverified(detail.clone()),
        e if e.is_user_error() => Problem::invalid(e.to_string()),
        e => Problem::bad_gateway(e.to_string()),
    }
}
