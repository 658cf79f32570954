-- Fair share of ready work across tenants. weight scales a tenant's share of
-- the fleet's running slots (default 1); max_running caps its leased tasks
-- (0: no cap); served grows at each lease, so ties go to the tenant served
-- least recently.

ALTER TABLE tenants ADD COLUMN weight REAL NOT NULL DEFAULT 1 CHECK (weight > 0);
ALTER TABLE tenants ADD COLUMN max_running INTEGER NOT NULL DEFAULT 0 CHECK (max_running >= 0);
ALTER TABLE tenants ADD COLUMN served INTEGER NOT NULL DEFAULT 0;

-- Distinct (tenant, kind) by skip scan, then each one's best ready tasks.
CREATE INDEX tasks_ready_tenant ON tasks (tenant, kind, priority DESC, run_at, id) WHERE state = 'queued';
CREATE INDEX tasks_leased_tenant ON tasks (tenant) WHERE state = 'leased';
