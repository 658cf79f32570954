package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ytcaption/ytcaption/control-plane/internal/backup"
	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/internal/store/postgres"
	"github.com/ytcaption/ytcaption/control-plane/internal/store/sqlite"
	"github.com/ytcaption/ytcaption/control-plane/server"
	"github.com/ytcaption/ytcaption/test/testenv"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := backup.Code(err); got != code {
		t.Fatalf("%s: error %v has code %q, want %q", what, err, got, code)
	}
}

// migrate creates the schema at dsn, as a server's start would.
func migrate(t *testing.T, dsn string) {
	t.Helper()
	_ = openStore(t, dsn).Close()
}

func openStore(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := server.OpenStore(context.Background(), dsn, discard())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// addArtifacts commits an artifact whose bytes are under present and one
// whose bytes are nowhere, and leaves one pending (referring to nothing
// yet): the database then refers to present and to "artifacts/gone".
func addArtifacts(t *testing.T, dsn, present string) {
	t.Helper()
	ctx := context.Background()
	st := openStore(t, dsn)
	defer st.Close()
	now := time.Now()
	for i, key := range []string{present, "artifacts/gone", "artifacts/pending"} {
		a := store.Artifact{ID: "a" + strconv.Itoa(i), Kind: "model", Name: "m" + strconv.Itoa(i), Version: "1",
			SHA256: strings.Repeat("0", 64), Size: 1, Key: key, CreatedAt: now}
		if _, err := st.CreateArtifact(ctx, a); err != nil {
			t.Fatal(err)
		}
		if key == "artifacts/pending" {
			continue
		}
		if _, err := st.CommitArtifact(ctx, a.ID, now); err != nil {
			t.Fatal(err)
		}
	}
}

func wantMissingGone(t *testing.T, m backup.Manifest) {
	t.Helper()
	if m.Objects.Referenced != 2 || m.Objects.MissingCount != 1 || len(m.Objects.Missing) != 1 || m.Objects.Missing[0] != "artifacts/gone" {
		t.Errorf("referenced objects: %d, missing %d %v; want 2, 1 [artifacts/gone]", m.Objects.Referenced, m.Objects.MissingCount, m.Objects.Missing)
	}
}

func minioClient(t *testing.T, s3 testenv.S3) *minio.Client {
	t.Helper()
	u, _ := url.Parse(s3.Endpoint)
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(s3.AccessKey, s3.SecretKey, ""), Secure: u.Scheme == "https"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func s3Config(s3 testenv.S3) backup.S3Config {
	return backup.S3Config{Endpoint: s3.Endpoint, Bucket: s3.Bucket, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey}
}

// TestPostgresSchemaAndObjects backs up one PostgreSQL schema (named by the
// URL's search_path) and a bucket whose objects carry content types and
// metadata, two of them with equal bytes; restores it after the schema is dropped; and checks the
// schema rules and --force.
func TestPostgresSchemaAndObjects(t *testing.T) {
	if _, err := exec.LookPath("pg_dump"); err != nil {
		t.Skip("pg_dump is not installed: run test/env/bootstrap.sh (or make test-env) first")
	}
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	addArtifacts(t, dsn, "copies/same")
	src := testenv.MinIO(t)
	mc := minioClient(t, src)
	if err := mc.MakeBucket(ctx, src.Bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objects := map[string]minio.PutObjectOptions{
		"uploads/j1/source":          {ContentType: "audio/wav", UserMetadata: map[string]string{"Origin": "drill"}},
		"jobs/j1/t1/transcript.json": {ContentType: "application/json"},
		"copies/same":                {ContentType: "audio/ogg"},
	}
	body := func(key string) []byte {
		if key == "jobs/j1/t1/transcript.json" {
			return []byte(`{"text":"hi"}`)
		}
		return []byte("same bytes") // the other two share them
	}
	for k, o := range objects {
		b := body(k)
		if _, err := mc.PutObject(ctx, src.Bucket, k, bytes.NewReader(b), int64(len(b)), o); err != nil {
			t.Fatal(err)
		}
	}

	dir := filepath.Join(t.TempDir(), "b")
	m, err := backup.Backup(ctx, backup.Config{DatabaseURL: dsn, S3: s3Config(src)}, dir, discard())
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	latest, _ := postgres.SchemaVersion()
	schema := mustSchema(t, dsn)
	if m.Database.Schema != schema || m.Database.SchemaVersion != latest || m.Objects.Count != 3 || m.Objects.Source != "s3" {
		t.Fatalf("manifest: %+v", m)
	}
	wantMissingGone(t, m)
	if n := countFiles(t, filepath.Join(dir, backup.ObjectsDir)); n != 2 {
		t.Errorf("equal objects are kept once: %d files, want 2", n)
	}

	dst := testenv.MinIO(t) // not created: restore creates it
	cfg := backup.Config{DatabaseURL: dsn, S3: s3Config(dst)}
	other := strings.Replace(dsn, "search_path="+schema, "search_path=public", 1)
	_, err = backup.Restore(ctx, backup.Config{DatabaseURL: other, S3: s3Config(dst)}, dir, backup.RestoreOptions{}, discard())
	wantCode(t, "restore into another schema", err, backup.CodeSchemaMismatch)
	_, err = backup.Restore(ctx, cfg, dir, backup.RestoreOptions{}, discard())
	wantCode(t, "restore over the live schema", err, backup.CodeTargetNotEmpty)

	// An operator recreates the schema, empty, and restores into it.
	dropSchema(t, schema)
	execSQL(t, "CREATE SCHEMA "+schema)
	if _, err := backup.Restore(ctx, cfg, dir, backup.RestoreOptions{}, discard()); err != nil {
		t.Fatalf("restore: %v", err)
	}
	st, err := postgres.Open(ctx, dsn, discard())
	if err != nil {
		t.Fatal(err)
	}
	v, err := st.AppliedSchemaVersion(ctx)
	st.Close()
	if err != nil || v != latest {
		t.Fatalf("restored schema version %d %v, want %d", v, err, latest)
	}
	dc := minioClient(t, dst)
	for k, o := range objects {
		obj, err := dc.GetObject(ctx, dst.Bucket, k, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		if err != nil {
			t.Fatalf("restored %s: %v", k, err)
		}
		info, _ := obj.Stat()
		if !bytes.Equal(got, body(k)) || info.ContentType != o.ContentType || info.UserMetadata["Origin"] != o.UserMetadata["Origin"] {
			t.Errorf("restored %s: %q %q %v", k, got, info.ContentType, info.UserMetadata)
		}
	}

	// --force replaces the database and overwrites the objects.
	if _, err := backup.Restore(ctx, cfg, dir, backup.RestoreOptions{Force: true}, discard()); err != nil {
		t.Fatalf("forced restore: %v", err)
	}
}

func mustSchema(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("search_path")
}

func dropSchema(t *testing.T, schema string) { execSQL(t, "DROP SCHEMA "+schema+" CASCADE") }

func execSQL(t *testing.T, sql string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// failingTool writes an executable that reports a new enough version and
// fails at the real work, as a client that cannot reach or write would.
func failingTool(t *testing.T, dir, name string) {
	t.Helper()
	script := "#!/bin/sh\nif [ \"$1\" = --version ]; then echo '" + name + " (PostgreSQL) 99.0'; exit 0; fi\n" +
		"echo 'simulated failure' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestPostgresFailures: a database never migrated is not backed up, and a
// failing pg_dump or pg_restore is reported with its own code and stderr.
func TestPostgresFailures(t *testing.T) {
	if _, err := exec.LookPath("pg_dump"); err != nil {
		t.Skip("pg_dump is not installed: run test/env/bootstrap.sh (or make test-env) first")
	}
	t.Parallel()
	ctx := context.Background()
	s3 := testenv.MinIO(t)
	if err := minioClient(t, s3).MakeBucket(ctx, s3.Bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := backup.Backup(ctx, backup.Config{DatabaseURL: testenv.Postgres(t), S3: s3Config(s3)}, filepath.Join(t.TempDir(), "b"), discard())
	wantCode(t, "backup of a database never migrated", err, backup.CodeSourceUnavailable)

	dsn := testenv.Postgres(t)
	migrate(t, dsn)
	bin := t.TempDir()
	failingTool(t, bin, "pg_dump")
	failingTool(t, bin, "pg_restore")
	_, err = backup.Backup(ctx, backup.Config{DatabaseURL: dsn, S3: s3Config(s3), PGBin: bin}, filepath.Join(t.TempDir(), "b"), discard())
	wantCode(t, "a failing pg_dump", err, backup.CodeDumpFailed)
	if !strings.Contains(err.Error(), "simulated failure") {
		t.Errorf("the error does not carry pg_dump's stderr: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "b")
	if _, err := backup.Backup(ctx, backup.Config{DatabaseURL: dsn, S3: s3Config(s3)}, dir, discard()); err != nil {
		t.Fatal(err)
	}
	dropSchema(t, mustSchema(t, dsn))
	_, err = backup.Restore(ctx, backup.Config{DatabaseURL: dsn, S3: s3Config(testenv.MinIO(t)), PGBin: bin}, dir, backup.RestoreOptions{}, discard())
	wantCode(t, "a failing pg_restore", err, backup.CodeRestoreFailed)
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, e os.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sqliteSource is a migrated SQLite database and a local blob directory
// holding one object.
func sqliteSource(t *testing.T) backup.Config {
	t.Helper()
	dir := t.TempDir()
	cfg := backup.Config{DatabaseURL: filepath.Join(dir, "yt.db"), BlobDir: filepath.Join(dir, "blobs")}
	addArtifacts(t, cfg.DatabaseURL, "jobs/j1/transcript.json")
	l, err := blob.NewLocal(cfg.BlobDir, []byte("0123456789abcdef"), "", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Put(context.Background(), "jobs/j1/transcript.json", strings.NewReader(`{"text":"hi"}`), -1, ""); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func sqliteTarget(t *testing.T) backup.Config {
	dir := t.TempDir()
	return backup.Config{DatabaseURL: filepath.Join(dir, "db", "yt.db"), BlobDir: filepath.Join(dir, "blobs")}
}

// TestSQLiteRoundTrip restores a SQLite + local-directory backup and reads
// the restored database and object back.
func TestSQLiteRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "b")
	m, err := backup.Backup(ctx, sqliteSource(t), dir, discard())
	if err != nil {
		t.Fatal(err)
	}
	latest, _ := sqlite.SchemaVersion()
	if m.Database.Backend != backup.BackendSQLite || m.Database.SchemaVersion != latest || m.Objects.Count != 1 || m.Objects.Source != "local" {
		t.Fatalf("manifest: %+v", m)
	}
	wantMissingGone(t, m)
	for _, name := range []string{".", "database.sqlite", backup.IndexFile, backup.ManifestFile} {
		want := os.FileMode(0o600)
		if name == "." {
			want = 0o700
		}
		if info, err := os.Stat(filepath.Join(dir, name)); err != nil || info.Mode().Perm() != want {
			t.Errorf("%s must be private (%v): %v %v", name, want, info.Mode(), err)
		}
	}
	dst := sqliteTarget(t)
	if _, err := backup.Restore(ctx, dst, dir, backup.RestoreOptions{}, discard()); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst.BlobDir, "jobs", "j1", "transcript.json"))
	if err != nil || string(got) != `{"text":"hi"}` {
		t.Fatalf("restored object: %q %v", got, err)
	}
	if v, err := sqlite.FileSchemaVersion(ctx, dst.DatabaseURL); err != nil || v != latest {
		t.Fatalf("restored schema version %d %v", v, err)
	}
	_, err = backup.Restore(ctx, dst, dir, backup.RestoreOptions{}, discard())
	wantCode(t, "second restore", err, backup.CodeTargetNotEmpty)
	// A forced restore replaces the database, stale WAL included.
	if err := os.WriteFile(dst.DatabaseURL+"-wal", []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Restore(ctx, dst, dir, backup.RestoreOptions{Force: true}, discard()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dst.DatabaseURL + "-wal"); !os.IsNotExist(err) {
		t.Errorf("the old database's WAL survived a forced restore: %v", err)
	}
}

// TestRefusals: each way a backup or restore is refused, by its code.
func TestRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := sqliteSource(t)
	good := filepath.Join(t.TempDir(), "b")
	if _, err := backup.Backup(ctx, src, good, discard()); err != nil {
		t.Fatal(err)
	}
	// clone copies the good backup, letting edit change one file.
	clone := func(t *testing.T, edit func(dir string)) string {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(good)); err != nil {
			t.Fatal(err)
		}
		edit(dir)
		return dir
	}
	editManifest := func(f func(m map[string]any)) func(string) {
		return func(dir string) {
			p := filepath.Join(dir, backup.ManifestFile)
			b, _ := os.ReadFile(p)
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			f(m)
			b, _ = json.Marshal(m)
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	corrupt := func(rel func(dir string) string) func(string) {
		return func(dir string) {
			if err := os.WriteFile(rel(dir), []byte("tampered"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	anObject := func(dir string) string {
		var p string
		_ = filepath.WalkDir(filepath.Join(dir, backup.ObjectsDir), func(path string, e os.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				p = path
			}
			return err
		})
		return p
	}

	_, err := backup.Backup(ctx, src, good, discard())
	wantCode(t, "backup into a used directory", err, backup.CodeBackupExists)
	unmigrated := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(unmigrated, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = backup.Backup(ctx, backup.Config{DatabaseURL: unmigrated, BlobDir: src.BlobDir}, filepath.Join(t.TempDir(), "x"), discard())
	wantCode(t, "backup of a database never migrated", err, backup.CodeSourceUnavailable)
	_, err = backup.Backup(ctx, backup.Config{DatabaseURL: filepath.Join(t.TempDir(), "missing.db"), BlobDir: src.BlobDir},
		filepath.Join(t.TempDir(), "x"), discard())
	wantCode(t, "backup of a missing database", err, backup.CodeSourceUnavailable)

	for _, tc := range []struct {
		name   string
		dir    string
		cfg    backup.Config
		code   string
		verify bool // Verify refuses it too
	}{
		{"no manifest", t.TempDir(), sqliteTarget(t), backup.CodeManifestMissing, true},
		{"unknown format", clone(t, editManifest(func(m map[string]any) { m["format"] = 99 })), sqliteTarget(t), backup.CodeManifestInvalid, true},
		{"newer schema", clone(t, editManifest(func(m map[string]any) { m["database"].(map[string]any)["schema_version"] = 9999 })),
			sqliteTarget(t), backup.CodeSchemaTooNew, false},
		{"into PostgreSQL", good, backup.Config{DatabaseURL: "postgres://127.0.0.1:1/x", BlobDir: t.TempDir()}, backup.CodeBackendMismatch, false},
		{"tampered database", clone(t, corrupt(func(d string) string { return filepath.Join(d, "database.sqlite") })),
			sqliteTarget(t), backup.CodeChecksumMismatch, true},
		{"tampered index", clone(t, corrupt(func(d string) string { return filepath.Join(d, backup.IndexFile) })),
			sqliteTarget(t), backup.CodeChecksumMismatch, true},
		{"tampered object", clone(t, corrupt(anObject)), sqliteTarget(t), backup.CodeChecksumMismatch, true},
	} {
		_, err := backup.Restore(ctx, tc.cfg, tc.dir, backup.RestoreOptions{}, discard())
		wantCode(t, "restore: "+tc.name, err, tc.code)
		if tc.verify {
			_, err := backup.Verify(ctx, tc.dir, 2)
			wantCode(t, "verify: "+tc.name, err, tc.code)
		}
	}
	if _, err := backup.Verify(ctx, good, 2); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

// TestDamagedObjectSkipped: a restore carries on past a damaged object,
// restores the others, and then reports the damage.
func TestDamagedObjectSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := sqliteSource(t)
	l, err := blob.NewLocal(src.BlobDir, []byte("0123456789abcdef"), "", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a/1", "b/2"} {
		if err := l.Put(ctx, k, strings.NewReader("object "+k), -1, ""); err != nil {
			t.Fatal(err)
		}
	}
	_ = l.Close()
	dir := filepath.Join(t.TempDir(), "b")
	if _, err := backup.Backup(ctx, src, dir, discard()); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("object a/1"))
	name := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(dir, backup.ObjectsDir, name[:2], name), []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := sqliteTarget(t)
	_, err = backup.Restore(ctx, dst, dir, backup.RestoreOptions{}, discard())
	wantCode(t, "restore with a damaged object", err, backup.CodeChecksumMismatch)
	if !strings.Contains(err.Error(), "object a/1") {
		t.Errorf("the error does not name the damaged object: %v", err)
	}
	for _, k := range []string{"b/2", "jobs/j1/transcript.json"} {
		if _, err := os.Stat(filepath.Join(dst.BlobDir, filepath.FromSlash(k))); err != nil {
			t.Errorf("%s was not restored past the damaged object: %v", k, err)
		}
	}
}
