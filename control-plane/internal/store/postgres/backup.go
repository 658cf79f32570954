package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// SchemaVersion is the newest migration this build carries.
func SchemaVersion() (int, error) { return store.LatestVersion(migrationFS, "migrations") }

// ServerVersion is the server's version number (server_version_num, e.g.
// 150020 for 15.20).
func (s *Store) ServerVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: server version: %w", err)
	}
	return v, nil
}

// AppliedSchemaVersion is the newest migration applied to the database; 0
// when it has never been migrated.
func (s *Store) AppliedSchemaVersion(ctx context.Context) (int, error) {
	return appliedVersion(ctx, s.pool)
}

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// appliedVersion looks the table up first instead of catching the error of
// a missing one: inside a transaction that error would abort it.
func appliedVersion(ctx context.Context, q queryRower) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: read schema version: %w", err)
	}
	return v, nil
}

// Tables counts the tables in a schema, to tell an empty database from one
// in use.
func (s *Store) Tables(ctx context.Context, schema string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')`, schema).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: count tables: %w", err)
	}
	return n, nil
}

// Snapshot is what the transaction of WithSnapshot sees.
type Snapshot struct {
	Name          string // for pg_dump --snapshot
	SchemaVersion int
	// Objects are the blob keys rows refer to and a restored server needs:
	// results (of jobs and of the result cache), uploads of unfinished jobs,
	// committed artifacts.
	Objects []string
}

// referenceQueries read the keys of Snapshot.Objects, by the table each
// needs (a database at an older schema may lack it).
var referenceQueries = []struct{ table, sql string }{
	{"jobs", `SELECT result_key FROM jobs WHERE result_key <> ''
		UNION SELECT spec->>'upload_key' FROM jobs WHERE status IN ('queued', 'running') AND coalesce(spec->>'upload_key', '') <> ''`},
	{"result_cache", `SELECT result_key FROM result_cache WHERE result_key <> ''`},
	{"artifacts", `SELECT key FROM artifacts WHERE committed_at IS NOT NULL`},
}

// WithSnapshot opens a read-only REPEATABLE READ transaction, exports its
// snapshot and calls fn with what it sees. The snapshot stays valid until
// fn returns, so what fn dumps through it (pg_dump --snapshot), the schema
// version and the referenced objects agree exactly.
func (s *Store) WithSnapshot(ctx context.Context, fn func(ctx context.Context, snap Snapshot) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var snap Snapshot
		if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snap.Name); err != nil {
			return fmt.Errorf("postgres: export snapshot: %w", err)
		}
		var err error
		if snap.SchemaVersion, err = appliedVersion(ctx, tx); err != nil {
			return err
		}
		for _, q := range referenceQueries {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, q.table).Scan(&exists); err != nil {
				return fmt.Errorf("postgres: referenced objects: %w", err)
			}
			if !exists {
				continue
			}
			rows, err := tx.Query(ctx, q.sql)
			if err != nil {
				return fmt.Errorf("postgres: referenced objects: %w", err)
			}
			keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("postgres: referenced objects: %w", err)
			}
			snap.Objects = append(snap.Objects, keys...)
		}
		return fn(ctx, snap)
	})
}
