-- Jobs, tasks, agents and credentials. Unqualified names: the schema is the
-- connection's search_path.

CREATE TABLE tenants (
    name       text PRIMARY KEY,
    created_at timestamptz NOT NULL
);

CREATE TABLE jobs (
    id              text PRIMARY KEY,
    tenant          text NOT NULL,
    status          text NOT NULL,
    stage           text NOT NULL DEFAULT '',
    progress        double precision NOT NULL DEFAULT 0,
    spec            jsonb NOT NULL,
    idempotency_key text NOT NULL DEFAULT '',
    request_hash    text NOT NULL DEFAULT '',
    attempts        integer NOT NULL DEFAULT 0,
    error           jsonb,
    result          jsonb,
    result_key      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    finished_at     timestamptz
);

CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key) WHERE idempotency_key <> '';
-- Newest-first listing with keyset paging, overall and per tenant/status.
CREATE INDEX jobs_newest ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_tenant_newest ON jobs (tenant, created_at DESC, id DESC);
CREATE INDEX jobs_status_newest ON jobs (status, created_at DESC, id DESC);

CREATE TABLE tasks (
    id             text PRIMARY KEY,
    job_id         text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    ord            integer NOT NULL,
    tenant         text NOT NULL,
    kind           text NOT NULL,
    state          text NOT NULL,
    priority       integer NOT NULL,
    requires       jsonb NOT NULL DEFAULT '{}',
    attempt        integer NOT NULL DEFAULT 0,
    max_attempts   integer NOT NULL DEFAULT 0,
    run_at         timestamptz NOT NULL,
    token          bigint NOT NULL DEFAULT 0,
    agent_id       text NOT NULL DEFAULT '',
    lease_deadline timestamptz,
    stage          text NOT NULL DEFAULT '',
    progress       double precision NOT NULL DEFAULT 0,
    last_error     jsonb,
    result         jsonb,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE INDEX tasks_job ON tasks (job_id, ord);
-- The lease query walks this index in lease order and stops after a few rows,
-- however long the queue is; only queued rows are in it.
CREATE INDEX tasks_ready ON tasks (priority DESC, run_at, id) WHERE state = 'queued';
-- NextRunAt: the earliest queued run_at without scanning the queue.
CREATE INDEX tasks_queued_run_at ON tasks (run_at) WHERE state = 'queued';
-- Lease rescue and per-agent counts look only at leased rows.
CREATE INDEX tasks_leased_deadline ON tasks (lease_deadline) WHERE state = 'leased';
CREATE INDEX tasks_leased_agent ON tasks (agent_id) WHERE state = 'leased';

CREATE TABLE enrollments (
    id         text PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    labels     jsonb NOT NULL DEFAULT '{}',
    max_uses   integer NOT NULL DEFAULT 0,
    uses       integer NOT NULL DEFAULT 0,
    expires_at timestamptz,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE TABLE agents (
    id            text PRIMARY KEY,
    name          text NOT NULL DEFAULT '',
    hostname      text NOT NULL DEFAULT '',
    version       text NOT NULL DEFAULT '',
    token_hash    text NOT NULL UNIQUE,
    enrollment_id text NOT NULL DEFAULT '',
    capabilities  jsonb NOT NULL DEFAULT '{}',
    draining      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    revoked_at    timestamptz
);

CREATE TABLE api_keys (
    id         text PRIMARY KEY,
    tenant     text NOT NULL REFERENCES tenants (name),
    role       text NOT NULL,
    name       text NOT NULL DEFAULT '',
    hash       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz
);

CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at, id);

CREATE TABLE leaders (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);
