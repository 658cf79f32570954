package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/agent/internal/cli"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, &out, &errb, func(string) string { return "" })
	return out.String(), errb.String(), code
}

func TestInstall(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	out, stderr, code := run(t, "install", "--root", root, "--bin", "/usr/local/bin/ytcaption-agent",
		"--server", "https://captions.example.com", "--token", "yte_abc_secretsecret", "--concurrency", "2",
		"--labels", "gpu=a100", "--roles", "transcribe", "--ca-cert", "/etc/ytcaption/ca.pem", "--grace", "90s")
	if code != 0 {
		t.Fatalf("install: %d %s", code, stderr)
	}
	if !strings.Contains(out, "systemctl daemon-reload") {
		t.Errorf("no next step printed: %q", out)
	}
	unit, err := os.ReadFile(filepath.Join(root, "etc/systemd/system/ytcaption-agent.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecStart=/usr/local/bin/ytcaption-agent run", "EnvironmentFile=/etc/ytcaption/agent.env",
		"DynamicUser=yes", "KillSignal=SIGTERM", "KillMode=mixed", "TimeoutStopSec=120s", "NoNewPrivileges=yes"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	envPath := filepath.Join(root, "etc/ytcaption/agent.env")
	env, err := os.ReadFile(envPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"YTCAPTION_AGENT_SERVER=https://captions.example.com", "YTCAPTION_AGENT_TOKEN=yte_abc_secretsecret",
		"YTCAPTION_AGENT_CONCURRENCY=2", "YTCAPTION_AGENT_LABELS=gpu=a100", "YTCAPTION_AGENT_ROLES=transcribe", "YTCAPTION_AGENT_CA_CERT=/etc/ytcaption/ca.pem"} {
		if !strings.Contains(string(env), want+"\n") {
			t.Errorf("env file lacks %q:\n%s", want, env)
		}
	}
	if st, _ := os.Stat(envPath); st.Mode().Perm() != 0o600 {
		t.Errorf("env file mode %v: it holds the token", st.Mode().Perm())
	}
	if _, _, code := run(t, "install", "--root", t.TempDir(), "--server", "x"); code == 0 {
		t.Error("install without a token succeeded")
	}
	if _, _, code := run(t, "install", "--root", t.TempDir(), "--server", "x", "--token", "t", "--labels", "bad"); code == 0 {
		t.Error("install with malformed labels succeeded")
	}
	if _, _, code := run(t, "install", "--root", t.TempDir(), "--server", "x", "--token", "t", "--roles", "merge"); code == 0 {
		t.Error("install with an unknown role succeeded")
	}
}

func TestRunRoles(t *testing.T) {
	t.Parallel()
	tests := []struct{ roles, want string }{
		{"merge", `role "merge"`},
		{",", "at least one"},
	}
	for _, tt := range tests {
		_, stderr, code := run(t, "run", "--server", "http://127.0.0.1:1", "--token", "yta_a_b", "--state-dir", "", "--roles", tt.roles)
		if code == 0 || !strings.Contains(stderr, tt.want) {
			t.Errorf("run --roles %q: %d %q", tt.roles, code, stderr)
		}
	}
}
