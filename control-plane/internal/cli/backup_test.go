package cli_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/backup"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/server"
)

// TestBackupCommands: the commands' output for people and for scripts,
// their defaults from the data directory, and their errors' codes.
func TestBackupCommands(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	env := map[string]string{"YTCAPTION_DATA_DIR": data}
	// A database that refers to an object the blob store lacks.
	ctx := context.Background()
	st, err := server.OpenStore(ctx, filepath.Join(data, "ytcaption.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	_, err = st.CreateArtifact(ctx, store.Artifact{ID: "a1", Kind: "tool", Name: "yt-dlp", Version: "1", SHA256: strings.Repeat("0", 64),
		Size: 1, Key: "artifacts/lost", CreatedAt: now})
	if err == nil {
		_, err = st.CommitArtifact(ctx, "a1", now)
	}
	_ = st.Close()
	if err != nil {
		t.Fatal(err)
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
	if !strings.Contains(stderr, "warning: 1 of the 1 objects the database refers to were missing from the blob store at backup time, e.g. artifacts/lost") {
		t.Errorf("backup does not warn of the missing object: %q", stderr)
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
