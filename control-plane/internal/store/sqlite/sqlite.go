// Package sqlite is the embedded implementation of store.Store, on
// modernc.org/sqlite (pure Go, no cgo). It is the default for `ytcaption dev`
// and single-node installs.
//
// SQLite allows one writer at a time, so the store makes that explicit
// instead of discovering it as SQLITE_BUSY: every write runs on a pool of
// exactly one connection, in a BEGIN IMMEDIATE transaction (which takes the
// write lock up front, so a transaction never has to upgrade a read lock and
// fail). Reads use a separate pool and, in WAL mode, never wait for writers.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store on an SQLite database file.
type Store struct {
	store.Changes // cancel, retry and the agents' reports, on report and changeJob

	w   *sql.DB // one connection: all writes
	r   *sql.DB // reads
	log *slog.Logger
}

// busyTimeoutMS bounds how long a connection waits for another process's
// lock (or a WAL checkpoint) before failing with SQLITE_BUSY. SQLite's
// waiting is not fair: on a busy machine a process can wait many of the
// other's transactions, so the bound is generous.
const busyTimeoutMS = 60000

// Open opens (creating if needed) the database at path: a file path, a
// file: URI, or sqlite://path. It does not migrate: call Migrate.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	base, err := fileURI(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	common := []string{
		"_pragma=busy_timeout(" + strconv.Itoa(busyTimeoutMS) + ")",
		"_pragma=journal_mode(WAL)",
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(FULL)",
	}
	w, err := sql.Open("sqlite", withParams(base, append(common, "_txlock=immediate")...))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer connects first: it creates the file and switches it to WAL
	// before any reader looks at it.
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", withParams(base, append(common, "_pragma=query_only(1)")...))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	if err := r.PingContext(ctx); err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	s := &Store{w: w, r: r, log: logger}
	s.Changes = store.Changes{Report: s.report, Job: s.changeJob}
	return s, nil
}

// fileURI turns the accepted spellings of a database location into a file:
// URI, so that any character in a path is escaped rather than parsed.
func fileURI(path string) (string, error) {
	switch {
	case strings.HasPrefix(path, "file:"):
		return path, nil
	case strings.HasPrefix(path, "sqlite://"):
		return "file:" + strings.TrimPrefix(path, "sqlite://"), nil
	case strings.HasPrefix(path, "sqlite:"):
		return "file:" + strings.TrimPrefix(path, "sqlite:"), nil
	case path == "":
		return "", errors.New("empty database path")
	case path == ":memory:":
		// Each pool would get its own private database.
		return "", errors.New(":memory: is not supported; use a file (a temporary directory will do)")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath(), nil
}

func withParams(uri string, params ...string) string {
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + strings.Join(params, "&")
}

// Ping checks that both pools answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping readers: %w", err)
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// write runs fn in an immediate transaction on the single writer connection.
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// querier is what both a pool and a transaction offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// mapErr turns the job rules' errors and constraint violations into the
// store's sentinel errors, keeping the original in the chain.
func mapErr(err error) error {
	var se *sqlitedrv.Error
	switch {
	case errors.Is(err, job.ErrStaleLease), errors.Is(err, job.ErrInvalidState):
		return store.RuleError(err)
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	case errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE ||
		se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT):
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrate applies the embedded migrations that have not run yet, in one
// immediate transaction (which also serializes processes sharing the file).
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := store.Migrations(migrationFS, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied := map[int]bool{}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				_ = rows.Close()
				return fmt.Errorf("read schema_migrations: %w", err)
			}
			applied[v] = true
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		for _, m := range ms {
			if applied[m.Version] {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply %s: %w", m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("record %s: %w", m.Name, err)
			}
			s.log.InfoContext(ctx, "sqlite: applied migration", "migration", m.Name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}
