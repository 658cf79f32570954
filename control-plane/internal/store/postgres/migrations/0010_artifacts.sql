-- Artifacts: models and tools operators push for agents (docs/architecture.md,
-- "Artifacts"). A row is pending (committed_at NULL) until the control plane
-- hashed the uploaded object; only committed rows are listed. Versions of a
-- (kind, name) are unique; agents take the newest committed one.

CREATE TABLE artifacts (
    id           text PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('model', 'tool')),
    name         text NOT NULL,
    version      text NOT NULL,
    sha256       text NOT NULL,
    size         bigint NOT NULL,
    key          text NOT NULL,
    created_at   timestamptz NOT NULL,
    created_by   text NOT NULL DEFAULT '',
    committed_at timestamptz,
    UNIQUE (kind, name, version)
);
