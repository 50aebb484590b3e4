//! `GET /console/modules/{name}[/versions/{version}]` and
//! `POST …/verify`: one module version as an operator inspects it: its
//! status and every verification check, the manifest (runtime, resources,
//! intents, vendor hosts, repairs made to the spec), the artifact digest
//! and the fingerprint of the key that verified it, the SBOM's components,
//! and downloads of each part.

use std::path::Path as FsPath;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use crate::console::Operator;
use crate::console::agents::{chip, runtime_label, url_encode};
use crate::console::sign_in::CsrfForm;
use crate::console::view::{UserView, page, problem_page};
use crate::modules::{ModuleInfo, Part, Verified};
use crate::problem::Problem;
use crate::state::AppState;

/// `?tenant=`.
#[derive(Debug, Default, Deserialize)]
pub struct TenantQuery {
    #[serde(default)]
    tenant: String,
}

/// `GET /console/modules/{name}`: its newest version.
pub async fn latest(
    State(state): State<AppState>,
    operator: Operator,
    Path(name): Path<String>,
    Query(query): Query<TenantQuery>,
) -> Response {
    match module(&state, &operator, &name, &query) {
        Ok((tenant, module)) => {
            Redirect::to(&version_href(&module.name, &module.latest, &tenant)).into_response()
        }
        Err(problem) => not_found(&operator, &problem),
    }
}

/// `GET /console/modules/{name}/versions/{version}`.
pub async fn page_of_version(
    State(state): State<AppState>,
    operator: Operator,
    Path((name, version)): Path<(String, String)>,
    Query(query): Query<TenantQuery>,
) -> Response {
    let built_by = built_by(&state, &operator, &name, &version, &query).await;
    render(&state, &operator, &name, &version, &query, None, built_by)
}

/// The job that built this version here, if one did.
async fn built_by(
    state: &AppState,
    operator: &Operator,
    name: &str,
    version: &str,
    query: &TenantQuery,
) -> Option<String> {
    let (tenant, _) = module(state, operator, name, query).ok()?;
    state
        .store
        .built_by(&tenant, name, version)
        .await
        .ok()
        .flatten()
}

/// `POST /console/modules/{name}/versions/{version}/verify`: verifies
/// again, bypassing the cache, and shows every check.
pub async fn reverify(
    State(state): State<AppState>,
    operator: Operator,
    Path((name, version)): Path<(String, String)>,
    Query(query): Query<TenantQuery>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = operator.refusal_unless_csrf(form.csrf()) {
        return refused;
    }
    let verified = match module(&state, &operator, &name, &query) {
        Ok((tenant, _)) => match state.registry.folder(&tenant, &name, &version) {
            Some(folder) => Some(state.registry.verify(&folder)),
            None => None,
        },
        Err(_) => None,
    };
    let built_by = built_by(&state, &operator, &name, &version, &query).await;
    render(
        &state, &operator, &name, &version, &query, verified, built_by,
    )
}

/// The tenant to look in and the module, as the operator may see it.
fn module(
    state: &AppState,
    operator: &Operator,
    name: &str,
    query: &TenantQuery,
) -> Result<(String, ModuleInfo), Problem> {
    let caller = &operator.0.caller;
    let tenant = match query.tenant.trim() {
        "" => caller.tenant.clone(),
        t if aip_ir::is_valid_module_name(t) && caller.sees(t) => t.to_string(),
        _ => return Err(Problem::not_found("no such tenant")),
    };
    let module = state.registry.module(&tenant, name).ok_or_else(|| {
        Problem::not_found(format!(
            "no module {}",
            name.chars().take(80).collect::<String>()
        ))
    })?;
    Ok((tenant, module))
}

fn not_found(operator: &Operator, problem: &Problem) -> Response {
    problem_page(&operator.0, "agents.html", "agents", problem)
}

fn version_href(name: &str, version: &str, tenant: &str) -> String {
    format!(
        "/console/modules/{name}/versions/{}?tenant={tenant}",
        url_encode(version)
    )
}

/// The version's verification as the page shows it.
#[derive(Serialize)]
struct VersionView {
    version: String,
    chip: &'static str,
    chip_class: &'static str,
    detail: String,
    failed_check: Option<String>,
    key: Option<String>,
}

#[derive(Serialize)]
struct CheckView {
    name: &'static str,
    detail: String,
}

#[derive(Serialize)]
struct FailedCheckView {
    check: String,
    message: String,
}

