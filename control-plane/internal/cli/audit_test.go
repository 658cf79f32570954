package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// TestAdminViews: audit, tenants list, and agents enrollments list/revoke.
func TestAdminViews(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	env := map[string]string{"YTCAPTION_SERVER": url, "YTCAPTION_API_KEY": adminKey}

	if _, stderr, code := run(t, env, "keys", "create", "--tenant", "acme", "--role", "viewer"); code != 0 {
		t.Fatalf("keys create: %q", stderr)
	}
	if _, stderr, code := run(t, env, "tenants", "share", "acme", "--weight", "3"); code != 0 {
		t.Fatalf("tenants share: %q", stderr)
	}
	out, stderr, code := run(t, env, "tenants", "list")
	if code != 0 || !strings.Contains(out, "TENANT") || !strings.Contains(out, "acme") || !strings.Contains(out, "default") {
		t.Fatalf("tenants list: %d %q %q", code, out, stderr)
	}

	tok, _, code := run(t, env, "agents", "enroll", "--max-uses", "2")
	if code != 0 {
		t.Fatal("agents enroll failed")
	}
	out, stderr, code = run(t, env, "agents", "enrollments", "list", "--json")
	var el api.EnrollmentList
	if code != 0 || json.Unmarshal([]byte(out), &el) != nil || len(el.Enrollments) != 1 || strings.Contains(out, strings.TrimSpace(tok)) {
		t.Fatalf("agents enrollments list: %d %q %q", code, out, stderr)
	}
	out, _, code = run(t, env, "agents", "enrollments", "list")
	if code != 0 || !strings.Contains(out, el.Enrollments[0].ID) || !strings.Contains(out, "0/2") {
		t.Fatalf("agents enrollments list: %d %q", code, out)
	}
	out, stderr, code = run(t, env, "agents", "enrollments", "revoke", el.Enrollments[0].ID)
	if code != 0 || !strings.Contains(out, `"revoked"`) {
		t.Fatalf("agents enrollments revoke: %d %q %q", code, out, stderr)
	}
	if _, err := api.NewClient(url, "", nil).Register(context.Background(), api.RegisterRequest{EnrollmentToken: strings.TrimSpace(tok)}); err == nil {
		t.Fatal("a revoked enrollment token still enrolls")
	}

	out, stderr, code = run(t, env, "audit", "--action", "keys")
	if code != 0 || !strings.Contains(out, "ACTION") || !strings.Contains(out, "keys.create") || strings.Contains(out, "tenants.share") {
		t.Fatalf("audit --action keys: %d %q %q", code, out, stderr)
	}
	out, _, code = run(t, env, "audit", "--tenant", "default", "-o", "json", "--limit", "2")
	var al api.AuditList
	if code != 0 || json.Unmarshal([]byte(out), &al) != nil || len(al.Entries) != 2 || al.NextCursor == "" ||
		al.Entries[0].Action != "enrollments.revoke" || al.Entries[1].Action != "enrollments.create" {
		t.Fatalf("audit -o json: %d %q", code, out)
	}
	out, _, code = run(t, env, "audit", "--tenant", "default", "--limit", "2", "--cursor", al.NextCursor)
	if code != 0 || !strings.Contains(out, "tenants.share") || !strings.Contains(out, "acme") {
		t.Fatalf("audit --cursor: %d %q", code, out)
	}
	if _, stderr, code = run(t, env, "audit", "-o", "yaml"); code == 0 || !strings.Contains(stderr, "-o") {
		t.Fatalf("audit -o yaml: %d %q", code, stderr)
	}
}
