package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/ytcaption/ytcaption/control-plane/internal/store/postgres"
	"github.com/ytcaption/ytcaption/control-plane/internal/store/sqlite"
)

// isPostgres tells a PostgreSQL URL from a SQLite path, as the server does.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// latestSchema is the newest migration this build knows for a backend.
func latestSchema(backend string) (int, error) {
	if backend == BackendPostgres {
		return postgres.SchemaVersion()
	}
	return sqlite.SchemaVersion()
}

// dumpPostgres writes a custom-format pg_dump of the database, taken in one
// exported snapshot that also yields the schema level it holds.
func dumpPostgres(ctx context.Context, cfg Config, dir string, log *slog.Logger) (Database, error) {
	conn, err := parsePGURL(cfg.DatabaseURL)
	if err != nil {
		return Database{}, err
	}
	st, err := postgres.Open(ctx, cfg.DatabaseURL, log)
	if err != nil {
		return Database{}, &Error{Code: CodeSourceUnavailable, Err: err}
	}
	defer st.Close()
	sv, err := st.ServerVersion(ctx)
	if err != nil {
		return Database{}, &Error{Code: CodeSourceUnavailable, Err: err}
	}
	pgDump, dumpMajor, err := newPGTools(cfg.PGBin).find(ctx, "pg_dump", sv/10000)
	if err != nil {
		return Database{}, err
	}
	db := Database{Backend: BackendPostgres, File: dumpFile, Schema: conn.schema, ServerVersion: sv, DumpMajor: dumpMajor}
	out := filepath.Join(dir, dumpFile)
	err = st.WithSnapshot(ctx, func(ctx context.Context, snap postgres.Snapshot) error {
		if snap.SchemaVersion == 0 {
			return fail(CodeSourceUnavailable, "the database was never migrated: nothing to back up")
		}
		db.SchemaVersion, db.references = snap.SchemaVersion, snap.Objects
		args := []string{"--format=custom", "--snapshot=" + snap.Name, "--file=" + out}
		if conn.schema != "" {
			args = append(args, "--schema="+conn.schema)
		}
		return conn.run(ctx, pgDump, append(args, "--dbname="+conn.uri)...)
	})
	if err != nil && Code(err) == "" {
		err = &Error{Code: CodeDumpFailed, Err: err}
	}
	if err != nil {
		return Database{}, err
	}
	log.InfoContext(ctx, "backup: database dumped", "backend", "postgres", "server_version", sv, "pg_dump", pgDump, "schema_version", db.SchemaVersion)
	return db, nil
}

// sqlitePath is the file a SQLite database URL names.
func sqlitePath(dsn string) string {
	for _, p := range []string{"sqlite://", "sqlite:", "file:"} {
		dsn = strings.TrimPrefix(dsn, p)
	}
	path, _, _ := strings.Cut(dsn, "?")
	return path
}

// dumpSQLite copies the database with VACUUM INTO: a consistent snapshot
// taken while the server keeps running.
func dumpSQLite(ctx context.Context, cfg Config, dir string, log *slog.Logger) (Database, error) {
	if _, err := os.Stat(sqlitePath(cfg.DatabaseURL)); err != nil {
		return Database{}, &Error{Code: CodeSourceUnavailable, Err: err}
	}
	st, err := sqlite.Open(ctx, cfg.DatabaseURL, log)
	if err != nil {
		return Database{}, &Error{Code: CodeSourceUnavailable, Err: err}
	}
	defer st.Close()
	out := filepath.Join(dir, sqliteFile)
	if err := st.BackupTo(ctx, out); err != nil {
		return Database{}, &Error{Code: CodeDumpFailed, Err: err}
	}
	v, err := sqlite.FileSchemaVersion(ctx, out)
	if err != nil {
		return Database{}, &Error{Code: CodeDumpFailed, Err: err}
	}
	if v == 0 {
		return Database{}, fail(CodeSourceUnavailable, "the database was never migrated: nothing to back up")
	}
	refs, err := sqlite.FileReferencedObjects(ctx, out)
	if err != nil {
		return Database{}, &Error{Code: CodeDumpFailed, Err: err}
	}
	log.InfoContext(ctx, "backup: database copied", "backend", "sqlite", "schema_version", v)
	return Database{Backend: BackendSQLite, File: sqliteFile, SchemaVersion: v, references: refs}, nil
}

