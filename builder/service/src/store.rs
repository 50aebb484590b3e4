//! Job state through sqlx's `Any` driver: SQLite (WAL, `DATA/jobs.db`) by
//! default, PostgreSQL with `--database postgres://…`. The same queries
//! run on both (numbered `$N` parameters, which SQLite also understands);
//! each has its own embedded migrations.

use std::path::PathBuf;

use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::{AnyPoolOptions, AnyRow};

use crate::ServiceError;
use crate::job::{FailureKind, JobFailure, ModuleOutcome};
pub use crate::job::{Inserted, Job, JobEvent, JobState};

/// SQLite migrations, embedded (`migrations/sqlite/`).
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
/// PostgreSQL migrations, embedded (`migrations/postgres/`).
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Where job state lives.
#[derive(Debug, Clone)]
pub enum Database {
    /// `jobs.db` in this data folder (SQLite, WAL).
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://user:password@host/db`).
    Postgres(String),
}

impl Database {
    /// Parses `--database`: a `postgres://` or `postgresql://` URL.
    pub fn postgres(url: &str) -> Result<Database, ServiceError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Database::Postgres(url.to_string()))
        } else {
            Err(ServiceError::Config(format!(
                "--database {}: not a postgres:// URL (without --database, jobs live in SQLite in the data folder)",
                redact(url)
            )))
        }
    }

    /// Where it is, without credentials (for messages and logs).
    pub fn display(&self) -> String {
        match self {
            Database::Sqlite(dir) => dir.join("jobs.db").display().to_string(),
            Database::Postgres(url) => redact(url),
        }
    }
}

/// `scheme://host/db` of a URL: user and password dropped.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{rest}")
        }
        None => "(not a URL)".to_string(),
    }
}

/// The job store.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

