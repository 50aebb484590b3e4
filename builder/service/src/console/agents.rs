//! `GET /console/agents`: every module the operator's tenant owns (an
//! admin: every tenant's, or one), newest version first, with its status
//! chip from an actual verification with the keys the service trusts
//! (cached by artifact digest, so the page stays fast), filters by name,
//! intent and chip, and paging by cursor.

use aip_distribute::CatalogEntry;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use crate::catalog::update_for;
use crate::console::Operator;
use crate::console::view::{ErrorView, UserView, page};
use crate::modules::{ModuleInfo, Status, is_after};
use crate::problem::Problem;
use crate::state::AppState;

/// Modules per page.
const PAGE: usize = 50;

/// The chips, as the platform's console names them.
const CHIPS: [&str; 4] = ["Installed", "Not Installed", "Needs Update", "Unverified"];

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
    /// `Install` or `Update`, with the reference it installs.
    action: Option<(&'static str, String)>,
}

/// `GET /console/agents`.
pub async fn agents_page(
    State(state): State<AppState>,
    operator: Operator,
    Query(filter): Query<Filter>,
) -> Response {
    let user = UserView::of(&operator.0);
    let catalog = state.catalog.snapshot(&state, false).await;
    let (rows, next, error) = match rows(&state, &operator, &filter, &catalog.entries) {
        Ok((rows, next)) => (rows, next, None),
        Err(problem) => (Vec::new(), None, Some(problem)),
    };
    let next = next.map(|after| next_href(&filter, &after));
    page(
        crate::console::view::status_of(error.as_ref()),
        "agents.html",
        minijinja::context! {
            page => "agents", user => user, filter => filter, chips => CHIPS,
            modules => rows, next => next, error => error.as_ref().map(ErrorView::from), registry_warnings => catalog.warnings,
        },
    )
}

/// The rows matching `filter` after its cursor, and the next cursor: the
/// modules registered here (Needs Update when a registry holds a newer
/// version signed with a trusted key) and what the registries hold that is
/// not installed here (Not Installed, in the tenant installs go into), in
/// one order by tenant and name, paged alike.
fn rows(
    state: &AppState,
    operator: &Operator,
    filter: &Filter,
    catalog: &[CatalogEntry],
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
    let after = (!filter.after.is_empty()).then_some(filter.after.as_str());
    // Installs go into the caller's tenant: what it does not have yet.
    let installs_into = tenant.clone().unwrap_or_else(|| caller.tenant.clone());
    let mut available: Vec<Row> = catalog
        .iter()
        .filter(|e| after.is_none_or(|a| is_after(&installs_into, &e.name, a)))
        .filter(|e| !state.registry.has_module(&installs_into, &e.name))
        .map(|e| not_installed(e, &installs_into))
        .filter(|r| matches(r, filter))
        .collect();
    available.sort_by(|a, b| key(a).cmp(&key(b)));
    let mut available = available.into_iter().peekable();
    let mut page = Page::default();
    let mut cursor = after.map(str::to_string);
    loop {
        let (modules, more) = state
            .registry
            .list(tenant.as_deref(), cursor.as_deref(), PAGE);
        for (i, module) in modules.iter().enumerate() {
            cursor = Some(format!("{}/{}", module.tenant, module.name));
            let row = row(module, catalog);
            if !matches(&row, filter) {
                continue;
            }
            while let Some(earlier) = available.next_if(|a| key(a) < key(&row)) {
                if page.push(earlier) {
                    return Ok(page.end(true));
                }
            }
            if page.push(row) {
                let rest = i + 1 < modules.len() || more.is_some() || available.peek().is_some();
                return Ok(page.end(rest));
            }
        }
        if more.is_none() {
            break;
        }
    }
    while let Some(rest) = available.next() {
        if page.push(rest) {
            return Ok(page.end(available.peek().is_some()));
        }
    }
    Ok(page.end(false))
}

/// Where a row sorts: by tenant, then name.
fn key(row: &Row) -> (&str, &str) {
    (&row.tenant, &row.name)
}

/// One page of rows being filled.
#[derive(Default)]
struct Page {
    rows: Vec<Row>,
}

impl Page {
    /// Adds `row`; `true` when the page is full.
    fn push(&mut self, row: Row) -> bool {
        self.rows.push(row);
        self.rows.len() == PAGE
    }

