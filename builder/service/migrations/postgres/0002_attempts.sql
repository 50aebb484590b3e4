-- How many times a job has started running: a job that keeps stopping the
-- service is failed after a few attempts instead of resumed forever.
ALTER TABLE jobs ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
