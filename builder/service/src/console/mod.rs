//! The operators' console, served by `aip-builder serve` itself on the same
//! port, with the same keys, roles and tenants: server-rendered HTML pages
//! (minijinja, auto-escaped) and a stylesheet and one small script (live
//! job events) embedded in the binary and cached by digest; no request to
//! any other host.
//!
//! - `session.rs`: sign-in exchanges an API key for an HttpOnly,
//!   SameSite=Strict session cookie; every form carries a CSRF token.
//! - `agents.rs`: the Agents page: every module of the tenant with its
//!   status chip from real verification, filters and paging.
//! - `module_page.rs`: one module version: manifest, signature, SBOM
//!   components, downloads, repairs, re-run verification.
//! - `build.rs`: Add Vendor Spec → Build Adapter: the form becomes the
//!   API's typed request; Check shows what would be built.
//! - `jobs.rs`: the jobs list and a job's page, live over SSE, with Cancel.
//! - `hints.rs`: hints in the form's terms.
//! - `view.rs`: templates, the embedded stylesheet and script, and the
//!   headers of every page.

mod agents;
mod build;
mod hints;
mod jobs;
mod module_page;
pub mod session;
mod sign_in;
mod view;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

pub use session::Sessions;
pub use sign_in::caller_of_key;
pub use view::role_name;

use crate::state::AppState;

/// The console's routes, under `/console`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::to("/console/agents") }),
        )
        .route(
            "/console/sign-in",
            get(sign_in::form).post(sign_in::sign_in),
        )
        .route("/console/sign-out", post(sign_in::sign_out))
        .route("/console/agents", get(agents::agents_page))
        .route("/console/install", post(agents::install))
        .route("/console/modules/{name}", get(module_page::latest))
        .route(
            "/console/modules/{name}/versions/{version}",
            get(module_page::page_of_version),
        )
        .route(
            "/console/modules/{name}/versions/{version}/verify",
            post(module_page::reverify),
        )
        .route("/console/build", get(build::form).post(build::submit))
        .route("/console/jobs", get(jobs::list))
        .route("/console/jobs/{id}", get(jobs::job_page))
        .route("/console/jobs/{id}/cancel", post(jobs::cancel))
        .route("/console/assets/{file}", get(view::asset))
}

/// The signed-in operator of a console request; without a live session,
/// the request is sent to the sign-in page.
pub struct Operator(pub session::Session);

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Operator, Response> {
        state
            .sessions
            .of_request(&parts.headers)
            .map(Operator)
            .ok_or_else(|| Redirect::to("/console/sign-in").into_response())
    }
}

/// The answer to a form whose CSRF token is not the session's: it changes
/// nothing.
pub fn csrf_refusal() -> Response {
    (
        axum::http::StatusCode::FORBIDDEN,
        "the form's CSRF token does not match the session",
    )
        .into_response()
}

impl Operator {
    /// The refusal when `token` is not this session's CSRF token; `None`
    /// when it is.
    pub fn refusal_unless_csrf(&self, token: &str) -> Option<Response> {
        (!session::csrf_matches(&self.0, token)).then(csrf_refusal)
    }
}
