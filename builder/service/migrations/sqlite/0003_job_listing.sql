-- The console's jobs list: a tenant's jobs newest first, paged by
-- (created_at, id).
CREATE INDEX jobs_tenant_created ON jobs (tenant, created_at, id);