    /// The rows and, when `more` may follow, the cursor after the last
    /// (rows that follow but match no filter can still make the next page
    /// empty: knowing would mean filtering ahead).
    fn end(self, more: bool) -> (Vec<Row>, Option<String>) {
        let next = self
            .rows
            .last()
            .filter(|_| more)
            .map(|r| format!("{}/{}", r.tenant, r.name));
        (self.rows, next)
    }
}

fn matches(row: &Row, filter: &Filter) -> bool {
    let name = filter.name.trim().to_ascii_lowercase();
    let intent = filter.intent.trim().to_ascii_lowercase();
    (name.is_empty() || row.name.contains(&name))
        && (intent.is_empty()
            || row
                .intents
                .iter()
                .any(|i| i.to_ascii_lowercase().contains(&intent)))
        && (filter.chip.is_empty() || row.chip == filter.chip)
}

fn not_installed(entry: &CatalogEntry, tenant: &str) -> Row {
    let (detail, reference) = match &entry.newest_trusted {
        Some(version) => (
            format!(
                "{version} is in {}, signed with a key this service trusts",
                entry.repository
            ),
            format!("{}@{version}", entry.repository),
        ),
        None => (
            format!(
                "{} is in {}, but no version there is signed with a key this service trusts",
                entry.newest, entry.repository
            ),
            format!("{}@{}", entry.repository, entry.newest),
        ),
    };
    Row {
        name: entry.name.clone(),
        href: String::new(),
        tenant: tenant.to_string(),
        description: entry.description.clone(),
        chip: "Not Installed",
        chip_class: "not-installed",
        detail,
        failed_check: None,
        version: entry
            .newest_trusted
            .clone()
            .unwrap_or_else(|| entry.newest.clone()),
        runtime: String::new(),
        intents: entry.intents.clone(),
        action: Some(("Install", reference)),
    }
}

/// The chip's label and CSS class.
pub fn chip(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Installed => ("Installed", "installed"),
        Status::Unverified => ("Unverified", "unverified"),
    }
}

fn row(module: &ModuleInfo, catalog: &[CatalogEntry]) -> Row {
    let newest = module.versions.first();
    let (mut chip, mut chip_class) = chip(module.status);
    let mut detail = newest.map(|v| v.detail.clone()).unwrap_or_default();
    let mut action = None;
    let update = catalog
        .iter()
        .filter(|e| e.name == module.name)
        .find_map(|e| {
            Some((
                e.repository.clone(),
                update_for(e, &module.latest)?.to_string(),
            ))
        });
    if let (crate::modules::Status::Installed, Some((repository, version))) =
        (module.status, update)
    {
        (chip, chip_class) = ("Needs Update", "needs-update");
        detail = format!("{version} is in {repository}, signed with a key this service trusts");
        action = Some(("Update", format!("{repository}@{version}")));
    }
    Row {
        name: module.name.clone(),
        href: format!("/console/modules/{}?tenant={}", module.name, module.tenant),
        tenant: module.tenant.clone(),
        description: module.description.clone(),
        chip,
        chip_class,
        detail,
        failed_check: newest.and_then(|v| v.failed_check.clone()),
        version: module.latest.clone(),
        runtime: newest
            .map(|v| runtime_label(&v.runtime))
            .unwrap_or_default(),
        intents: module.intents.clone(),
        action,
    }
}

/// A reference to install, from the Install and Update buttons.
#[derive(Deserialize)]
pub struct InstallForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reference: String,
}

/// `POST /console/install`: installs (or updates to) a signed version from
/// a configured registry into the operator's tenant, then shows it.
pub async fn install(
    State(state): State<AppState>,
    operator: Operator,
    Form(form): Form<InstallForm>,
) -> Response {
    if let Some(refused) = operator.refusal_unless_csrf(&form.csrf) {
        return refused;
    }
    match crate::modules_api::install_reference(&state, &operator.0.caller, &form.reference, true)
        .await
    {
        Ok(installed) => Redirect::to(&format!(
            "/console/modules/{}/versions/{}?tenant={}",
            installed.name, installed.version, installed.tenant
        ))
        .into_response(),
        Err(problem) => page(
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
            "agents.html",
            minijinja::context! {
                page => "agents", user => UserView::of(&operator.0), chips => CHIPS,
                filter => Filter::default(), error => ErrorView::from(&problem),
            },
        ),
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