// dbTarget is a database a backup is restored into.
type dbTarget interface {
	// Empty reports whether the target holds no tables.
	Empty(ctx context.Context) (bool, error)
	// Restore loads the snapshot in file, replacing what is there (the
	// caller has checked that nothing is, unless forced).
	Restore(ctx context.Context, file string) error
	// SchemaVersion is the newest migration the restored database has.
	SchemaVersion(ctx context.Context) (int, error)
	Close()
}

func openDBTarget(ctx context.Context, cfg Config, m Manifest, log *slog.Logger) (dbTarget, error) {
	if !isPostgres(cfg.DatabaseURL) {
		return sqliteTarget{path: sqlitePath(cfg.DatabaseURL)}, nil
	}
	conn, err := parsePGURL(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if conn.schema != m.Database.Schema && (conn.schema != "" || m.Database.Schema != "") {
		return nil, fail(CodeSchemaMismatch, "the backup holds PostgreSQL schema %q; the target URL's search_path names %q: they must agree",
			m.Database.Schema, conn.schema)
	}
	pgRestore, _, err := newPGTools(cfg.PGBin).find(ctx, "pg_restore", m.Database.DumpMajor)
	if err != nil {
		return nil, err
	}
	st, err := postgres.Open(ctx, cfg.DatabaseURL, log)
	if err != nil {
		return nil, &Error{Code: CodeTargetUnavailable, Err: err}
	}
	if sv, err := st.ServerVersion(ctx); err == nil && sv/10000 < m.Database.ServerVersion/10000 {
		log.WarnContext(ctx, "restore: the target server is older than the source; the restore may fail on newer syntax",
			"source_version", m.Database.ServerVersion, "target_version", sv)
	}
	return &pgTarget{st: st, conn: conn, pgRestore: pgRestore}, nil
}

type pgTarget struct {
	st        *postgres.Store
	conn      pgConn
	pgRestore string
}

func (t *pgTarget) Empty(ctx context.Context) (bool, error) {
	schema := t.conn.schema
	if schema == "" {
		schema = "public"
	}
	n, err := t.st.Tables(ctx, schema)
	return n == 0, err
}

// Restore runs pg_restore in one transaction, so a failed restore leaves
// the target as it was. --clean drops what the archive creates first: with
// --force that replaces the tables; without, the target has none, and it
// lets a schema dump land in a schema created empty beforehand.
func (t *pgTarget) Restore(ctx context.Context, file string) error {
	args := []string{"--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges", "--clean", "--if-exists"}
	return t.conn.run(ctx, t.pgRestore, append(args, "--dbname="+t.conn.uri, file)...)
}

func (t *pgTarget) SchemaVersion(ctx context.Context) (int, error) {
	return t.st.AppliedSchemaVersion(ctx)
}

func (t *pgTarget) Close() { _ = t.st.Close() }

type sqliteTarget struct{ path string }

func (t sqliteTarget) Empty(ctx context.Context) (bool, error) {
	info, err := os.Stat(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return info.Size() == 0, nil
}

// Restore copies the snapshot next to the target and renames it into
// place. The old database's -wal and -shm files go first: applied to the
// new file they would corrupt it.
func (t sqliteTarget) Restore(ctx context.Context, file string) error {
	if err := os.MkdirAll(filepath.Dir(t.path), 0o700); err != nil {
		return err
	}
	tmp := t.path + ".restore"
	if err := copyFile(file, tmp); err != nil {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(t.path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			_ = os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, t.path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(t.path))
}

func (t sqliteTarget) SchemaVersion(ctx context.Context) (int, error) {
	return sqlite.FileSchemaVersion(ctx, t.path)
}

func (t sqliteTarget) Close() {}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Sync(); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
