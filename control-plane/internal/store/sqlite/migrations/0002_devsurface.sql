-- The developer-facing surface: the job event log (server-sent events, resumable
-- with Last-Event-ID on any replica), per-job metadata, the result cache, and the
-- webhook outbox. Times are microseconds since the Unix epoch.

CREATE TABLE job_events (
    job_id     TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    status     TEXT NOT NULL,
    stage      TEXT NOT NULL,
    progress   REAL NOT NULL,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE job_meta (
    job_id      TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    cache_key   TEXT NOT NULL DEFAULT '',
    traceparent TEXT NOT NULL DEFAULT ''
);

CREATE TABLE result_cache (
    tenant     TEXT NOT NULL,
    cache_key  TEXT NOT NULL,
    job_id     TEXT NOT NULL,
    result_key TEXT NOT NULL,
    result     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, cache_key)
);

CREATE TABLE webhook_secrets (
    tenant     TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, secret)
);

CREATE TABLE webhook_endpoints (
    id         TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL,
    url        TEXT NOT NULL,
    events     TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    tenant          TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL DEFAULT '',
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    job_id          TEXT NOT NULL,
    url             TEXT NOT NULL,
    payload         BLOB NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    window_start    INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_newest ON webhook_deliveries (tenant, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_job ON webhook_deliveries (job_id);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL,
    n           INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, n)
);
