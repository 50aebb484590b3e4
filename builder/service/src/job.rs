//! A build job as the service records it: its state machine, its row and
//! its events (stored by `store.rs`).

use serde::{Deserialize, Serialize};

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted, waiting for a build slot.
    Queued,
    /// Building.
    Running,
    /// Registered a module.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Cancelled before it ended.
    Cancelled,
}

impl JobState {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Every state, in the order a job goes through them.
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// The state named `text`, if it is one.
    pub fn from_name(text: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub(crate) fn parse(text: &str) -> JobState {
        match text {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "cancelled" => JobState::Cancelled,
            _ => JobState::Failed,
        }
    }

    /// Whether the job has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// A job as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Job {
    /// Its id.
    pub id: String,
    /// Owner.
    pub tenant: String,
    /// State.
    pub state: JobState,
    /// The stage running or last run.
    pub stage: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// What the caller could do about the failure, in the API's terms.
    pub hint: Option<String>,
    /// The same hint as data, for front ends that word it in their own.
    #[serde(skip)]
    pub hint_data: Option<aip_hint::Hint>,
    /// The registered module (`name`, `version`, `artifact_digest`, ...).
    #[schema(value_type = Option<Object>)]
    pub module: Option<serde_json::Value>,
    /// The accepted request (the spec itself is kept beside the job).
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// When it started running.
    pub started_at: Option<i64>,
    /// When it ended.
    pub finished_at: Option<i64>,
    /// How many times it started running (more than one: it was resumed
    /// after the service stopped).
    pub attempts: i64,
    #[serde(skip)]
    pub(crate) request_digest: String,
}

/// Why a job failed: what went wrong and, as data, what the user could do
/// about it (each front end words the hint in its own terms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// What went wrong.
    pub message: String,
    /// What the user could do about it.
    pub hint: Option<aip_hint::Hint>,
}

impl JobFailure {
    /// A failure with no hint.
    pub fn new(message: impl Into<String>) -> JobFailure {
        JobFailure {
            message: message.into(),
            hint: None,
        }
    }
}

/// One event of a job's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobEvent {
    /// 1, 2, 3... per job.
    pub seq: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// `stage`, `log`, `warning`, `state`.
    pub kind: String,
    /// The event's data.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// What an insert did.
pub enum Inserted {
    /// A new job.
    New(Job),
    /// A job with the same tenant and Idempotency-Key existed.
    Existing(Job),
}
