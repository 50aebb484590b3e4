//! What the console needs from the API, open to every client: the
//! caller's jobs (paged, by state), the signing keys the caller may use,
//! and sessions (an API key exchanged for a session cookie, and back).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::api::{JobResponse, internal, job_body};
use crate::auth::{Caller, Role};
use crate::console::session;
use crate::problem::Problem;
use crate::state::AppState;
use crate::store::JobState;

/// `GET /v1/builder/jobs` paging and filter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobListQuery {
    /// Only jobs in this state.
    state: Option<JobState>,
    /// Jobs per page (default 50, at most 500).
    limit: Option<i64>,
    /// The `next` cursor of the previous page.
    before: Option<String>,
}

/// One page of jobs, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JobList {
    /// The jobs with their links.
    pub jobs: Vec<JobResponse>,
    /// The cursor of the next (older) page, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The caller's jobs (admins: every tenant's), newest first.
#[utoipa::path(
    get,
    path = "/v1/builder/jobs",
    operation_id = "listJobs",
    tag = "builder",
    params(JobListQuery),
    responses(
        (status = 200, description = "One page of jobs", body = JobList),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad cursor or limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn list_jobs(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<JobListQuery>,
) -> Result<Json<JobList>, Problem> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Problem::invalid("limit must be between 1 and 500"));
    }
    let (jobs, next) =
        page_of_jobs(&state, &caller, query.state, query.before.as_deref(), limit).await?;
    Ok(Json(JobList {
        jobs: jobs.iter().map(job_body).collect(),
        next,
    }))
}

/// One page of the jobs `caller` may see (admins: every tenant's), newest
/// first, after the cursor `before`, and the next page's cursor. Shared by
/// the API and the console's jobs list.
pub async fn page_of_jobs(
    state: &AppState,
    caller: &Caller,
    in_state: Option<JobState>,
    before: Option<&str>,
    limit: i64,
) -> Result<(Vec<crate::store::Job>, Option<String>), Problem> {
    let before = before
        .filter(|c| !c.is_empty())
        .map(parse_cursor)
        .transpose()?;
    let tenant = (!caller.may(Role::Admin)).then_some(caller.tenant.as_str());
    let mut jobs = state
        .store
        .list(tenant, in_state, before, limit + 1)
        .await
        .map_err(|e| internal(&e))?;
    let next = (jobs.len() as i64 > limit)
        .then(|| {
            jobs.truncate(limit as usize);
            jobs.last().map(|j| format!("{}:{}", j.created_at, j.id))
        })
        .flatten();
    Ok((jobs, next))
}

/// A `created_at:id` page cursor.
fn parse_cursor(cursor: &str) -> Result<(i64, &str), Problem> {
    cursor
        .split_once(':')
        .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id)))
        .ok_or_else(|| Problem::invalid("before is not a cursor this API returned"))
}

/// The signing keys a caller may name in `signing.cosign_key_ref`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SigningKeys {
    /// Key names, the default first when it is allowed.
    pub keys: Vec<String>,
}

/// The signing keys the caller's tenant may sign with.
#[utoipa::path(
    get,
    path = "/v1/builder/signing-keys",
    operation_id = "listSigningKeys",
    tag = "builder",
    responses(
        (status = 200, description = "Key names", body = SigningKeys),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn signing_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Json<SigningKeys> {
    Json(SigningKeys {
        keys: state.config.key_refs_for(&caller.tenant),
    })
}

/// `POST /v1/session`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// An API key (as for `X-API-Key`).
    pub api_key: String,
}

/// A started session. Its token is only in the `Set-Cookie` header
/// (HttpOnly), never in a body a script could read.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// The key's tenant.
    pub tenant: String,
    /// Its strongest role: `viewer`, `builder` or `admin`.
    pub role: String,
    /// Send as `X-CSRF-Token` with every request that changes anything.
    pub csrf: String,
    /// When the session ends (ms since the epoch).
    pub expires_at: i64,
}

/// Exchange an API key for a session cookie (what the console does).
#[utoipa::path(
    post,
    path = "/v1/session",
    operation_id = "signIn",
    tag = "session",
    security(()),
    request_body = SignIn,
    responses(
        (status = 200, description = "Signed in; the cookie is in Set-Cookie", body = SessionInfo),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not a valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed keys from this address", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let request: SignIn = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request(format!("request body: {e}")))?;
    let caller = crate::console::caller_of_key(&state, peer.ip(), &request.api_key)?;
    let role = crate::console::role_name(&caller).to_string();
    let (token, session) = state.sessions.create(caller);
    let info = SessionInfo {
        tenant: session.caller.tenant.clone(),
        role,
        csrf: session.csrf.clone(),
        expires_at: session.expires_ms,
    };
    Ok((
        [(header::SET_COOKIE, session::set_cookie(&token, &headers))],
        Json(info),
    )
        .into_response())
}

/// End the session of the request's cookie.
#[utoipa::path(
    delete,
    path = "/v1/session",
    operation_id = "signOut",
    tag = "session",
    security(()),
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses(
        (status = 204, description = "Signed out; the cookie is cleared"),
        (status = 403, description = "The CSRF token does not match", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if let Some(current) = state.sessions.of_request(&headers) {
        let token = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !session::csrf_matches(&current, token) {
            return Err(Problem::forbidden(
                "signing out needs the session's X-CSRF-Token",
            ));
        }
        state.sessions.revoke(&headers);
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session::clear_cookie(&headers))],
    )
        .into_response())
}
