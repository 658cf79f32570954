package cli_test

import (
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/internal/cli"
)

// TestWebhookSecretCommand: `webhooks secret --tenant T` prints the tenant's
// current secret alone, the same each time; --rotate prints a new one.
func TestWebhookSecretCommand(t *testing.T) {
	t.Parallel()
	env := map[string]string{"YTCAPTION_SERVER": startServer(t), "YTCAPTION_API_KEY": adminKey}
	first, errOut, code := run(t, env, "webhooks", "secret", "--tenant", "acme")
	if code != 0 || !strings.HasPrefix(first, "whsec_") || strings.Count(first, "\n") != 1 {
		t.Fatalf("secret: %q (exit %d, %s)", first, code, errOut)
	}
	again, _, _ := run(t, env, "webhooks", "secret", "--tenant", "acme")
	rotated, _, _ := run(t, env, "webhooks", "secret", "--tenant", "acme", "--rotate")
	other, _, _ := run(t, env, "webhooks", "secret", "--tenant", "globex")
	if again != first || rotated == first || other == first {
		t.Fatalf("first %q again %q rotated %q other tenant %q", first, again, rotated, other)
	}
}

// TestExitCodesAndCompletion: documented exit codes; shell completion.
func TestExitCodesAndCompletion(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		out  string
	}{
		{"completion", nil, []string{"completion", "bash"}, cli.ExitOK, "bash completion"},
		{"usage", nil, []string{"jobs", "list", "--nope"}, cli.ExitUsage, ""},
		{"unauthorized", map[string]string{"YTCAPTION_SERVER": srv, "YTCAPTION_API_KEY": "wrong-key-123456"}, []string{"jobs", "list"}, cli.ExitAuth, ""},
		{"jobs list -o json", map[string]string{"YTCAPTION_SERVER": srv, "YTCAPTION_API_KEY": adminKey}, []string{"jobs", "list", "-o", "json"}, cli.ExitOK, `"jobs": [`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := run(t, tc.env, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) {
				t.Fatalf("exit %d (want %d), stdout %.200q, stderr %q", code, tc.code, out, errOut)
			}
		})
	}
}
