//! `GET /console/agents`: every module the operator's tenant owns (an
//! admin: every tenant's, or one), newest version first, with its status
//! chip from an actual verification with the keys the service trusts
//! (cached by artifact digest, so the page stays fast), filters by name,
//! intent and chip, and paging by cursor.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::console::Operator;
use crate::console::view::{ErrorView, UserView, page};
use crate::modules::{ModuleInfo, Status};
use crate::problem::Problem;
use crate::state::AppState;

/// Modules per page.
const PAGE: usize = 50;

/// The chips a module can have today (registries' modules that are not
/// installed here, and updates, are not listed yet: see README's limits).
const CHIPS: [&str; 2] = ["Installed", "Unverified"];

/// The page's filters, echoed back into the form.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Filter {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    intent: String,
    #[serde(default)]
    chip: String,
    #[serde(default, skip_serializing)]
    after: String,
}

/// One row of the table.
#[derive(Serialize)]
struct Row {
    name: String,
    href: String,
    tenant: String,
    description: String,
    chip: &'static str,
    chip_class: &'static str,
    detail: String,
    failed_check: Option<String>,
    version: String,
    runtime: String,
    intents: Vec<String>,
}

/// `GET /console/agents`.
pub async fn agents_page(
    State(state): State<AppState>,
    operator: Operator,
    Query(filter): Query<Filter>,
) -> Response {
    let user = UserView::of(&operator.0);
    let (rows, next, error) = match rows(&state, &operator, &filter) {
        Ok((rows, next)) => (rows, next, None),
        Err(problem) => (Vec::new(), None, Some(ErrorView::from(&problem))),
    };
    let next = next.map(|after| next_href(&filter, &after));
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(
        status,
        "agents.html",
        minijinja::context! {
            page => "agents", user => user, filter => filter, chips => CHIPS,
            modules => rows, next => next, error => error,
        },
    )
}

/// The rows matching `filter` after its cursor, and the next cursor.
fn rows(
    state: &AppState,
    operator: &Operator,
    filter: &Filter,
) -> Result<(Vec<Row>, Option<String>), Problem> {
    let caller = &operator.0.caller;
    let tenant = match filter.tenant.trim() {
        "" if caller.may(crate::auth::Role::Admin) => None,
        "" => Some(caller.tenant.clone()),
        t if !aip_ir::is_valid_module_name(t) => {
            return Err(Problem::invalid(
                "a tenant is a name: lowercase letters, digits and -, starting with a letter",
            ));
        }
        t if caller.sees(t) => Some(t.to_string()),
        _ => return Err(Problem::not_found("no such tenant")),
    };
    if !filter.chip.is_empty() && !CHIPS.contains(&filter.chip.as_str()) {
        return Err(Problem::invalid(format!(
            "status must be one of: {}",
            CHIPS.join(", ")
        )));
    }
    let mut rows = Vec::new();
    let mut cursor = (!filter.after.is_empty()).then(|| filter.after.clone());
    loop {
        let (modules, more) = state
            .registry
            .list(tenant.as_deref(), cursor.as_deref(), PAGE);
        let mut taken = 0;
        for module in &modules {
            taken += 1;
            cursor = Some(format!("{}/{}", module.tenant, module.name));
            if matches(module, filter) {
                rows.push(row(module));
                if rows.len() == PAGE {
                    let rest = taken < modules.len() || more.is_some();
                    return Ok((rows, cursor.filter(|_| rest)));
                }
            }
        }
        if more.is_none() {
            return Ok((rows, None));
        }
    }
}

fn matches(module: &ModuleInfo, filter: &Filter) -> bool {
    let name = filter.name.trim().to_ascii_lowercase();
    let intent = filter.intent.trim().to_ascii_lowercase();
    (name.is_empty() || module.name.contains(&name))
        && (intent.is_empty()
            || module
                .intents
                .iter()
                .any(|i| i.to_ascii_lowercase().contains(&intent)))
        && (filter.chip.is_empty() || chip(module.status).0 == filter.chip)
}

/// The chip's label and CSS class.
pub fn chip(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Installed => ("Installed", "installed"),
        Status::Unverified => ("Unverified", "unverified"),
    }
}

fn row(module: &ModuleInfo) -> Row {
    let newest = module.versions.first();
    let (chip, chip_class) = chip(module.status);
    Row {
        name: module.name.clone(),
        href: format!("/console/modules/{}?tenant={}", module.name, module.tenant),
        tenant: module.tenant.clone(),
        description: module.description.clone(),
        chip,
        chip_class,
        detail: newest.map(|v| v.detail.clone()).unwrap_or_default(),
        failed_check: newest.and_then(|v| v.failed_check.clone()),
        version: module.latest.clone(),
        runtime: newest
            .map(|v| runtime_label(&v.runtime))
            .unwrap_or_default(),
        intents: module.intents.clone(),
    }
}

/// `wasm` / `grpc` as operators read them.
pub fn runtime_label(kind: &str) -> String {
    match kind {
        "wasm" => "WASM component".into(),
        "grpc" => "gRPC service".into(),
        other => other.to_string(),
    }
}

fn next_href(filter: &Filter, after: &str) -> String {
    let pairs = [
        ("tenant", filter.tenant.as_str()),
        ("name", filter.name.as_str()),
        ("intent", filter.intent.as_str()),
        ("chip", filter.chip.as_str()),
        ("after", after),
    ];
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect();
    format!("/console/agents?{}", query.join("&"))
}

/// Percent-encodes a query value.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
