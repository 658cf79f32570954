package backup

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParsePGURL(t *testing.T) {
	t.Parallel()
	c, err := parsePGURL("postgres://app:s3cret@db1:5432,db2:5433/yt?sslmode=verify-full&pool_max_conns=40&search_path=tenant_a,public")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.uri, "s3cret") || strings.Contains(c.uri, "pool_max_conns") || strings.Contains(c.uri, "search_path") {
		t.Errorf("uri %q must hold neither the password nor pgx-only parameters", c.uri)
	}
	if !strings.Contains(c.uri, "sslmode=verify-full") || !strings.Contains(c.uri, "db1:5432,db2:5433") {
		t.Errorf("uri %q lost libpq settings", c.uri)
	}
	if !slices.Contains(c.env, "PGPASSWORD=s3cret") || c.schema != "tenant_a" {
		t.Errorf("env %v, schema %q", c.env, c.schema)
	}
	if _, err := parsePGURL("mysql://x"); Code(err) != CodeInvalidConfig {
		t.Errorf("a non-postgres URL: %v", err)
	}
}

// fakeTool writes an executable that reports a PostgreSQL client version,
// standing for side-by-side installs of other major versions.
func fakeTool(t *testing.T, dir, name string, major string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho '" + name + " (PostgreSQL) " + major + ".3 (Debian)'\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestFindPGTools(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	v14, v17 := filepath.Join(root, "14", "bin"), filepath.Join(root, "17", "bin")
	fakeTool(t, v14, "pg_dump", "14")
	fakeTool(t, v17, "pg_dump", "17")
	installs := func() []string { return []string{v17, v14} }

	// --pg-bin is the only place looked in.
	if _, _, err := (pgTools{bin: v14, installs: installs}).find(ctx, "pg_dump", 16); Code(err) != CodePGClientMismatch ||
		!strings.Contains(err.Error(), "postgresql-client-16") {
		t.Errorf("pg_dump 14 for a 16 server: %v", err)
	}
	if p, major, err := (pgTools{bin: v17, installs: installs}).find(ctx, "pg_dump", 16); err != nil || p != filepath.Join(v17, "pg_dump") || major != 17 {
		t.Errorf("--pg-bin with pg_dump 17: %s %d %v", p, major, err)
	}
	if _, _, err := (pgTools{bin: root, installs: installs}).find(ctx, "pg_dump", 15); Code(err) != CodePGClientMissing {
		t.Errorf("an empty --pg-bin: %v", err)
	}
	// Without it, a side-by-side install new enough is found.
	if p, _, err := (pgTools{installs: installs}).find(ctx, "pg_dump", 17); err != nil || p != filepath.Join(v17, "pg_dump") {
		t.Errorf("side-by-side 17: %s %v", p, err)
	}
	if _, _, err := (pgTools{installs: installs}).find(ctx, "pg_dump", 18); Code(err) != CodePGClientMismatch {
		t.Errorf("nothing new enough: %v", err)
	}
}
