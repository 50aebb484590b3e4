//! Job state in SQLite (WAL), through sqlx, with embedded migrations.

use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::ServiceError;

/// The migrations, embedded (`migrations/sqlite/`).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

    fn parse(text: &str) -> JobState {
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
#[derive(Debug, Clone, Serialize)]
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
    /// The registered module (`name`, `version`, `artifact_digest`, ...).
    pub module: Option<serde_json::Value>,
    /// The accepted request (the spec itself is kept beside the job).
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

/// One event of a job's history.
#[derive(Debug, Clone, Serialize)]
pub struct JobEvent {
    /// 1, 2, 3... per job.
    pub seq: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// `stage`, `log`, `warning`, `state`.
    pub kind: String,
    /// The event's data.
    pub data: serde_json::Value,
}

/// What an insert did.
pub enum Inserted {
    /// A new job.
    New(Job),
    /// A job with the same tenant and Idempotency-Key existed.
    Existing(Job),
}

/// The job store.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating) `data_dir/jobs.db` and runs the migrations.
    pub async fn open(data_dir: &Path) -> Result<Store, ServiceError> {
        let path = data_dir.join("jobs.db");
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| ServiceError::Store(format!("{}: {e}", path.display())))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| ServiceError::Store(format!("open {}: {e}", path.display())))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| ServiceError::Store(format!("migrate {}: {e}", path.display())))?;
        Ok(Store { pool })
    }

    /// Inserts a queued job, or returns the job that already holds this
    /// tenant's Idempotency-Key.
    pub async fn insert(
        &self,
        job: &Job,
        idempotency_key: Option<&str>,
    ) -> Result<Inserted, ServiceError> {
        let mut tx = self.pool.begin().await.map_err(store_err)?;
        if let Some(key) = idempotency_key {
            let row = sqlx::query("SELECT id FROM jobs WHERE tenant = ? AND idempotency_key = ?")
                .bind(&job.tenant)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_err)?;
            if let Some(row) = row {
                let id: String = row.try_get("id").map_err(store_err)?;
                drop(tx);
                let existing = self
                    .get(&id)
                    .await?
                    .ok_or_else(|| ServiceError::Store(format!("job {id} vanished")))?;
                return Ok(Inserted::Existing(existing));
            }
        }
        sqlx::query(
            "INSERT INTO jobs (id, tenant, idempotency_key, request_digest, request, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&job.id)
        .bind(&job.tenant)
        .bind(idempotency_key)
        .bind(&job.request_digest)
        .bind(job.request.to_string())
        .bind(JobState::Queued.as_str())
        .bind(job.created_at)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        Ok(Inserted::New(job.clone()))
    }

    /// The job that holds `tenant`'s Idempotency-Key `key`, if any.
    pub async fn find_idempotent(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<Job>, ServiceError> {
        let row = sqlx::query("SELECT * FROM jobs WHERE tenant = ? AND idempotency_key = ?")
            .bind(tenant)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_err)?;
        row.map(|r| job_from_row(&r)).transpose()
    }

    /// A job by id.
    pub async fn get(&self, id: &str) -> Result<Option<Job>, ServiceError> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_err)?;
        row.map(|r| job_from_row(&r)).transpose()
    }

    /// Jobs that have not ended (for recovery after a restart).
    pub async fn unfinished(&self) -> Result<Vec<Job>, ServiceError> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        rows.iter().map(job_from_row).collect()
    }

    /// Moves a job to `state` (and `stage`); sets start and end times.
    /// A job that has ended is never moved again: returns `false` then.
    pub async fn set_state(
        &self,
        id: &str,
        state: JobState,
        error: Option<&str>,
        module: Option<&serde_json::Value>,
    ) -> Result<bool, ServiceError> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET state = ?, error = COALESCE(?, error), module = COALESCE(?, module), \
             started_at = CASE WHEN ? = 'running' THEN ? ELSE started_at END, \
             attempts = attempts + CASE WHEN ? = 'running' THEN 1 ELSE 0 END, \
             stage = CASE WHEN ? = 'running' THEN NULL ELSE stage END, \
             finished_at = CASE WHEN ? IN ('succeeded', 'failed', 'cancelled') THEN ? ELSE finished_at END \
             WHERE id = ? AND state NOT IN ('succeeded', 'failed', 'cancelled')",
        )
        .bind(state.as_str())
        .bind(error)
        .bind(module.map(ToString::to_string))
        .bind(state.as_str())
        .bind(now)
        .bind(state.as_str())
        .bind(state.as_str())
        .bind(state.as_str())
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the stage a running job is in.
    pub async fn set_stage(&self, id: &str, stage: &str) -> Result<(), ServiceError> {
        sqlx::query("UPDATE jobs SET stage = ? WHERE id = ?")
            .bind(stage)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(store_err)?;
        Ok(())
    }

    /// Appends an event; returns it with its sequence number.
    pub async fn append_event(
        &self,
        job_id: &str,
        kind: &str,
        data: serde_json::Value,
    ) -> Result<JobEvent, ServiceError> {
        let at = now_ms();
        let row = sqlx::query(
            "INSERT INTO job_events (job_id, seq, at, kind, data) \
             VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM job_events WHERE job_id = ?), ?, ?, ?) RETURNING seq",
        )
        .bind(job_id)
        .bind(job_id)
        .bind(at)
        .bind(kind)
        .bind(data.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?;
        let seq: i64 = row.try_get("seq").map_err(store_err)?;
        Ok(JobEvent {
            seq,
            at,
            kind: kind.to_string(),
            data,
        })
    }

    /// A job's events after `after` (0: all).
    pub async fn events(&self, job_id: &str, after: i64) -> Result<Vec<JobEvent>, ServiceError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, data FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq",
        )
        .bind(job_id)
        .bind(after)
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get("data").map_err(store_err)?;
                Ok(JobEvent {
                    seq: r.try_get("seq").map_err(store_err)?,
                    at: r.try_get("at").map_err(store_err)?,
                    kind: r.try_get("kind").map_err(store_err)?,
                    data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)),
                })
            })
            .collect()
    }

    /// How many jobs are in each state.
    pub async fn count_by_state(&self) -> Result<Vec<(JobState, i64)>, ServiceError> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await
            .map_err(store_err)?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("state").map_err(store_err)?;
                Ok((JobState::parse(&state), r.try_get("n").map_err(store_err)?))
            })
            .collect()
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

fn store_err(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Store(e.to_string())
}

fn job_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<Job, ServiceError> {
    let json = |col: &str| -> Result<Option<serde_json::Value>, ServiceError> {
        let text: Option<String> = r.try_get(col).map_err(store_err)?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    };
    let state: String = r.try_get("state").map_err(store_err)?;
    Ok(Job {
        id: r.try_get("id").map_err(store_err)?,
        tenant: r.try_get("tenant").map_err(store_err)?,
        state: JobState::parse(&state),
        stage: r.try_get("stage").map_err(store_err)?,
        error: r.try_get("error").map_err(store_err)?,
        module: json("module")?,
        request: json("request")?.unwrap_or(serde_json::Value::Null),
        created_at: r.try_get("created_at").map_err(store_err)?,
        started_at: r.try_get("started_at").map_err(store_err)?,
        finished_at: r.try_get("finished_at").map_err(store_err)?,
        attempts: r.try_get("attempts").map_err(store_err)?,
        request_digest: r.try_get("request_digest").map_err(store_err)?,
    })
}
