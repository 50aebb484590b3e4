//! `/v1/modules…`: the tenant's registered modules, their parts,
//! re-verification, and installing from a registry.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::api::internal;
use crate::auth::{Caller, Role};
use crate::modules::{ModuleInfo, Part};
use crate::problem::Problem;
use crate::state::AppState;

/// `?tenant=`: which tenant an admin looks at.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    /// Another tenant's (admins only; default: the caller's).
    tenant: Option<String>,
}

/// The folder of a registered version the caller may see; "not found"
/// otherwise (also for another tenant's).
fn version_folder(
    state: &AppState,
    caller: &Caller,
    query: &TenantQuery,
    name: &str,
    version: &str,
) -> Result<std::path::PathBuf, Problem> {
    let tenant = tenant_of(caller, query)?;
    state
        .registry
        .folder(&tenant, name, version)
        .ok_or_else(|| Problem::not_found(format!("no module {name} {version}")))
}

/// `GET /v1/modules`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ModuleList {
    /// By tenant, then name.
    pub modules: Vec<ModuleInfo>,
    /// The cursor of the next page (pass as `?after=`), if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Paging of `GET /v1/modules`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Modules per page (default 100, at most 1000).
    limit: Option<usize>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
}

/// Default and largest page of `GET /v1/modules`.
const PAGE: (usize, usize) = (100, 1000);

/// The result of re-verifying a module version.
#[derive(Serialize, utoipa::ToSchema)]
pub struct VerifyResult {
    /// Module name.
    pub name: String,
    /// Module version.
    pub version: String,
    /// Whether signature, digests and SBOM binding verified.
    pub verified: bool,
    /// `sha256:` of the key that verified it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Every check that passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub report: Option<aip_register::VerifyReport>,
    /// What failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The name of the check that failed (`unsigned`, `manifest-modified`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
}

/// What `POST /v1/modules/install` registered.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InstallResult {
    /// Module name.
    pub name: String,
    /// Module version.
    pub version: String,
    /// The tenant it was installed for.
    pub tenant: String,
    /// Where it came from and how it verified.
    #[schema(value_type = Object)]
    pub origin: aip_register::Origin,
    /// `module`: its `/v1/modules/{name}`.
    #[schema(value_type = Object)]
    pub links: serde_json::Value,
}

/// The tenant a request reads: the caller's own; an admin may name another
/// with `?tenant=`. A non-admin naming another tenant sees nothing, as if
/// it did not exist.
fn tenant_of(caller: &Caller, query: &TenantQuery) -> Result<String, Problem> {
    // A tenant is a name like a module name, never a path: checked before
    // it is joined to any folder.
    if let Some(t) = &query.tenant
        && !aip_ir::is_valid_module_name(t)
    {
        return Err(Problem::invalid(format!(
            "tenant {:?} is not a tenant name (lowercase letters, digits and -, starting with a letter)",
            t.chars().take(80).collect::<String>()
        )));
    }
    match &query.tenant {
        Some(t) if caller.sees(t) => Ok(t.clone()),
        Some(_) => Err(Problem::not_found("no such tenant")),
        None => Ok(caller.tenant.clone()),
    }
}

/// The caller's modules (an admin without `?tenant=`: every tenant's).
#[utoipa::path(
    get,
    path = "/v1/modules",
    operation_id = "listModules",
    tag = "modules",
    params(TenantQuery, PageQuery),
    responses((status = 200, description = "Modules, newest version first", body = ModuleList)),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<TenantQuery>,
    Query(page): Query<PageQuery>,
) -> Result<Response, Problem> {
    let tenant = match (&query.tenant, caller.may(Role::Admin)) {
        (None, true) => None,
        _ => Some(tenant_of(&caller, &query)?),
    };
    let limit = page.limit.unwrap_or(PAGE.0);
    if limit == 0 || limit > PAGE.1 {
        return Err(Problem::invalid(format!(
            "limit {limit}: give 1 to {}",
            PAGE.1
        )));
    }
    let registry = state.registry.clone();
    let (modules, next) = tokio::task::spawn_blocking(move || {
        registry.list(tenant.as_deref(), page.after.as_deref(), limit)
    })
    .await
    .map_err(|e| internal(&e))?;
    Ok(Json(ModuleList { modules, next }).into_response())
}

