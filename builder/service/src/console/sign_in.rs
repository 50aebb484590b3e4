//! `GET/POST /console/sign-in` and `POST /console/sign-out`.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::{Caller, DEFAULT_TENANT, Role, authenticate};
use crate::console::session::{self, csrf_matches};
use crate::console::view::{ErrorView, page};
use crate::problem::Problem;
use crate::state::AppState;

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    api_key: String,
}

/// A form that carries only the CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfForm {
    /// The token the form carried.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `GET /console/sign-in`.
pub async fn form(State(state): State<AppState>) -> Response {
    sign_in_page(&state, StatusCode::OK, None)
}

fn sign_in_page(state: &AppState, status: StatusCode, error: Option<ErrorView>) -> Response {
    page(
        status,
        "sign_in.html",
        minijinja::context! { open_mode => state.config.api_keys.is_empty(), error => error },
    )
}

/// `POST /console/sign-in`: the key is checked like `X-API-Key` (failures
/// throttled per address) and exchanged for a session cookie.
pub async fn sign_in(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let caller = match caller_of_key(&state, peer.ip(), &form.api_key) {
        Ok(caller) => caller,
        Err(problem) if problem.status == 429 => {
            return sign_in_page(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                Some(ErrorView::from(&problem)),
            );
        }
        Err(problem) => {
            let error = ErrorView {
                title: problem.title.to_string(),
                detail: "that API key is not one this service accepts".into(),
                hint: Some("paste the whole key your administrator gave you".into()),
            };
            return sign_in_page(&state, StatusCode::UNAUTHORIZED, Some(error));
        }
    };
    tracing::info!(tenant = %caller.tenant, key = %caller.key_id, "console sign-in");
    let (token, _) = state.sessions.create(caller);
    (
        [(header::SET_COOKIE, session::set_cookie(&token, &headers))],
        Redirect::to("/console/agents"),
    )
        .into_response()
}

/// The caller an API key presented at sign-in stands for (in open mode,
/// an admin of the default tenant). Failures are counted per address, as
/// for `X-API-Key`: `401`, or `429` once an address failed too often.
pub fn caller_of_key(
    state: &AppState,
    client: std::net::IpAddr,
    key: &str,
) -> Result<Caller, Problem> {
    if state.config.api_keys.is_empty() {
        return Ok(Caller {
            roles: vec![Role::Admin],
            tenant: DEFAULT_TENANT.into(),
            key_id: String::new(),
        });
    }
    state.failed_auth.check(client)?;
    authenticate(&state.config.api_keys, key.trim()).ok_or_else(|| state.failed_auth.failed(client))
}

/// `POST /console/sign-out`: revokes the session (with its CSRF token, so
/// no other site can sign an operator out).
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(session) = state.sessions.of_request(&headers) {
        if !csrf_matches(&session, &form.csrf) {
            return crate::console::csrf_refusal();
        }
        state.sessions.revoke(&headers);
    }
    (
        [(header::SET_COOKIE, session::clear_cookie(&headers))],
        Redirect::to("/console/sign-in"),
    )
        .into_response()
}
