package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// SchemaVersion is the newest migration this build carries.
func SchemaVersion() (int, error) { return store.LatestVersion(migrationFS, "migrations") }

// AppliedSchemaVersion is the newest migration applied to the database; 0
// when it has never been migrated.
func (s *Store) AppliedSchemaVersion(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	var v int
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: read schema version: %w", err)
	}
	return v, nil
}

// BackupTo writes a consistent copy of the database to path (which must not
// exist) with VACUUM INTO: one read transaction, so writers in other
// processes carry on and the copy is the database as of its start,
// compacted. It runs on the writer connection because the readers are
// query_only, which forbids VACUUM even into another file; writes of this
// Store wait meanwhile.
func (s *Store) BackupTo(ctx context.Context, path string) error {
	if strings.ContainsRune(path, 0) {
		return fmt.Errorf("sqlite: backup to %q: invalid path", path)
	}
	if _, err := s.w.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", path, err)
	}
	return nil
}

// FileSchemaVersion is the newest migration applied to the database file at
// path, read without writing to it (no WAL switch, no journal): for copies
// that must stay byte-for-byte as they were written.
func FileSchemaVersion(ctx context.Context, path string) (int, error) {
	uri, err := fileURI(path)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", withParams(uri, "mode=ro", "immutable=1"))
	if err != nil {
		return 0, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	defer db.Close()
	s := &Store{r: db}
	return s.AppliedSchemaVersion(ctx)
}

// referenceQueries read the blob keys rows refer to and a restored server
// needs: results (of jobs and of the result cache), uploads of unfinished
// jobs, committed artifacts; by the table each needs (a database at an
// older schema may lack it).
var referenceQueries = []struct{ table, sql string }{
	{"jobs", `SELECT result_key FROM jobs WHERE result_key <> ''
		UNION SELECT json_extract(spec, '$.upload_key') FROM jobs
		WHERE status IN ('queued', 'running') AND coalesce(json_extract(spec, '$.upload_key'), '') <> ''`},
	{"result_cache", `SELECT result_key FROM result_cache WHERE result_key <> ''`},
	{"artifacts", `SELECT key FROM artifacts WHERE committed_at IS NOT NULL`},
}

// FileReferencedObjects lists the blob keys the database file at path
// refers to, read as FileSchemaVersion reads.
func FileReferencedObjects(ctx context.Context, path string) ([]string, error) {
	uri, err := fileURI(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", withParams(uri, "mode=ro", "immutable=1"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	defer db.Close()
	var keys []string
	for _, q := range referenceQueries {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, q.table).Scan(&n); err != nil {
			return nil, fmt.Errorf("sqlite: referenced objects: %w", err)
		}
		if n == 0 {
			continue
		}
		rows, err := db.QueryContext(ctx, q.sql)
		if err != nil {
			return nil, fmt.Errorf("sqlite: referenced objects: %w", err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				_ = rows.Close()
				return nil, fmt.Errorf("sqlite: referenced objects: %w", err)
			}
			keys = append(keys, k)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: referenced objects: %w", err)
		}
		_ = rows.Close()
	}
	return keys, nil
}
