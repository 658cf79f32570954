package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/internal/backup"
)

// TestBackupCommands: the commands' output for people and for scripts,
// their defaults from the data directory, and their errors' codes.
func TestBackupCommands(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	env := map[string]string{"YTCAPTION_DATA_DIR": data}
	if _, stderr, code := run(t, nil, "migrate", "--database-url", filepath.Join(data, "ytcaption.db")); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	if err := os.Mkdir(filepath.Join(data, "blobs"), 0o700); err != nil { // as a server's start does
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "b")
	out, stderr, code := run(t, env, "backup", "--json", "--parallel", "2", dir)
	var m backup.Manifest
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil || m.Database.Backend != backup.BackendSQLite || m.Objects.Source != "local" {
		t.Fatalf("backup --json: exit %d %q %s", code, out, stderr)
	}
	out, _, code = run(t, nil, "backup", "verify", "--json", dir)
	var v backup.Manifest
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Database.SHA256 != m.Database.SHA256 {
		t.Fatalf("backup verify --json: exit %d %q", code, out)
	}
	target := map[string]string{"YTCAPTION_DATA_DIR": filepath.Join(t.TempDir(), "restored")}
	if out, stderr, code := run(t, target, "restore", dir); code != 0 || !strings.HasPrefix(out, "restored sqlite database") {
		t.Fatalf("restore: exit %d %q %s", code, out, stderr)
	}
	if _, stderr, code := run(t, target, "restore", t.TempDir()); code != 1 || !strings.Contains(stderr, "ytcaption: manifest_missing: ") {
		t.Errorf("restore of a directory that is no backup: exit %d %q", code, stderr)
	}
	if _, _, code := run(t, nil, "restore"); code != 2 {
		t.Errorf("restore without a directory: exit %d, want 2", code)
	}
}
