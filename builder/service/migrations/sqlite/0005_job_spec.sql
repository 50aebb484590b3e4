-- The job as resolved when it was accepted (every default decided): what
-- the build reads, instead of re-parsing the request.
ALTER TABLE jobs ADD COLUMN job_spec TEXT;
-- Whose a failure is: `user` (the request or spec must change) or
-- `internal` (the service or a registry failed).
ALTER TABLE jobs ADD COLUMN error_kind TEXT;
