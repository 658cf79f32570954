package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// TestArtifactsCommands: push hashes, uploads and commits a file; list
// shows it; a second push of the same version is refused; delete removes
// it.
func TestArtifactsCommands(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	env := map[string]string{"YTCAPTION_SERVER": url, "YTCAPTION_API_KEY": adminKey}
	file := filepath.Join(t.TempDir(), "ggml-tiny.bin")
	if err := os.WriteFile(file, []byte(strings.Repeat("model", 10000)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := run(t, env, "artifacts", "push", file, "--kind", "model", "--version", "v1", "--json")
	var a api.Artifact
	if code != 0 || json.Unmarshal([]byte(out), &a) != nil || a.Name != "ggml-tiny.bin" || a.Size != 50000 || a.CommittedAt == nil {
		t.Fatalf("artifacts push: %d %q %q", code, out, stderr)
	}
	if _, stderr, code := run(t, env, "artifacts", "push", file, "--kind", "model", "--version", "v1"); code != 1 || !strings.Contains(stderr, "already pushed") {
		t.Fatalf("same version pushed again: %d %q", code, stderr)
	}
	if _, stderr, code := run(t, env, "artifacts", "push", file, "--kind", "weights"); code != 2 {
		t.Fatalf("bad kind: exit %d %q, want 2", code, stderr)
	}
	out, _, code = run(t, env, "artifacts", "list")
	if code != 0 || !strings.Contains(out, a.ID) || !strings.Contains(out, "ggml-tiny.bin") || !strings.Contains(out, a.SHA256[:12]) {
		t.Fatalf("artifacts list: %d %q", code, out)
	}
	if _, stderr, code := run(t, env, "artifacts", "delete", a.ID); code != 0 {
		t.Fatalf("artifacts delete: %q", stderr)
	}
	out, _, code = run(t, env, "artifacts", "list", "--json")
	var l api.ArtifactList
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || len(l.Artifacts) != 0 {
		t.Fatalf("list after delete: %d %q", code, out)
	}
}