fn render(
    state: &AppState,
    operator: &Operator,
    name: &str,
    version: &str,
    query: &TenantQuery,
    fresh: Option<Verified>,
    built_by: Option<String>,
) -> Response {
    let (tenant, module) = match module(state, operator, name, query) {
        Ok(found) => found,
        Err(problem) => return not_found(operator, &problem),
    };
    let (Some(info), Some(folder)) = (
        module.versions.iter().find(|v| v.version == version),
        state.registry.folder(&tenant, name, version),
    ) else {
        return not_found(
            operator,
            &Problem::not_found(format!(
                "no version {} of {name}",
                version.chars().take(80).collect::<String>()
            )),
        );
    };
    let ran_now = fresh.is_some();
    let verified = fresh.unwrap_or_else(|| state.registry.verify_cached(&folder));
    let (status, key, checks, failed) = match &verified {
        Ok((key, report)) => (
            crate::modules::Status::Installed,
            Some(key.clone()),
            report
                .checks
                .iter()
                .map(|c| CheckView {
                    name: c.name,
                    detail: c.detail.clone(),
                })
                .collect(),
            None,
        ),
        Err(e) => (
            crate::modules::Status::Unverified,
            None,
            Vec::new(),
            Some(FailedCheckView {
                check: e.check.unwrap_or("verification").to_string(),
                message: e.message.clone(),
            }),
        ),
    };
    let (chip_label, chip_class) = chip(status);
    let view = VersionView {
        version: info.version.clone(),
        chip: chip_label,
        chip_class,
        detail: match &verified {
            Ok((_, report)) => format!(
                "{} checks passed{}",
                report.checks.len(),
                if ran_now { " just now" } else { "" }
            ),
            Err(e) => e.message.clone(),
        },
        failed_check: failed.as_ref().map(|f| f.check.clone()),
        key,
    };
    let versions: Vec<minijinja::Value> = module
        .versions
        .iter()
        .map(|v| minijinja::context! { version => v.version.clone(), href => version_href(name, &v.version, &tenant) })
        .collect();
    let links = minijinja::context! {
        manifest => format!("/v1/modules/{name}/versions/{version}/manifest?tenant={tenant}"),
        sbom => format!("/v1/modules/{name}/versions/{version}/sbom?tenant={tenant}"),
        artifact => format!("/v1/modules/{name}/versions/{version}/artifact?tenant={tenant}"),
    };
    let show_checks = ran_now || !checks.is_empty() || failed.is_some();
    page(
        StatusCode::OK,
        "module.html",
        minijinja::context! {
            page => "module", user => UserView::of(&operator.0), module => module_summary(&module),
            v => view, versions => versions, links => links,
            checks => if show_checks { Some(checks) } else { None }, checks_failed => failed,
            verify_action => format!("/console/modules/{name}/versions/{}/verify?tenant={tenant}", url_encode(version)),
            manifest => manifest_view(state, &folder), sbom => sbom_view(state, &folder),
            built_by => built_by,
        },
    )
}

fn module_summary(module: &ModuleInfo) -> minijinja::Value {
    minijinja::context! { name => module.name.clone(), description => module.description.clone() }
}

/// What the page shows of `manifest.yaml`.
fn manifest_view(state: &AppState, folder: &FsPath) -> minijinja::Value {
    let manifest = match state
        .registry
        .part(folder, Part::Manifest)
        .map_err(|p| p.detail)
        .and_then(|(bytes, _)| {
            aip_register::ModuleManifest::from_yaml(&bytes).map_err(|e| e.to_string())
        }) {
        Ok(manifest) => manifest,
        Err(e) => return minijinja::context! { runtime => format!("unreadable manifest: {e}") },
    };
    let intents: Vec<minijinja::Value> = manifest
        .intents
        .iter()
        .map(|i| minijinja::context! { name => i.name.clone(), operation => format!("{} ({} {})", i.operation, i.method, i.path) })
        .collect();
    let repairs: Vec<minijinja::Value> = manifest
        .metadata
        .source
        .repairs
        .iter()
        .map(|r| minijinja::context! { kind => r.kind.as_str(), location => format!("{}#{}", r.file, r.pointer), message => r.message.clone() })
        .collect();
    minijinja::context! {
        runtime => runtime_label(&manifest.runtime.kind),
        artifact_digest => manifest.artifact.digest.clone(),
        spec_digest => manifest.metadata.source.digest.clone(),
        cpu => manifest.resources.cpu.clone(),
        memory => manifest.resources.memory.clone(),
        hosts => manifest.permissions.net.clone(),
        intents => intents,
        repairs => repairs,
    }
}

/// The CycloneDX fields the components table shows.
#[derive(Deserialize)]
struct Bom {
    #[serde(rename = "specVersion", default)]
    spec_version: String,
    #[serde(default)]
    components: Vec<Component>,
}

#[derive(Deserialize)]
struct Component {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    purl: String,
    #[serde(default)]
    licenses: Vec<LicenseChoice>,
    #[serde(default)]
    hashes: Vec<Hash>,
}

#[derive(Deserialize)]
struct LicenseChoice {
    #[serde(default)]
    license: Option<License>,
    #[serde(default)]
    expression: Option<String>,
}

#[derive(Deserialize)]
struct License {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Hash {
    #[serde(default)]
    alg: String,
    #[serde(default)]
    content: String,
}

fn sbom_view(state: &AppState, folder: &FsPath) -> minijinja::Value {
    let bom = state
        .registry
        .part(folder, Part::Sbom)
        .map_err(|p| p.detail)
        .and_then(|(bytes, _)| {
            serde_json::from_slice::<Bom>(&bytes)
                .map_err(|e| format!("the SBOM is not CycloneDX JSON: {e}"))
        });
    let bom = match bom {
        Ok(bom) => bom,
        Err(e) => return minijinja::context! { error => e },
    };
    let components: Vec<minijinja::Value> = bom
        .components
        .iter()
        .map(|c| {
            let licenses: Vec<String> = c
                .licenses
                .iter()
                .filter_map(|l| {
                    l.expression.clone().or_else(|| {
                        l.license
                            .as_ref()
                            .and_then(|l| l.id.clone().or_else(|| l.name.clone()))
                    })
                })
                .collect();
            let hash = c
                .hashes
                .iter()
                .find(|h| h.alg == "SHA-256")
                .or(c.hashes.first())
                .map(|h| format!("{}:{}", h.alg, h.content))
                .unwrap_or_default();
            minijinja::context! {
                name => c.name.clone(), version => c.version.clone(), purl => c.purl.clone(),
                licenses => licenses.join(", "), hash => hash,
            }
        })
        .collect();
    minijinja::context! { spec_version => bom.spec_version, components => components }
}