/// A module: versions (newest first), status chips, intents.
#[utoipa::path(
    get,
    path = "/v1/modules/{name}",
    operation_id = "getModule",
    tag = "modules",
    params(("name" = String, Path, description = "Module name"), TenantQuery),
    responses(
        (status = 200, description = "The module", body = ModuleInfo),
        (status = 404, description = "No such module (or another tenant's)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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

/// A part of a module version: `manifest` (manifest.yaml), `sbom`
/// (CycloneDX JSON) or `artifact` (the component, or the image layer).
#[utoipa::path(
    get,
    path = "/v1/modules/{name}/versions/{version}/{part}",
    operation_id = "getModulePart",
    tag = "modules",
    params(
        ("name" = String, Path, description = "Module name"),
        ("version" = String, Path, description = "Module version"),
        ("part" = String, Path, description = "manifest, sbom or artifact"),
        TenantQuery,
    ),
    responses(
        (status = 200, description = "The bytes, with their media type", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 404, description = "No such module, version or part", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
    let folder = version_folder(&state, &caller, &query, &name, &version)?;
    let registry = state.registry.clone();
    let (bytes, content_type) = tokio::task::spawn_blocking(move || registry.part(&folder, part))
        .await
        .map_err(|e| internal(&e))??;
    Ok(([(header::CONTENT_TYPE, content_type)], Bytes::from(bytes)).into_response())
}

/// Runs verification again now: `verified` true or false, with what was
/// checked or what failed.
#[utoipa::path(
    post,
    path = "/v1/modules/{name}/versions/{version}/verify",
    operation_id = "verifyModuleVersion",
    tag = "modules",
    params(
        ("name" = String, Path, description = "Module name"),
        ("version" = String, Path, description = "Module version"),
        TenantQuery,
    ),
    responses(
        (status = 200, description = "The result", body = VerifyResult),
        (status = 404, description = "No such module version", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
    Query(query): Query<TenantQuery>,
) -> Result<Response, Problem> {
    let folder = version_folder(&state, &caller, &query, &name, &version)?;
    let registry = state.registry.clone();
    let result = tokio::task::spawn_blocking(move || registry.verify(&folder))
        .await
        .map_err(|e| internal(&e))?;
    let body = match result {
        Ok((key, report)) => VerifyResult {
            name,
            version,
            verified: true,
            key: Some(key),
            report: Some(report),
            error: None,
            check: None,
        },
        Err(error) => VerifyResult {
            name,
            version,
            verified: false,
            key: None,
            report: None,
            error: Some(error.message),
            check: error.check.map(str::to_string),
        },
    };
    Ok(Json(body).into_response())
}

/// `POST /v1/modules/install` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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

/// Pulls, verifies and registers a module from an allowed registry into
/// the caller's tenant, as `aip-builder install`.
#[utoipa::path(
    post,
    path = "/v1/modules/install",
    operation_id = "installModule",
    tag = "modules",
    request_body = InstallRequest,
    responses(
        (status = 200, description = "Installed", body = InstallResult),
        (status = 403, description = "The key may not, or the registry is not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad reference, or the module does not verify", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The registry failed", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn install(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Problem> {
    let request: InstallRequest = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request(format!("request body: {e}")))?;
    let result =
        install_reference(&state, &caller, &request.reference, request.require_signed).await?;
    Ok(Json(result).into_response())
}

/// Installs `reference` from a configured registry into the caller's
/// tenant, verified with the service's keys (shared by the API and the
/// console's Install and Update buttons).
pub(crate) async fn install_reference(
    state: &AppState,
    caller: &Caller,
    reference: &str,
    require_signed: bool,
) -> Result<InstallResult, Problem> {
    if !caller.may(Role::Builder) {
        return Err(Problem::forbidden(
            "installing modules needs the builder role",
        ));
    }
    let reference = aip_distribute::ModuleRef::parse(reference)
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
            require_signed,
            destination: state.registry.destination(&caller.tenant),
        },
    )
    .await
    .map_err(|e| distribute_problem(&e))?;
    state.catalog.invalidate();
    let links = serde_json::json!({
        "module": format!("/v1/modules/{}", installed.name),
    });
    Ok(InstallResult {
        name: installed.name,
        version: installed.version,
        tenant: caller.tenant.clone(),
        origin: installed.origin,
        links,
    })
}

fn distribute_problem(e: &aip_distribute::DistributeError) -> Problem {
    match e {
        aip_distribute::DistributeError::Refused(detail) => Problem::unverified(detail.clone()),
        e if e.is_user_error() => Problem::invalid(e.to_string()),
        e => Problem::bad_gateway(e.to_string()),
    }
}
