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
    /// Whose the failure is: `user` (the request or the spec must change)
    /// or `internal` (the service or a registry failed: retry, or report
    /// it).
    pub error_kind: Option<FailureKind>,
    /// What the caller could do about the failure, in the API's terms.
    pub hint: Option<String>,
    /// The same hint as data, for front ends that word it in their own.
    #[serde(skip)]
    pub hint_data: Option<aip_hint::Hint>,
    /// The registered module, where it was pushed and announced.
    pub module: Option<ModuleOutcome>,
    /// The accepted request (the spec itself is kept beside the job).
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    /// What the job builds, resolved when it was accepted (`None` for a
    /// job accepted before jobs kept it).
    #[serde(skip)]
    pub(crate) spec: Option<crate::job_spec::JobSpec>,
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

/// Whose a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The request or the spec must change (or the user stopped it).
    User,
    /// The service, its machine or a registry failed: retry, or report it.
    Internal,
}

impl FailureKind {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::User => "user",
            FailureKind::Internal => "internal",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<FailureKind> {
        match text {
            "user" => Some(FailureKind::User),
            "internal" => Some(FailureKind::Internal),
            _ => None,
        }
    }
}

/// Why a job failed: what went wrong, whose failure it is and, as data,
/// what the user could do about it (each front end words the hint in its
/// own terms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// What went wrong.
    pub message: String,
    /// Whose failure it is.
    pub kind: FailureKind,
    /// What the user could do about it.
    pub hint: Option<aip_hint::Hint>,
}

impl JobFailure {
    /// A failure the request or spec caused, with no hint.
    pub fn user(message: impl Into<String>) -> JobFailure {
        JobFailure {
            message: message.into(),
            kind: FailureKind::User,
            hint: None,
        }
    }

    /// A failure of the service or what it depends on, with no hint.
    pub fn internal(message: impl Into<String>) -> JobFailure {
        JobFailure {
            message: message.into(),
            kind: FailureKind::Internal,
            hint: None,
        }
    }
}

/// What a successful build registered, and what became of it after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModuleOutcome {
    /// Module name.
    pub name: String,
    /// Module version.
    pub version: String,
    /// `wasm` or `grpc`.
    pub runtime: String,
    /// The signed artifact manifest's digest.
    pub artifact_digest: String,
    /// The component's or executable's size in bytes.
    pub artifact_size: u64,
    /// How many intents (operations) it serves.
    pub intents: usize,
    /// Digest of the spec it was built from.
    pub spec_digest: String,
    /// What ingest repaired in the spec.
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<aip_ir::SpecWarning>,
    /// Where it was pushed, when the job asked for a push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed: Option<Pushed>,
    /// How it was announced, when the service announces on NATS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announced: Option<Announced>,
}

impl ModuleOutcome {
    /// What `built` registered.
    pub fn of(built: &aip_pipeline::BuiltModule) -> ModuleOutcome {
        let manifest = &built.manifest;
        ModuleOutcome {
            name: manifest.metadata.name.clone(),
            version: manifest.metadata.version.clone(),
            runtime: manifest.runtime.kind.clone(),
            artifact_digest: manifest.artifact.digest.clone(),
            artifact_size: built.artifact_size,
            intents: manifest.intents.len(),
            spec_digest: manifest.metadata.source.digest.clone(),
            warnings: built.warnings.clone(),
            pushed: None,
            announced: None,
        }
    }
}

/// Where a module was pushed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Pushed {
    /// `REGISTRY/REPO@DIGEST`.
    pub reference: String,
    /// The tags set.
    pub tags: Vec<String>,
    /// The cosign signature's tag.
    pub signature_tag: String,
}

/// How a module was announced on NATS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Announced {
    /// The CloudEvent's id.
    pub event_id: String,
    /// The bundle's Object Store name.
    pub object: String,
    /// The bundle's digest.
    pub digest: String,
}

/// Why a job did not end well: the failure, and the module if one was
/// registered before it (a failed push or announcement leaves the module
/// registered, and named in the job).
#[derive(Debug, Clone, PartialEq)]
pub struct JobError {
    /// What went wrong.
    pub failure: JobFailure,
    /// The module registered before the failure.
    pub module: Option<ModuleOutcome>,
}

impl From<JobFailure> for JobError {
    fn from(failure: JobFailure) -> JobError {
        JobError {
            failure,
            module: None,
        }
    }
}

/// An event of a job's history, as the runner emits it; stored and sent
/// as its kind (`state`, `stage`, `log`, `warning`) and its data.
#[derive(Debug, Clone, PartialEq)]
pub enum JobUpdate {
    /// The job's state changed.
    State {
        /// The new state.
        state: JobState,
        /// Why it failed.
        failure: Option<JobFailure>,
        /// What it registered.
        module: Option<Box<ModuleOutcome>>,
    },
    /// A stage started.
    Stage {
        /// Its name.
        stage: String,
        /// What it does (server paths scrubbed).
        detail: String,
    },
    /// A line of output.
    Log {
        /// The line (server paths scrubbed).
        line: String,
    },
    /// A spec defect ingest repaired.
    Warning {
        /// The repair's kind.
        kind: String,
        /// The spec file (scrubbed).
        file: String,
        /// Where in it.
        pointer: String,
        /// What was done.
        message: String,
        /// The whole warning as one line.
        line: String,
    },
}

impl JobUpdate {
    /// A change of state with nothing more to say.
    pub fn state(state: JobState) -> JobUpdate {
        JobUpdate::State {
            state,
            failure: None,
            module: None,
        }
    }

    /// The stored kind.
    pub fn kind(&self) -> &'static str {
        match self {
            JobUpdate::State { .. } => "state",
            JobUpdate::Stage { .. } => "stage",
            JobUpdate::Log { .. } => "log",
            JobUpdate::Warning { .. } => "warning",
        }
    }

    /// The stored data.
    pub fn data(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            JobUpdate::State {
                state,
                failure: None,
                module: None,
            } if !state.is_terminal() => json!({ "state": state }),
            JobUpdate::State {
                state,
                failure,
                module,
            } => json!({
                "state": state,
                "error": failure.as_ref().map(|f| &f.message),
                "error_kind": failure.as_ref().map(|f| f.kind),
                "hint": failure.as_ref().and_then(|f| f.hint.as_ref()).map(crate::hints::render),
                "module": module,
            }),
            JobUpdate::Stage { stage, detail } => json!({ "stage": stage, "detail": detail }),
            JobUpdate::Log { line } => json!({ "line": line }),
            JobUpdate::Warning {
                kind,
                file,
                pointer,
                message,
                line,
            } => json!({
                "kind": kind, "file": file, "pointer": pointer, "message": message, "line": line,
            }),
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
