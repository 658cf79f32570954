package cli_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/cli"
	"github.com/ytcaption/ytcaption/control-plane/server"
	"github.com/ytcaption/ytcaption/test/testenv"
)

const adminKey = "cli-test-admin-key"

func startServer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: dir, DatabaseURL: filepath.Join(dir, "db"),
		AdminKey: adminKey}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv.URL()
}

// run executes the CLI with the given environment and returns stdout.
func run(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }})
	return out.String(), errb.String(), code
}

func TestOperatorCommands(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	env := map[string]string{"YTCAPTION_SERVER": url, "YTCAPTION_API_KEY": adminKey}

	// keys create prints the key alone on stdout; a new tenant is created.
	out, stderr, code := run(t, env, "keys", "create", "--tenant", "acme", "--role", "submitter")
	key := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(key, "ytc_") || strings.Contains(key, "\n") {
		t.Fatalf("keys create: %d %q %q", code, out, stderr)
	}
	c := api.NewClient(url, key, nil)
	j, err := c.SubmitJob(context.Background(), api.JobRequest{URL: "https://example.com/v"}, "")
	if err != nil || j.Tenant != "acme" {
		t.Fatalf("the new key cannot submit: %+v %v", j, err)
	}

	out, _, code = run(t, env, "keys", "list", "--tenant", "acme")
	if code != 0 || !strings.Contains(out, "acme") || !strings.Contains(out, "submitter") || strings.Contains(out, key) {
		t.Fatalf("keys list: %d %q", code, out)
	}

	out, stderr, code = run(t, env, "tenants", "share", "acme", "--weight", "2", "--max-running", "3")
	if code != 0 || !strings.Contains(out, "acme: weight 2, max running 3") {
		t.Fatalf("tenants share: %d %q %q", code, out, stderr)
	}

	// agents enroll prints the token alone.
	out, stderr, code = run(t, env, "agents", "enroll", "--labels", "gpu=a100,zone=eu", "--ttl", "1h")
	tok := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(tok, "yte_") || strings.Contains(tok, "\n") {
		t.Fatalf("agents enroll: %d %q %q", code, out, stderr)
	}
	reg, err := api.NewClient(url, "", nil).Register(context.Background(), api.RegisterRequest{EnrollmentToken: tok, Name: "a1"})
	if err != nil {
		t.Fatalf("register with the enrolled token: %v", err)
	}
	out, _, code = run(t, env, "agents", "list")
	if code != 0 || !strings.Contains(out, reg.AgentID) || !strings.Contains(out, "active") {
		t.Fatalf("agents list: %d %q", code, out)
	}
	out, _, code = run(t, env, "agents", "drain", reg.AgentID)
	if code != 0 || !strings.Contains(out, `"draining"`) {
		t.Fatalf("agents drain: %d %q", code, out)
	}
	if _, _, code = run(t, env, "agents", "resume", reg.AgentID); code != 0 {
		t.Fatal("agents resume failed")
	}

	// jobs list/get/cancel/retry.
	out, _, code = run(t, env, "jobs", "list", "--status", "queued")
	if code != 0 || !strings.Contains(out, j.ID) {
		t.Fatalf("jobs list: %d %q", code, out)
	}
	out, _, code = run(t, env, "jobs", "get", "-o", "table", j.ID)
	if code != 0 || !strings.Contains(out, "STATUS    queued") || !strings.Contains(out, "prepare     queued") {
		t.Fatalf("jobs get -o table: %d %q", code, out)
	}
	out, _, code = run(t, env, "jobs", "get", j.ID)
	if code != 0 || !strings.Contains(out, `"queued"`) || !strings.Contains(out, `"chunk_seconds": 120`) ||
		!strings.Contains(out, `"kind": "prepare"`) {
		t.Fatalf("jobs get: %d %q", code, out)
	}
	out, _, code = run(t, env, "jobs", "cancel", j.ID)
	if code != 0 || !strings.Contains(out, `"canceled"`) {
		t.Fatalf("jobs cancel: %d %q", code, out)
	}
	out, _, code = run(t, env, "jobs", "retry", j.ID)
	if code != 0 || !strings.Contains(out, `"queued"`) {
		t.Fatalf("jobs retry: %d %q", code, out)
	}

	// Errors are reported with the API's code and a non-zero exit.
	_, stderr, code = run(t, env, "jobs", "get", "no-such-job")
	if code == 0 || !strings.Contains(stderr, "not_found") {
		t.Fatalf("jobs get unknown: %d %q", code, stderr)
	}
	_, stderr, code = run(t, map[string]string{}, "jobs", "list")
	if code == 0 || !strings.Contains(stderr, "YTCAPTION_SERVER") {
		t.Fatalf("no server: %d %q", code, stderr)
	}

	// keys revoke takes effect at once.
	keys, _ := api.NewClient(url, adminKey, nil).ListKeys(context.Background(), "acme")
	if _, _, code = run(t, env, "keys", "revoke", keys.Keys[0].ID); code != 0 {
		t.Fatal("keys revoke failed")
	}
	if _, err := c.GetJob(context.Background(), j.ID); err == nil {
		t.Fatal("a revoked key still works")
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]string{
		"sqlite":   filepath.Join(t.TempDir(), "m.db"),
		"postgres": testenv.Postgres(t),
	} {
		for range 2 { // idempotent
			out, stderr, code := run(t, map[string]string{}, "migrate", "--database-url", dsn)
			if code != 0 || !strings.Contains(out, "migrations applied") {
				t.Fatalf("%s: migrate: %d %q %q", name, code, out, stderr)
			}
		}
	}
}
