-- The developer-facing surface: the job event log (server-sent events, resumable
-- with Last-Event-ID on any replica), per-job metadata, the result cache, and the
-- webhook outbox.

CREATE TABLE job_events (
    job_id     text NOT NULL,
    seq        bigint NOT NULL,
    status     text NOT NULL,
    stage      text NOT NULL,
    progress   double precision NOT NULL,
    data       jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE job_meta (
    job_id      text PRIMARY KEY,
    tenant      text NOT NULL,
    cache_key   text NOT NULL DEFAULT '',
    traceparent text NOT NULL DEFAULT ''
);

CREATE TABLE result_cache (
    tenant     text NOT NULL,
    cache_key  text NOT NULL,
    job_id     text NOT NULL,
    result_key text NOT NULL,
    result     jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, cache_key)
);

CREATE TABLE webhook_secrets (
    tenant     text NOT NULL,
    secret     text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, secret)
);

CREATE TABLE webhook_endpoints (
    id         text PRIMARY KEY,
    tenant     text NOT NULL,
    url        text NOT NULL,
    events     jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant);

CREATE TABLE webhook_deliveries (
    id              text PRIMARY KEY,
    tenant          text NOT NULL,
    endpoint_id     text NOT NULL DEFAULT '',
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    job_id          text NOT NULL,
    url             text NOT NULL,
    payload         bytea NOT NULL,
    status          text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    window_start    timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_newest ON webhook_deliveries (tenant, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_job ON webhook_deliveries (job_id);

CREATE TABLE webhook_attempts (
    delivery_id text NOT NULL,
    n           integer NOT NULL,
    at          timestamptz NOT NULL,
    status_code integer NOT NULL,
    error       text NOT NULL DEFAULT '',
    duration_ms bigint NOT NULL,
    PRIMARY KEY (delivery_id, n)
);
