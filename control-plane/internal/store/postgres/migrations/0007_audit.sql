-- Audit log of operator actions (httpapi/audit.go): who did what to which
-- target, how it ended, and from where. Append-only; read newest first,
-- for all tenants or one, possibly for one key.
CREATE TABLE audit_log (
    id          text PRIMARY KEY,
    at          timestamptz NOT NULL,
    key_id      text NOT NULL DEFAULT '',
    tenant      text NOT NULL DEFAULT '',
    role        text NOT NULL DEFAULT '',
    action      text NOT NULL,
    target      text NOT NULL DEFAULT '',
    method      text NOT NULL DEFAULT '',
    path        text NOT NULL DEFAULT '',
    status      integer NOT NULL,
    remote_addr text NOT NULL DEFAULT '',
    user_agent  text NOT NULL DEFAULT '',
    via         text NOT NULL DEFAULT '',
    detail      jsonb
);

CREATE INDEX audit_log_newest ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_tenant ON audit_log (tenant, at DESC, id DESC);
CREATE INDEX audit_log_key ON audit_log (key_id, at DESC, id DESC);
