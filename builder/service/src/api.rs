//! The HTTP API (axum): routes, authentication, and the handlers.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures_util::Stream;
use sha2::{Digest, Sha256};

use crate::auth::{Caller, Role, authenticate};
use crate::problem::Problem;
use crate::request::AdapterRequest;
use crate::runner::emit;
pub use crate::state::AppState;
use crate::stop::StopOutcome;
use crate::store::{Inserted, Job, JobState, now_ms};

/// The router: every route of [`crate::routes::routes`] (declared once,
/// with its OpenAPI operation), behind the body limits and the metrics
/// middleware.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    let (routes, _) = crate::routes::routes().split_for_parts();
    routes
        .merge(crate::console::router())
        .fallback(|| async { Problem::not_found("no such endpoint") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            limit,
            refuse_declared_oversize,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::observe,
        ))
        .with_state(state)
}

/// `413` before reading a body whose `Content-Length` is over the limit:
/// a client that sent `Expect: 100-continue` then never sends it.
async fn refuse_declared_oversize(
    State(limit): State<usize>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => Problem::too_large(format!(
            "the request body is {length} bytes, larger than {limit} bytes"
        ))
        .into_response(),
        _ => next.run(request).await,
    }
}

/// The caller behind `X-API-Key`, or behind a console session cookie
/// (state-changing requests then need `X-CSRF-Token`); in open mode (no
/// keys configured, loopback only) everyone is an admin of the default
/// tenant.
impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, Problem> {
        if state.config.api_keys.is_empty() {
            return Ok(Caller {
                roles: vec![Role::Admin],
                tenant: crate::auth::DEFAULT_TENANT.into(),
                key_id: String::new(),
            });
        }
        let client = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        if let Some(client) = client {
            state.failed_auth.check(client)?;
        }
        let refuse = || match client {
            Some(client) => state.failed_auth.failed(client),
            None => Problem::unauthenticated(),
        };
        let presented = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok());
        let Some(presented) = presented else {
            // A console session stands for the key it was signed in with;
            // a request that changes anything must also carry its CSRF
            // token, which no other site can read.
            let session = state
                .sessions
                .of_request(&parts.headers)
                .ok_or_else(refuse)?;
            if !parts.method.is_safe() {
                let token = parts
                    .headers
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if !crate::console::session::csrf_matches(&session, token) {
                    return Err(Problem::forbidden(
                        "a request made with a console session must carry its CSRF token in X-CSRF-Token",
                    ));
                }
            }
            state.limits.check(&session.caller.key_id)?;
            return Ok(session.caller);
        };
        let caller = authenticate(&state.config.api_keys, presented).ok_or_else(refuse)?;
        state.limits.check(&caller.key_id)?;
        Ok(caller)
    }
}

/// A job the caller may see (another tenant's is "not found").
pub(crate) async fn visible_job(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Job, Problem> {
    let job = state.store.get(id).await.map_err(|e| internal(&e))?;
    match job {
        Some(job) if caller.sees(&job.tenant) => Ok(job),
        _ => Err(Problem::not_found(format!("no job {id}"))),
    }
}

pub(crate) fn internal(e: &dyn std::fmt::Display) -> Problem {
    tracing::error!("{e}");
    Problem::internal("the service failed; see its log")
}

/// A job, with links to follow it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct JobResponse {
    /// The job.
    #[serde(flatten)]
    pub job: Job,
    /// Where to follow it.
    pub links: JobLinks,
}

/// Links of a job.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct JobLinks {
    /// `GET`: the job.
    #[serde(rename = "self")]
    pub this: String,
    /// `GET`: Server-Sent Events.
    pub events: String,
    /// `GET`: the log as text.
    pub logs: String,
    /// `POST`: cancel it.
    pub cancel: String,
}

pub(crate) fn job_body(job: &Job) -> JobResponse {
    let id = &job.id;
    JobResponse {
        job: job.clone(),
        links: JobLinks {
            this: format!("/v1/builder/jobs/{id}"),
            events: format!("/v1/builder/jobs/{id}/events"),
            logs: format!("/v1/builder/jobs/{id}/logs"),
            cancel: format!("/v1/builder/jobs/{id}/cancel"),
        },
    }
}

