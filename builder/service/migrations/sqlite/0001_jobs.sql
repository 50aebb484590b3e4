-- Build jobs and their event history (SQLite).
CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    tenant TEXT NOT NULL,
    idempotency_key TEXT,
    request_digest TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT,
    error TEXT,
    module TEXT,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_state ON jobs (state);
CREATE TABLE job_events (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
