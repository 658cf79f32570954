-- Artifacts: models and tools operators push for agents (docs/architecture.md,
-- "Artifacts"). A row is pending (committed_at NULL) until the control plane
-- hashed the uploaded object; only committed rows are listed. Versions of a
-- (kind, name) are unique; agents take the newest committed one. Times are
-- INTEGER microseconds since the Unix epoch.

CREATE TABLE artifacts (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('model', 'tool')),
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    key          TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    committed_at INTEGER,
    UNIQUE (kind, name, version)
);
