-- Fair share of ready work across tenants. weight scales a tenant's share of
-- the fleet's running slots (default 1); max_running caps its leased tasks
-- (0: no cap); served is stamped from tenant_served at each lease, so ties
-- go to the tenant served least recently.

ALTER TABLE tenants ADD COLUMN weight double precision NOT NULL DEFAULT 1 CHECK (weight > 0);
ALTER TABLE tenants ADD COLUMN max_running integer NOT NULL DEFAULT 0 CHECK (max_running >= 0);
ALTER TABLE tenants ADD COLUMN served bigint NOT NULL DEFAULT 0;
CREATE SEQUENCE tenant_served;

-- The lease skips from one (tenant, kind) to the next through this index,
-- then reads each one's best few ready tasks: its cost follows the number of
-- tenants, not the length of the queue.
CREATE INDEX tasks_ready_tenant ON tasks (tenant, kind, priority DESC, run_at, id) WHERE state = 'queued';
-- Running tasks per tenant, from the leased rows only.
CREATE INDEX tasks_leased_tenant ON tasks (tenant) WHERE state = 'leased';
