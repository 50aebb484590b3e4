//! `GET /console/jobs` (the tenant's jobs, newest first, filtered by
//! state), `GET /console/jobs/{id}` (stages with their times, the event
//! log, live over Server-Sent Events, the module or the error at the end)
//! and `POST /console/jobs/{id}/cancel`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use crate::console::Operator;
use crate::console::sign_in::CsrfForm;
use crate::console::view::{ErrorView, UserView, page, problem_page};
use crate::problem::Problem;
use crate::state::AppState;
use crate::store::{Job, JobEvent, JobState};

/// Jobs per page.
const PAGE: i64 = 50;

/// The list's filters.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct JobFilter {
    #[serde(default)]
    state: String,
    #[serde(default, skip_serializing)]
    before: String,
}

#[derive(Serialize)]
struct JobRow {
    id: String,
    href: String,
    tenant: String,
    name: String,
    version: String,
    state: &'static str,
    stage: String,
    created: String,
}

/// `GET /console/jobs`.
pub async fn list(
    State(state): State<AppState>,
    operator: Operator,
    Query(filter): Query<JobFilter>,
) -> Response {
    let user = UserView::of(&operator.0);
    let rows = jobs(&state, &operator, &filter).await;
    let (rows, next, error) = match rows {
        Ok((rows, next)) => (rows, next, None),
        Err(problem) => (Vec::new(), None, Some(problem)),
    };
    let states: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
    let next = next.map(|before| {
        let state = if filter.state.is_empty() {
            String::new()
        } else {
            format!("state={}&", filter.state)
        };
        format!("/console/jobs?{state}before={before}")
    });
    page(
        crate::console::view::status_of(error.as_ref()),
        "jobs.html",
        minijinja::context! { page => "jobs", user => user, filter => filter, states => states, jobs => rows, next => next, error => error.as_ref().map(ErrorView::from) },
    )
}

async fn jobs(
    state: &AppState,
    operator: &Operator,
    filter: &JobFilter,
) -> Result<(Vec<JobRow>, Option<String>), Problem> {
    let wanted = match filter.state.as_str() {
        "" => None,
        name => Some(JobState::from_name(name).ok_or_else(|| {
            Problem::invalid("state must be queued, running, succeeded, failed or cancelled")
        })?),
    };
    let (jobs, next) = crate::account_api::page_of_jobs(
        state,
        &operator.0.caller,
        wanted,
        Some(&filter.before),
        PAGE,
    )
    .await?;
    Ok((jobs.iter().map(row).collect(), next))
}

fn row(job: &Job) -> JobRow {
    JobRow {
        id: job.id.clone(),
        href: format!("/console/jobs/{}", job.id),
        tenant: job.tenant.clone(),
        name: job.request["name"].as_str().unwrap_or_default().to_string(),
        version: job.request["version"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        state: job.state.as_str(),
        stage: job.stage.clone().unwrap_or_default(),
        created: utc(job.created_at),
    }
}

/// A time as `YYYY-MM-DD HH:MM:SS UTC`.
fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// One stage and how long it took.
#[derive(Serialize)]
struct StageRow {
    name: String,
    detail: String,
    seconds: String,
}

/// One line of the event log.
#[derive(Serialize)]
struct EventRow {
    seq: i64,
    at: String,
    kind: String,
    text: String,
}

/// `GET /console/jobs/{id}`.
pub async fn job_page(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Response {
    let job = match crate::api::visible_job(&state, &operator.0.caller, &id).await {
        Ok(job) => job,
        Err(problem) => return not_found(&operator, &problem),
    };
    let events = state.store.events(&job.id, 0).await.unwrap_or_default();
    let module = job.module.as_ref().map(|m| {
        format!(
            "/console/modules/{}/versions/{}?tenant={}",
            m.name, m.version, job.tenant
        )
    });
    page(
        StatusCode::OK,
        "job.html",
        minijinja::context! {
            page => "jobs", user => UserView::of(&operator.0),
            job => minijinja::context! {
                id => job.id.clone(), state => job.state.as_str(), terminal => job.state.is_terminal(),
                name => job.request["name"].as_str().unwrap_or_default(),
                version => job.request["version"].as_str().unwrap_or_default(),
                error => job.error.clone(), error_kind => job.error_kind.map(|k| k.as_str()), hint => job.hint_data.as_ref().map(crate::console::hints::render), module => module, created => utc(job.created_at),
                attempts => job.attempts,
            },
            stages => stages(&events, job.finished_at),
            events => events.iter().map(event_row).collect::<Vec<_>>(),
            last_seq => events.last().map_or(0, |e| e.seq),
            stream => format!("/v1/builder/jobs/{}/events", job.id),
        },
    )
}

fn stages(events: &[JobEvent], finished_at: Option<i64>) -> Vec<StageRow> {
    let starts: Vec<&JobEvent> = events.iter().filter(|e| e.kind == "stage").collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let end = starts.get(i + 1).map(|n| n.at).or(finished_at);
            StageRow {
                name: e.data["stage"].as_str().unwrap_or_default().to_string(),
                detail: e.data["detail"].as_str().unwrap_or_default().to_string(),
                seconds: end.map_or("running".into(), |end| {
                    format!("{:.1} s", (end - e.at) as f64 / 1000.0)
                }),
            }
        })
        .collect()
}

fn event_row(event: &JobEvent) -> EventRow {
    let d = &event.data;
    let text = match event.kind.as_str() {
        "state" => match d["error"].as_str() {
            Some(error) => format!("{}: {error}", d["state"].as_str().unwrap_or_default()),
            None => d["state"].as_str().unwrap_or_default().to_string(),
        },
        "stage" => format!(
            "{} {}",
            d["stage"].as_str().unwrap_or_default(),
            d["detail"].as_str().unwrap_or_default()
        ),
        "log" => d["line"].as_str().unwrap_or_default().to_string(),
        "warning" => format!(
            "{}#{}: {} [{}]",
            d["file"].as_str().unwrap_or_default(),
            d["pointer"].as_str().unwrap_or_default(),
            d["message"].as_str().unwrap_or_default(),
            d["kind"].as_str().unwrap_or_default()
        ),
        _ => d.to_string(),
    };
    EventRow {
        seq: event.seq,
        at: utc(event.at),
        kind: event.kind.clone(),
        text,
    }
}

/// `POST /console/jobs/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = operator.refusal_unless_csrf(form.csrf()) {
        return refused;
    }
    match crate::api::cancel_job(&state, &operator.0.caller, &id).await {
        Ok(_) => Redirect::to(&format!("/console/jobs/{id}")).into_response(),
        Err(problem) => not_found(&operator, &problem),
    }
}

fn not_found(operator: &Operator, problem: &Problem) -> Response {
    problem_page(&operator.0, "jobs.html", "jobs", problem)
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(super::utc(1_796_083_199_000), "2026-11-30 23:59:59 UTC");
    }
}