/// Submit a spec to build into a signed module.
#[utoipa::path(
    post,
    path = "/v1/builder/adapter",
    operation_id = "submitAdapterBuild",
    tag = "builder",
    request_body = AdapterRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key with the same body returns the same job; with another body, 409")),
    responses(
        (status = 202, description = "Accepted: the job, queued", body = JobResponse),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request or spec, or a refused source URL", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    if !caller.may(Role::Builder) {
        return Err(Problem::forbidden(
            "submitting builds needs the builder role",
        ));
    }
    let body = body.map_err(|e| body_problem(&state, e))?;
    let request = AdapterRequest::from_body(&body)?;
    let idempotency_key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .map_err(|_| Problem::bad_request("Idempotency-Key is not visible ASCII"))
        })
        .transpose()?;
    let digest = hex::encode(Sha256::digest(&body));
    // A replay is answered before any fetching or ingesting; the insert
    // below checks again, for two first submissions racing.
    if let Some(key) = &idempotency_key
        && let Some(existing) = state
            .store
            .find_idempotent(&caller.tenant, key)
            .await
            .map_err(|e| internal(&e))?
    {
        return replay(&existing, &digest);
    }
    let job = enqueue(
        &state,
        &caller,
        request,
        digest.clone(),
        idempotency_key.as_deref(),
    )
    .await?;
    match job {
        Inserted::Existing(existing) => replay(&existing, &digest),
        Inserted::New(job) => Ok((StatusCode::ACCEPTED, Json(job_body(&job))).into_response()),
    }
}

/// Prepares `request` (validated, spec stored in the job's folder and
/// ingested: a spec that cannot build is refused now, not accepted as a
/// job that can only fail) and inserts and queues its job. Shared by the
/// API and the console.
pub(crate) async fn enqueue(
    state: &AppState,
    caller: &Caller,
    request: AdapterRequest,
    request_digest: String,
    idempotency_key: Option<&str>,
) -> Result<Inserted, Problem> {
    let id = new_job_id();
    let dir = state.config.job_dir(&id);
    let prepared = crate::intake::prepare(state, caller, request, &dir).await?;
    let job = Job {
        id,
        tenant: caller.tenant.clone(),
        state: JobState::Queued,
        stage: None,
        error: None,
        error_kind: None,
        hint: None,
        hint_data: None,
        module: None,
        request: serde_json::to_value(&prepared.accepted.request).unwrap_or_default(),
        spec: Some(prepared.accepted.job.clone()),
        created_at: now_ms(),
        started_at: None,
        finished_at: None,
        attempts: 0,
        request_digest,
    };
    let inserted = state
        .store
        .insert(&job, idempotency_key)
        .await
        .map_err(|e| internal(&e));
    match inserted {
        Ok(Inserted::Existing(existing)) => {
            let _ = std::fs::remove_dir_all(&dir);
            Ok(Inserted::Existing(existing))
        }
        Ok(Inserted::New(job)) => {
            let queued = crate::job::JobUpdate::state(JobState::Queued);
            emit(&state.store, &state.runner.live, &job.id, &queued).await;
            state.runner.enqueue(&job.tenant, &job.id);
            Ok(Inserted::New(job))
        }
        Err(problem) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(problem)
        }
    }
}

/// Check what a build request would build, without building it.
#[utoipa::path(
    post,
    path = "/v1/builder/adapter/check",
    operation_id = "checkAdapterBuild",
    tag = "builder",
    request_body = AdapterRequest,
    responses(
        (status = 200, description = "What would be built: operations, intents, vendor hosts, repairs", body = crate::intake::CheckReport),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request or spec, or a refused source URL", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn check(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<crate::intake::CheckReport>, Problem> {
    if !caller.may(Role::Builder) {
        return Err(Problem::forbidden("checking builds needs the builder role"));
    }
    let body = body.map_err(|e| body_problem(&state, e))?;
    let request = AdapterRequest::from_body(&body)?;
    crate::intake::check(&state, &caller, request)
        .await
        .map(Json)
}

fn body_problem(state: &AppState, rejection: BytesRejection) -> Problem {
    match rejection {
        BytesRejection::FailedToBufferBody(_) => Problem::too_large(format!(
            "the request body is larger than {} bytes",
            state.config.max_body_bytes
        )),
        other => Problem::bad_request(other.body_text()),
    }
}

/// The answer to a repeated Idempotency-Key: the same job for the same
/// body, `409` for another.
fn replay(existing: &Job, digest: &str) -> Result<Response, Problem> {
    if existing.request_digest != digest {
        return Err(Problem::conflict(
            "this Idempotency-Key was used with a different request body",
        ));
    }
    Ok((StatusCode::ACCEPTED, Json(job_body(existing))).into_response())
}

/// A job: state, stage, timings, error, resulting module.
#[utoipa::path(
    get,
    path = "/v1/builder/jobs/{id}",
    operation_id = "getJob",
    tag = "builder",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = JobResponse),
        (status = 404, description = "No such job (or another tenant's)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let job = visible_job(&state, &caller, &id).await?;
    Ok(Json(job_body(&job)).into_response())
}