/// `'a', 'b'` for an SQL `IN` list of states (a closed set of literals).
fn states_sql(states: &[JobState]) -> String {
    states
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Store {
    /// Connects (creating `jobs.db` for SQLite) and runs the migrations.
    pub async fn open(database: &Database) -> Result<Store, ServiceError> {
        sqlx::any::install_default_drivers();
        let place = database.display();
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            ServiceError::Store(format!(
                "{what} {place}: {}",
                scrub(&e.to_string(), database)
            ))
        };
        let (url, migrator, connections) = match database {
            Database::Sqlite(dir) => (
                format!("sqlite://{}?mode=rwc", dir.join("jobs.db").display()),
                &SQLITE_MIGRATOR,
                4,
            ),
            Database::Postgres(url) => (url.clone(), &POSTGRES_MIGRATOR, 16),
        };
        let sqlite = matches!(database, Database::Sqlite(_));
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // WAL: readers never wait for the writer; FULL: a
                        // committed job survives power loss; busy_timeout:
                        // writers queue instead of failing.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA busy_timeout = 10000",
                            "PRAGMA foreign_keys = ON",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| fail("open", &e))?;
        migrator.run(&pool).await.map_err(|e| fail("migrate", &e))?;
        Ok(Store { pool })
    }

    /// Inserts a queued job, or returns the job that already holds this
    /// tenant's Idempotency-Key. One statement, no read-then-write
    /// transaction: the unique index decides which of two racing
    /// submissions wins (SQLite cannot upgrade a read transaction to a
    /// write one while another writer holds the lock; it fails instead of
    /// waiting).
    pub async fn insert(
        &self,
        job: &Job,
        idempotency_key: Option<&str>,
    ) -> Result<Inserted, ServiceError> {
        let inserted = sqlx::query(
            "INSERT INTO jobs (id, tenant, idempotency_key, request_digest, request, job_spec, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&job.id)
        .bind(&job.tenant)
        .bind(idempotency_key)
        .bind(&job.request_digest)
        .bind(job.request.to_string())
        .bind(job.spec.as_ref().map(to_json).transpose()?)
        .bind(JobState::Queued.as_str())
        .bind(job.created_at)
        .execute(&self.pool)
        .await;
        match (inserted, idempotency_key) {
            (Ok(_), _) => Ok(Inserted::New(job.clone())),
            // Another submission with the same key got in first.
            (Err(e), Some(key)) if is_unique_violation(&e) => {
                let existing = self
                    .find_idempotent(&job.tenant, key)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::Store(format!(
                            "the job holding Idempotency-Key {key} vanished"
                        ))
                    })?;
                Ok(Inserted::Existing(existing))
            }
            (Err(e), _) => Err(store_err(e)),
        }
    }

    /// The job that holds `tenant`'s Idempotency-Key `key`, if any.
    pub async fn find_idempotent(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<Job>, ServiceError> {
        let row = sqlx::query("SELECT * FROM jobs WHERE tenant = $1 AND idempotency_key = $2")
            .bind(tenant)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_err)?;
        row.map(|r| job_from_row(&r)).transpose()
    }

    /// A job by id.
    pub async fn get(&self, id: &str) -> Result<Option<Job>, ServiceError> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_err)?;
        row.map(|r| job_from_row(&r)).transpose()
    }

    /// One page of jobs, newest first: `tenant`'s (`None`: every tenant's),
    /// in `state` if given, created before the cursor `before`
    /// (`created_at` and id of the previous page's last job).
    pub async fn list(
        &self,
        tenant: Option<&str>,
        state: Option<JobState>,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<Job>, ServiceError> {
        let mut sql = String::from("SELECT * FROM jobs WHERE 1 = 1");
        let mut n = 0;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        if tenant.is_some() {
            sql.push_str(&format!(" AND tenant = {}", param()));
        }
        if state.is_some() {
            sql.push_str(&format!(" AND state = {}", param()));
        }
        if before.is_some() {
            let (a, b, c) = (param(), param(), param());
            sql.push_str(&format!(
                " AND (created_at < {a} OR (created_at = {b} AND id < {c}))"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT {}",
            param()
        ));
        let mut query = sqlx::query(&sql);
        if let Some(tenant) = tenant {
            query = query.bind(tenant);
        }
        if let Some(state) = state {
            query = query.bind(state.as_str());
        }
        if let Some((created_at, id)) = before {
            query = query.bind(created_at).bind(created_at).bind(id);
        }
        let rows = query
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(store_err)?;
        rows.iter().map(job_from_row).collect()
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

    /// Moves job `id` to `to` only while it is in one of `from` (a
    /// compare-and-set: of a cancel and a start racing, exactly one wins).
    /// Ending states set the end time. `true` when it moved.
    pub async fn transition(
        &self,
        id: &str,
        from: &[JobState],
        to: JobState,
        failure: Option<&JobFailure>,
    ) -> Result<bool, ServiceError> {
        let from = states_sql(from);
        let done = sqlx::query(&format!(
            "UPDATE jobs SET state = $1, error = COALESCE($2, error), error_kind = COALESCE($3, error_kind), \
             finished_at = CASE WHEN $1 IN ('succeeded', 'failed', 'cancelled') THEN $4 ELSE finished_at END \
             WHERE id = $5 AND state IN ({from})"
        ))
        .bind(to.as_str())
        .bind(failure.map(|f| f.message.as_str()))
        .bind(failure.map(|f| f.kind.as_str()))
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes job `id` for a build: `queued` (or `running`, for a job the
    /// service stopped during) becomes `running` with the next attempt
    /// number, which the build then holds. `None` when the job is no
    /// longer there to take (cancelled, ended).
    pub async fn start(&self, id: &str) -> Result<Option<i64>, ServiceError> {
        let row = sqlx::query(
            "UPDATE jobs SET state = 'running', started_at = $1, attempts = attempts + 1, stage = NULL \
             WHERE id = $2 AND state IN ('queued', 'running') RETURNING attempts",
        )
        .bind(now_ms())
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?;
        row.map(|r| r.try_get::<i64, _>("attempts"))
            .transpose()
            .map_err(store_err)
    }

    /// Records the outcome of attempt `attempt`, only if it still holds the
    /// job: a build that lost its job (cancelled, or taken by a later
    /// attempt) records nothing. `true` when recorded.
    pub async fn finish(
        &self,
        id: &str,
        attempt: i64,
        state: JobState,
        failure: Option<&JobFailure>,
        module: Option<&ModuleOutcome>,
    ) -> Result<bool, ServiceError> {
        let hint = failure
            .and_then(|f| f.hint.as_ref())
            .map(to_json)
            .transpose()?;
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, error = $2, error_hint = $3, error_kind = $4, module = $5, \
             module_name = $6, module_version = $7, finished_at = $8 \
             WHERE id = $9 AND state = 'running' AND attempts = $10",
        )
        .bind(state.as_str())
        .bind(failure.map(|f| f.message.as_str()))
        .bind(hint)
        .bind(failure.map(|f| f.kind.as_str()))
        .bind(module.map(to_json).transpose()?)
        .bind(module.map(|m| m.name.clone()))
        .bind(module.map(|m| m.version.clone()))
        .bind(now_ms())
        .bind(id)
        .bind(attempt)
        .execute(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(done.rows_affected() == 1)
    }

    /// The newest job of `tenant` that built module `name` `version` and
    /// succeeded.
    pub async fn built_by(
        &self,
        tenant: &str,
        name: &str,
        version: &str,
    ) -> Result<Option<String>, ServiceError> {
        let row = sqlx::query(
            "SELECT id FROM jobs WHERE tenant = $1 AND module_name = $2 AND module_version = $3 \
             AND state = 'succeeded' ORDER BY finished_at DESC LIMIT 1",
        )
        .bind(tenant)
        .bind(name)
        .bind(version)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?;
        row.map(|r| r.try_get::<String, _>("id"))
            .transpose()
            .map_err(store_err)
    }

    /// Records the stage attempt `attempt` of job `id` entered; `false`
    /// (nothing written) when that attempt no longer holds the job.
    pub async fn set_stage(
        &self,
        id: &str,
        attempt: i64,
        stage: &str,
    ) -> Result<bool, ServiceError> {
        let done = sqlx::query(
            "UPDATE jobs SET stage = $1 WHERE id = $2 AND state = 'running' AND attempts = $3",
        )
        .bind(stage)
        .bind(id)
        .bind(attempt)
        .execute(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(done.rows_affected() == 1)
    }

    /// Appends an event; returns it with its sequence number.
    pub async fn append_event(
        &self,
        job_id: &str,
        kind: &str,
        data: serde_json::Value,
    ) -> Result<JobEvent, ServiceError> {
        let at = now_ms();
        let text = data.to_string();
        // The next number is taken inside the insert; two writers racing
        // for the same number (possible on PostgreSQL) collide on the
        // primary key, and the loser takes the next one.
        let mut tries = 0;
        let row = loop {
            let inserted = sqlx::query(
                "INSERT INTO job_events (job_id, seq, at, kind, data) \
                 VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM job_events WHERE job_id = $1), $2, $3, $4) RETURNING seq",
            )
            .bind(job_id)
            .bind(at)
            .bind(kind)
            .bind(&text)
            .fetch_one(&self.pool)
            .await;
            match inserted {
                Err(e) if is_unique_violation(&e) && tries < 5 => tries += 1,
                other => break other.map_err(store_err)?,
            }
        };
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
            "SELECT seq, at, kind, data FROM job_events WHERE job_id = $1 AND seq > $2 ORDER BY seq",
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

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// An error message with the database URL's credentials removed.
fn scrub(message: &str, database: &Database) -> String {
    match database {
        Database::Postgres(url) => message.replace(url.as_str(), &redact(url)),
        Database::Sqlite(_) => message.to_string(),
    }
}

/// A value as the JSON text a column holds.
fn to_json(value: &impl serde::Serialize) -> Result<String, ServiceError> {
    serde_json::to_string(value).map_err(|e| ServiceError::Store(format!("cannot store {e}")))
}

fn job_from_row(r: &AnyRow) -> Result<Job, ServiceError> {
    let json = |col: &str| -> Result<Option<serde_json::Value>, ServiceError> {
        let text: Option<String> = r.try_get(col).map_err(store_err)?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    };
    let state: String = r.try_get("state").map_err(store_err)?;
    let hint_data: Option<aip_hint::Hint> =
        json("error_hint")?.and_then(|h| serde_json::from_value(h).ok());
    let error_kind: Option<String> = r.try_get("error_kind").map_err(store_err)?;
    Ok(Job {
        id: r.try_get("id").map_err(store_err)?,
        tenant: r.try_get("tenant").map_err(store_err)?,
        state: JobState::parse(&state),
        stage: r.try_get("stage").map_err(store_err)?,
        error: r.try_get("error").map_err(store_err)?,
        error_kind: error_kind.as_deref().and_then(FailureKind::parse),
        hint: hint_data.as_ref().map(crate::hints::render),
        hint_data,
        module: json("module")?.and_then(|m| serde_json::from_value(m).ok()),
        request: json("request")?.unwrap_or(serde_json::Value::Null),
        spec: json("job_spec")?.and_then(|s| serde_json::from_value(s).ok()),
        created_at: r.try_get("created_at").map_err(store_err)?,
        started_at: r.try_get("started_at").map_err(store_err)?,
        finished_at: r.try_get("finished_at").map_err(store_err)?,
        attempts: r.try_get("attempts").map_err(store_err)?,
        request_digest: r.try_get("request_digest").map_err(store_err)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str) -> Job {
        Job {
            id: id.into(),
            tenant: "acme".into(),
            state: JobState::Queued,
            stage: None,
            error: None,
            error_kind: None,
            hint: None,
            hint_data: None,
            module: None,
            request: serde_json::json!({"name": "m"}),
            spec: None,
            created_at: now_ms(),
            started_at: None,
            finished_at: None,
            attempts: 0,
            request_digest: "d".into(),
        }
    }

    #[tokio::test]
    async fn jobs_move_once_to_an_end_and_events_number_themselves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&Database::Sqlite(dir.path().to_path_buf()))
            .await
            .expect("open");
        assert!(matches!(
            store.insert(&job("j1"), Some("k")).await.expect("insert"),
            Inserted::New(_)
        ));
        // The same key again is the same job.
        match store.insert(&job("j2"), Some("k")).await.expect("insert") {
            Inserted::Existing(existing) => assert_eq!(existing.id, "j1"),
            Inserted::New(_) => panic!("a second job for one Idempotency-Key"),
        }
        let attempt = store.start("j1").await.expect("start").expect("taken");
        assert_eq!(attempt, 1);
        let boom = JobFailure {
            message: "boom".into(),
            kind: FailureKind::User,
            hint: Some(aip_hint::Hint::RaiseOperationLimit { limit: 3 }),
        };
        assert!(
            store
                .set_stage("j1", attempt, "compile")
                .await
                .expect("stage")
        );
        // A stale attempt records nothing.
        assert!(
            !store
                .set_stage("j1", attempt + 1, "package")
                .await
                .expect("stale")
        );
        assert!(
            store
                .finish("j1", attempt, JobState::Failed, Some(&boom), None)
                .await
                .expect("fail")
        );
        // Ended: never moved again, by a build or a cancel.
        assert!(
            !store
                .finish("j1", attempt, JobState::Succeeded, None, None)
                .await
                .expect("noop")
        );
        assert!(
            !store
                .transition(
                    "j1",
                    &[JobState::Queued, JobState::Running],
                    JobState::Cancelled,
                    None
                )
                .await
                .expect("noop")
        );
        assert_eq!(store.start("j1").await.expect("start"), None);
        let j1 = store.get("j1").await.expect("get").expect("j1");
        assert_eq!(
            (
                j1.state,
                j1.error.as_deref(),
                j1.attempts,
                j1.stage.as_deref()
            ),
            (JobState::Failed, Some("boom"), 1, Some("compile"))
        );
        assert!(j1.started_at.is_some() && j1.finished_at.is_some());
        // The hint is kept as data, and worded in the API's terms; the
        // failure keeps whose it is.
        assert_eq!(j1.hint_data, boom.hint);
        assert_eq!(j1.error_kind, Some(FailureKind::User));
        assert!(
            j1.hint
                .as_deref()
                .is_some_and(|h| h.contains("max_operations")),
            "{:?}",
            j1.hint
        );
        for i in 0..3 {
            let e = store
                .append_event("j1", "log", serde_json::json!({"line": i}))
                .await
                .expect("event");
            assert_eq!(e.seq, i + 1);
        }
        let later = store.events("j1", 1).await.expect("events");
        assert_eq!(later.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(
            store.count_by_state().await.expect("count"),
            [(JobState::Failed, 1)]
        );
    }

    #[tokio::test]
    async fn a_module_names_the_job_that_built_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&Database::Sqlite(dir.path().to_path_buf()))
            .await
            .expect("open");
        for (id, version) in [("j1", "1.0.0"), ("j2", "2.0.0")] {
            store.insert(&job(id), None).await.expect("insert");
            let attempt = store.start(id).await.expect("start").expect("taken");
            let module = ModuleOutcome {
                name: "m".into(),
                version: version.into(),
                runtime: "wasm".into(),
                artifact_digest: "sha256:0".into(),
                artifact_size: 1,
                intents: 1,
                spec_digest: "sha256:1".into(),
                warnings: Vec::new(),
                pushed: None,
                announced: None,
            };
            assert!(
                store
                    .finish(id, attempt, JobState::Succeeded, None, Some(&module))
                    .await
                    .expect("finish")
            );
        }
        let built_by = |tenant: &'static str, version: &'static str| {
            let store = store.clone();
            async move { store.built_by(tenant, "m", version).await.expect("query") }
        };
        assert_eq!(built_by("acme", "2.0.0").await.as_deref(), Some("j2"));
        assert_eq!(built_by("acme", "1.0.0").await.as_deref(), Some("j1"));
        assert_eq!(built_by("acme", "3.0.0").await, None);
        assert_eq!(built_by("globex", "1.0.0").await, None, "another tenant's");
    }

    #[test]
    fn urls_are_shown_without_credentials() {
        let db = Database::postgres("postgres://aip:s3cret@db.internal:5432/aip").expect("url");
        assert_eq!(db.display(), "postgres://db.internal:5432/aip");
        let err = Database::postgres("mysql://u:s3cret@h/db").expect_err("refused");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
