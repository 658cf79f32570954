package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/internal/store/sqlite"
	"github.com/ytcaption/ytcaption/control-plane/internal/telemetry"
)

// notAudited are the changing routes deliberately left out of the audit
// log: job submission (the jobs are their own record), the agent protocol
// and blob transfers.
var notAudited = []string{"POST /v1/jobs", "POST /v1/audio/transcriptions", " /v1/agent/", " /v1/blobs/"}

// TestAuditRoutesMounted keeps the audit table and the route table in
// step: every audited route exists, and every route that changes
// something is audited or explicitly exempt.
func TestAuditRoutesMounted(t *testing.T) {
	t.Parallel()
	app := New(Config{}, Deps{Now: time.Now}, slog.New(slog.DiscardHandler)).App()
	mounted := map[string]bool{}
	for _, r := range app.GetRoutes(true) {
		key := r.Method + " " + r.Path
		mounted[key] = true
		if safeMethod(r.Method) || r.Method == http.MethodTrace || r.Method == http.MethodConnect || !strings.HasPrefix(r.Path, "/v1/") {
			continue
		}
		if _, ok := auditRoutes[key]; ok {
			continue
		}
		exempt := false
		for _, n := range notAudited {
			exempt = exempt || key == n || (strings.HasPrefix(n, " ") && strings.HasPrefix(r.Path, n[1:]))
		}
		if !exempt {
			t.Errorf("%s changes something but is neither in auditRoutes nor in notAudited", key)
		}
	}
	for key := range auditRoutes {
		if !mounted[key] {
			t.Errorf("auditRoutes names %s, which is not mounted", key)
		}
	}
}

// failingAudit is a real store whose audit log cannot be written.
type failingAudit struct{ *sqlite.Store }

func (failingAudit) AppendAudit(context.Context, store.AuditEntry) error {
	return errors.New("audit log unavailable")
}

// TestAuditWriteFailure: an action that was done stands when its audit
// entry cannot be written; the failure is counted.
func TestAuditWriteFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cred := auth.New(auth.PrefixKey)
	if err := s.CreateAPIKey(ctx, store.APIKey{ID: cred.ID, Tenant: "default", Role: store.RoleAdmin, Hash: cred.Hash(),
		CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := telemetry.NewMetrics(reg, s, time.Now)
	app := New(Config{}, Deps{Store: failingAudit{s}, Blobs: testBlobs(t), Now: time.Now,
		Observe: ObserveDeps{Metrics: m, Gatherer: reg}}, slog.New(slog.DiscardHandler)).App()

	req := httptest.NewRequest(http.MethodPost, "/v1/keys", strings.NewReader(`{"tenant":"acme","role":"viewer"}`))
	req.Header.Set("Authorization", "Bearer "+cred.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create key: HTTP %d, want 201 although the audit write failed", resp.StatusCode)
	}
	keys, err := s.ListAPIKeys(ctx, "acme")
	if err != nil || len(keys) != 1 {
		t.Fatalf("the key was not created: %v %v", keys, err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var failed float64
	for _, f := range families {
		if f.GetName() == "ytcaption_audit_write_failures_total" {
			failed = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if failed != 1 {
		t.Fatalf("ytcaption_audit_write_failures_total = %v, want 1", failed)
	}
}

func TestAuditDetail(t *testing.T) {
	t.Parallel()
	body := []byte(`{"tenant":"acme","role":"viewer","secret":"s3cr3t","labels":{"a":"` + strings.Repeat("x", 600) + `"}}`)
	got := auditDetail(body, []string{"tenant", "role", "labels", "missing"})
	if len(got) != 2 || got["tenant"] != "acme" || got["role"] != "viewer" {
		t.Fatalf("detail = %v, want tenant and role only (no unlisted or oversized field)", got)
	}
	if auditDetail([]byte("not json"), []string{"tenant"}) != nil || auditDetail(body, nil) != nil {
		t.Fatal("detail from a non-JSON body or without fields")
	}
}
