-- Audit log of operator actions (httpapi/audit.go): who did what to which
-- target, how it ended, and from where. Append-only; read newest first,
-- for all tenants or one, possibly for one key. at is Unix microseconds.
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    at          INTEGER NOT NULL,
    key_id      TEXT NOT NULL DEFAULT '',
    tenant      TEXT NOT NULL DEFAULT '',
    role        TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    target      TEXT NOT NULL DEFAULT '',
    method      TEXT NOT NULL DEFAULT '',
    path        TEXT NOT NULL DEFAULT '',
    status      INTEGER NOT NULL,
    remote_addr TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    via         TEXT NOT NULL DEFAULT '',
    detail      TEXT
);

CREATE INDEX audit_log_newest ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_tenant ON audit_log (tenant, at DESC, id DESC);
CREATE INDEX audit_log_key ON audit_log (key_id, at DESC, id DESC);
