-- What the user could do about a failed job, as data (an `aip_hint::Hint`
-- in JSON): each front end words it in its own terms.
ALTER TABLE jobs ADD COLUMN error_hint TEXT;
-- The module a job registered, by name and version: a module's page finds
-- the job that built it through the index, not by scanning jobs.
ALTER TABLE jobs ADD COLUMN module_name TEXT;
ALTER TABLE jobs ADD COLUMN module_version TEXT;
CREATE INDEX jobs_module ON jobs (tenant, module_name, module_version);