/// A job's log as text.
#[utoipa::path(
    get,
    path = "/v1/builder/jobs/{id}/logs",
    operation_id = "getJobLogs",
    tag = "builder",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The log", body = String, content_type = "text/plain"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn logs(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let job = visible_job(&state, &caller, &id).await?;
    let events = state
        .store
        .events(&job.id, 0)
        .await
        .map_err(|e| internal(&e))?;
    let mut text = String::new();
    for event in events {
        let line = match event.kind.as_str() {
            "stage" => format!(
                "==> {} {}",
                event.data["stage"].as_str().unwrap_or(""),
                event.data["detail"].as_str().unwrap_or("")
            ),
            "log" => format!("    {}", event.data["line"].as_str().unwrap_or("")),
            "warning" => format!("warning: {}", event.data["line"].as_str().unwrap_or("")),
            _ => format!("[{}] {}", event.kind, event.data),
        };
        text.push_str(&line);
        text.push('\n');
    }
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// Cancel a job: a queued one ends now, a running one is stopped.
#[utoipa::path(
    post,
    path = "/v1/builder/jobs/{id}/cancel",
    operation_id = "cancelJob",
    tag = "builder",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job (ended, or it had already ended)", body = JobResponse),
        (status = 202, description = "The running job is being stopped", body = JobResponse),
        (status = 403, description = "The key may not", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let (job, stopping) = cancel_job(&state, &caller, &id).await?;
    let status = if stopping {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(job_body(&job))).into_response())
}

/// Cancels job `id` for `caller` (shared by the API and the console): the
/// job as it is now, and whether a build is still stopping.
pub(crate) async fn cancel_job(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(Job, bool), Problem> {
    if !caller.may(Role::Builder) {
        return Err(Problem::forbidden(
            "cancelling builds needs the builder role",
        ));
    }
    let job = visible_job(state, caller, id).await?;
    if job.state.is_terminal() {
        return Ok((job, false));
    }
    let running = &state.runner.running;
    // A build of this process holds the job (or is about to take it): it
    // stops at its next check and ends the job as cancelled, unless it is
    // already registering its module.
    let mut outcome = running.cancel(id);
    if outcome == StopOutcome::NotHere {
        // Still queued: ended now, and no build can start it any more
        // (starting is a compare-and-set from `queued` too).
        if end_cancelled(
            state,
            id,
            &[JobState::Queued],
            "cancelled before it started",
        )
        .await?
        {
            return Ok((visible_job(state, caller, id).await?, false));
        }
        // Not queued any more: a build may just have taken it.
        outcome = running.cancel(id);
    }
    match outcome {
        StopOutcome::Stopping => {}
        StopOutcome::TooLate => {
            return Err(Problem::conflict_state(format!(
                "job {id} is registering its module and can no longer be cancelled"
            )));
        }
        StopOutcome::NotHere => {
            // Running in the store but held by no build here: the service
            // stopped during it and has not resumed it. Its resumed build,
            // if one starts, finds it cancelled and records nothing.
            end_cancelled(
                state,
                id,
                &[JobState::Running],
                "cancelled before it resumed",
            )
            .await?;
        }
    }
    Ok((visible_job(state, caller, id).await?, true))
}

/// Ends a job in one of `from` as cancelled (a compare-and-set), with
/// `why`; `true` when this call ended it.
async fn end_cancelled(
    state: &AppState,
    id: &str,
    from: &[JobState],
    why: &str,
) -> Result<bool, Problem> {
    let cancelled = state
        .store
        .transition(
            id,
            from,
            JobState::Cancelled,
            Some(&crate::job::JobFailure::user(why)),
        )
        .await
        .map_err(|e| internal(&e))?;
    if cancelled {
        let event = crate::job::JobUpdate::State {
            state: JobState::Cancelled,
            failure: None,
            module: None,
        };
        emit(&state.store, &state.runner.live, id, &event).await;
    }
    Ok(cancelled)
}

/// Whether the process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses((status = 200, description = "Up", body = String, content_type = "text/plain")),
)]
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// Whether the service can serve (its job store answers).
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = String, content_type = "text/plain"),
        (status = 500, description = "Not ready", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    if state.store.ping().await {
        "ready".into_response()
    } else {
        Problem::internal("the job database does not answer").into_response()
    }
}

/// A job's events as Server-Sent Events: its history first, then live,
/// ending after the terminal state.
#[utoipa::path(
    get,
    path = "/v1/builder/jobs/{id}/events",
    operation_id = "streamJobEvents",
    tag = "builder",
    params(
        ("id" = String, Path, description = "Job id"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event (EventSource sends it when it reconnects)"),
    ),
    responses(
        (status = 200, description = "`id:` the event's sequence number, `event:` state|stage|log|warning, `data:` a JobEvent; with `Last-Event-ID` only the events after it", body = String, content_type = "text/event-stream"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let job = visible_job(&state, &caller, &id).await?;
    // A reconnecting client resumes after the last event it saw.
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|seq| *seq >= 0)
        .unwrap_or(0);
    // Subscribe before reading the history, so nothing falls between.
    let live = state.runner.live.subscribe();
    let history = state
        .store
        .events(&job.id, after)
        .await
        .map_err(|e| internal(&e))?;
    let finished = job.state.is_terminal();
    let stream =
        crate::sse::job_stream(job.id, history, live, state.store.clone(), after, finished);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

pub(crate) fn new_job_id() -> String {
    let mut bytes = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    format!("job-{}", hex::encode(bytes))
}
