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

// WithSnapshot opens a read-only REPEATABLE READ transaction, exports its
// snapshot and calls fn with the snapshot's name (for pg_dump --snapshot)
// and the schema version it sees. The snapshot stays valid until fn
// returns, so what fn reads through it and the version agree exactly.
func (s *Store) WithSnapshot(ctx context.Context, fn func(ctx context.Context, snapshot string, schemaVersion int) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var snap string
		if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snap); err != nil {
			return fmt.Errorf("postgres: export snapshot: %w", err)
		}
		v, err := appliedVersion(ctx, tx)
		if err != nil {
			return err
		}
		return fn(ctx, snap, v)
	})
}
