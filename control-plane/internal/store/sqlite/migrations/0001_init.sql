-- Jobs, tasks, agents and credentials. Times are INTEGER microseconds since
-- the Unix epoch (exact, and ordered as numbers); JSON is TEXT.

CREATE TABLE tenants (
    name       TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    tenant          TEXT NOT NULL,
    status          TEXT NOT NULL,
    stage           TEXT NOT NULL DEFAULT '',
    progress        REAL NOT NULL DEFAULT 0,
    spec            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL DEFAULT '',
    request_hash    TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    result          TEXT,
    result_key      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finished_at     INTEGER
);

CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX jobs_newest ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_tenant_newest ON jobs (tenant, created_at DESC, id DESC);
CREATE INDEX jobs_status_newest ON jobs (status, created_at DESC, id DESC);

CREATE TABLE tasks (
    id             TEXT PRIMARY KEY,
    job_id         TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    ord            INTEGER NOT NULL,
    tenant         TEXT NOT NULL,
    kind           TEXT NOT NULL,
    state          TEXT NOT NULL,
    priority       INTEGER NOT NULL,
    requires       TEXT NOT NULL DEFAULT '{}',
    attempt        INTEGER NOT NULL DEFAULT 0,
    max_attempts   INTEGER NOT NULL DEFAULT 0,
    run_at         INTEGER NOT NULL,
    token          INTEGER NOT NULL DEFAULT 0,
    agent_id       TEXT NOT NULL DEFAULT '',
    lease_deadline INTEGER,
    stage          TEXT NOT NULL DEFAULT '',
    progress       REAL NOT NULL DEFAULT 0,
    last_error     TEXT,
    result         TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE INDEX tasks_job ON tasks (job_id, ord);
-- Lease order over queued tasks only.
CREATE INDEX tasks_ready ON tasks (priority DESC, run_at, id) WHERE state = 'queued';
CREATE INDEX tasks_queued_run_at ON tasks (run_at) WHERE state = 'queued';
CREATE INDEX tasks_leased_deadline ON tasks (lease_deadline) WHERE state = 'leased';
CREATE INDEX tasks_leased_agent ON tasks (agent_id) WHERE state = 'leased';

CREATE TABLE enrollments (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    labels     TEXT NOT NULL DEFAULT '{}',
    max_uses   INTEGER NOT NULL DEFAULT 0,
    uses       INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE agents (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL DEFAULT '',
    hostname      TEXT NOT NULL DEFAULT '',
    version       TEXT NOT NULL DEFAULT '',
    token_hash    TEXT NOT NULL UNIQUE,
    enrollment_id TEXT NOT NULL DEFAULT '',
    capabilities  TEXT NOT NULL DEFAULT '{}',
    draining      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    revoked_at    INTEGER
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL REFERENCES tenants (name),
    role       TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    hash       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);

CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at, id);

CREATE TABLE leaders (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
