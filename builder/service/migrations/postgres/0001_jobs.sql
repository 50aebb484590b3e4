-- Build jobs and their event history (PostgreSQL; the same shape as
-- migrations/sqlite/0001_jobs.sql, with 64-bit integers spelled BIGINT).
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
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_state ON jobs (state);
CREATE TABLE job_events (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
