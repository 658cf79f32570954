package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
	"github.com/ytcaption/ytcaption/control-plane/internal/console"
)

// auditAll reads the whole audit log page by page (small pages, so the
// cursor is exercised).
func auditAll(t *testing.T, c *api.Client, q api.AuditQuery) []api.AuditEntry {
	t.Helper()
	q.Limit = 3
	var out []api.AuditEntry
	for range 100 {
		page, err := c.Audit(context.Background(), q)
		if err != nil {
			t.Fatalf("audit: %v", err)
		}
		out = append(out, page.Entries...)
		if page.NextCursor == "" {
			return out
		}
		q.Cursor = page.NextCursor
	}
	t.Fatal("audit: more than 100 pages")
	return nil
}

// consoleSession logs in to the console with key and returns a client
// holding the session cookies, and the CSRF token to send.
func consoleSession(t *testing.T, r *replica, key string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	// Console routes are not in the OpenAPI document.
	hc := &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	body, _ := json.Marshal(map[string]string{"key": key})
	resp, err := hc.Post(r.url+"/console/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("console login: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("console login: HTTP %d", resp.StatusCode)
	}
	u, _ := url.Parse(r.url)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == console.CookieCSRF {
			return hc, ck.Value
		}
	}
	t.Fatal("console login set no CSRF cookie")
	return nil, ""
}

func consolePost(t *testing.T, hc *http.Client, r *replica, path, csrf string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.url+path, nil)
	req.Header.Set(console.HeaderCSRF, csrf)
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAuditLog drives real operator actions through the API and the
// console and checks that each is in GET /v1/audit with its actor, action,
// target, status and channel; that refusals of an authenticated caller and
// failed console logins are recorded; that job submission and the agent
// protocol are not; and that only admins may read the log.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	adminCred, _ := auth.ParseKey(adminKey)
	adminID := adminCred.ID

	made, err := r.admin.CreateKey(ctx, api.KeyRequest{Tenant: "acme", Role: "viewer", Name: "temp"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.admin.RevokeKey(ctx, made.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.admin.SetTenantShare(ctx, "acme", api.TenantShare{Weight: 2, MaxRunning: 3}); err != nil {
		t.Fatal(err)
	}
	ag := enrollAgent(t, r, "audited", api.Capabilities{})
	if _, err := r.admin.AgentAction(ctx, ag.id, "drain"); err != nil {
		t.Fatal(err)
	}
	j, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/audit.mp4"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.admin.CancelJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ag.c.Lease(ctx, api.LeaseRequest{Max: 1}); err != nil { // agent protocol: not audited
		t.Fatal(err)
	}

	viewerKey, err := r.admin.CreateKey(ctx, api.KeyRequest{Tenant: "acme", Role: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	operatorKey, err := r.admin.CreateKey(ctx, api.KeyRequest{Tenant: "ops", Role: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	viewer := api.NewClient(r.url, viewerKey.Secret, validatingClient())
	req, _ := http.NewRequest(http.MethodPost, r.url+api.PathKeys, strings.NewReader(`{"tenant":"acme","role":"admin"}`))
	req.Header.Set("Authorization", "Bearer "+viewerKey.Secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "audit-test/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer creating a key: HTTP %d, want 403", resp.StatusCode)
	}
	for name, c := range map[string]*api.Client{"viewer": viewer, "operator": api.NewClient(r.url, operatorKey.Secret, validatingClient())} {
		_, err := c.Audit(ctx, api.AuditQuery{})
		if se := (*api.StatusError)(nil); !errors.As(err, &se) || se.Status != http.StatusForbidden {
			t.Errorf("%s reading the audit log: err = %v, want 403", name, err)
		}
	}
	// An unauthenticated attempt is not an operator's: not recorded.
	if got := do(t, r, http.MethodPost, "/v1/keys/"+made.ID+"/revoke", "", "", ""); got != http.StatusUnauthorized {
		t.Fatalf("anonymous revoke: HTTP %d", got)
	}

	// The console: a failed login, a login, an action with the session
	// cookie, a logout.
	bad := do(t, r, http.MethodPost, "/console/login", "", "application/json", `{"key":"not-a-valid-key-at-all"}`)
	if bad != http.StatusUnauthorized {
		t.Fatalf("bad console login: HTTP %d", bad)
	}
	hc, csrf := consoleSession(t, r, adminKey)
	if got := consolePost(t, hc, r, "/v1/keys/"+viewerKey.ID+"/revoke", csrf); got != http.StatusNoContent {
		t.Fatalf("console revoke: HTTP %d", got)
	}
	if got := consolePost(t, hc, r, "/console/logout", csrf); got != http.StatusNoContent {
		t.Fatalf("console logout: HTTP %d", got)
	}

	entries := auditAll(t, r.admin, api.AuditQuery{})
	type want struct {
		keyID, tenant, role, action, target, method string
		status                                      int
		via                                         string
	}
	wants := []want{
		{adminID, "default", "admin", "keys.create", made.ID, "POST", 201, "api"},
		{adminID, "default", "admin", "keys.revoke", made.ID, "POST", 204, "api"},
		{adminID, "default", "admin", "tenants.share", "acme", "PUT", 200, "api"},
		{adminID, "default", "admin", "enrollments.create", "", "POST", 201, "api"}, // target checked below
		{adminID, "default", "admin", "agents.drain", ag.id, "POST", 200, "api"},
		{adminID, "default", "admin", "jobs.cancel", j.ID, "POST", 200, "api"},
		{adminID, "default", "admin", "keys.create", viewerKey.ID, "POST", 201, "api"},
		{adminID, "default", "admin", "keys.create", operatorKey.ID, "POST", 201, "api"},
		{viewerKey.ID, "acme", "viewer", "keys.create", "", "POST", 403, "api"},
		{"", "", "", "session.login", "", "POST", 401, "console"},
		{adminID, "default", "admin", "session.login", "", "POST", 200, "console"},
		{adminID, "default", "admin", "keys.revoke", viewerKey.ID, "POST", 204, "console"},
		{adminID, "default", "admin", "session.logout", "", "POST", 204, "console"},
	}
	if len(entries) != len(wants) {
		for _, e := range entries {
			t.Logf("entry: %s %s %s %d %s", e.Action, e.Target, e.Path, e.Status, e.Via)
		}
		t.Fatalf("%d entries, want %d", len(entries), len(wants))
	}
	for i, w := range wants {
		e := entries[len(entries)-1-i] // newest first
		got := want{e.KeyID, e.Tenant, e.Role, e.Action, e.Target, e.Method, e.Status, e.Via}
		if w.action == "enrollments.create" {
			if e.Target == "" {
				t.Errorf("enrollment entry has no target: %+v", e)
			}
			got.target = ""
		}
		if got != w {
			t.Errorf("entry %d = %+v, want %+v", i, got, w)
		}
		if !strings.HasPrefix(e.ID, "aud_") || e.At.IsZero() || e.RemoteAddr != "127.0.0.1" || e.Path == "" {
			t.Errorf("entry %d: id %q at %v from %q path %q", i, e.ID, e.At, e.RemoteAddr, e.Path)
		}
		if strings.HasPrefix(e.Path, "/v1/agent/") || e.Path == api.PathJobs {
			t.Errorf("entry %d records %s, which is not audited", i, e.Path)
		}
	}
	first, share, denied := entries[len(entries)-1], entries[len(entries)-3], entries[len(entries)-9]
	if first.Detail["tenant"] != "acme" || first.Detail["role"] != "viewer" || first.Path != "/v1/keys" {
		t.Errorf("keys.create detail %v path %q", first.Detail, first.Path)
	}
	if share.Detail["weight"] != 2.0 || share.Detail["max_running"] != 3.0 {
		t.Errorf("tenants.share detail %v", share.Detail)
	}
	if denied.UserAgent != "audit-test/1.0" || denied.Detail["role"] != "admin" {
		t.Errorf("refused keys.create: user agent %q detail %v", denied.UserAgent, denied.Detail)
	}
	for _, e := range entries {
		raw, _ := json.Marshal(e)
		for _, secret := range []string{adminKey, made.Secret, viewerKey.Secret, operatorKey.Secret, ag.token} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("entry %s %s holds a secret", e.ID, e.Action)
			}
		}
	}

	// Filters.
	for _, tc := range []struct {
		q    api.AuditQuery
		want int
	}{
		{api.AuditQuery{Action: "keys"}, 6},
		{api.AuditQuery{Action: "keys.revoke"}, 2},
		{api.AuditQuery{Action: "session.*"}, 3},
		{api.AuditQuery{KeyID: viewerKey.ID}, 1},
		{api.AuditQuery{Tenant: "acme"}, 1},
		{api.AuditQuery{Since: entries[0].At}, 1},
	} {
		if got := auditAll(t, r.admin, tc.q); len(got) != tc.want {
			t.Errorf("audit %+v: %d entries, want %d", tc.q, len(got), tc.want)
		}
	}
	if got := do(t, r, http.MethodGet, "/v1/audit?action=KEYS%25", adminKey, "", ""); got != http.StatusBadRequest {
		t.Errorf("bad action filter: HTTP %d, want 400", got)
	}
}

// TestTenantsAndEnrollments: GET /v1/tenants shows each tenant's share,
// usable keys and jobs; enrollment tokens are listed without their
// secret and a revoked one no longer enrolls.
func TestTenantsAndEnrollments(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	sub, err := r.admin.CreateKey(ctx, api.KeyRequest{Tenant: "acme", Role: "submitter"})
	if err != nil {
		t.Fatal(err)
	}
	acme := api.NewClient(r.url, sub.Secret, validatingClient())
	j, err := acme.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/t.mp4"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acme.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/u.mp4"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := acme.CancelJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.admin.SetTenantShare(ctx, "quiet", api.TenantShare{Weight: 4, MaxRunning: 2}); err != nil {
		t.Fatal(err)
	}
	tl, err := r.admin.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]api.TenantInfo{}
	for _, tn := range tl.Tenants {
		byName[tn.Name] = tn
	}
	if a := byName["acme"]; a.Keys != 1 || a.Weight != 1 || a.Jobs["queued"] != 1 || a.Jobs["canceled"] != 1 || a.Jobs["running"] != 0 {
		t.Errorf("acme = %+v", a)
	}
	if q := byName["quiet"]; q.Weight != 4 || q.MaxRunning != 2 || q.Keys != 0 || len(q.Jobs) != 5 {
		t.Errorf("quiet = %+v", q)
	}
	if d := byName["default"]; d.Keys != 1 {
		t.Errorf("default = %+v", d)
	}

	e, err := r.admin.CreateEnrollment(ctx, api.EnrollmentRequest{MaxUses: 3, Labels: map[string]string{"pool": "gpu"}})
	if err != nil {
		t.Fatal(err)
	}
	el, err := r.admin.ListEnrollments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(el.Enrollments) != 1 || el.Enrollments[0].ID != e.ID || el.Enrollments[0].State != api.EnrollmentActive ||
		el.Enrollments[0].MaxUses != 3 || el.Enrollments[0].Labels["pool"] != "gpu" || el.Enrollments[0].ExpiresAt == nil {
		t.Fatalf("enrollments = %+v", el)
	}
	raw := new(bytes.Buffer)
	if err := r.admin.Do(ctx, http.MethodGet, api.PathEnrollment, nil, raw, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw.String(), e.Token) || strings.Contains(raw.String(), `"token"`) {
		t.Fatalf("enrollment list shows the token: %s", raw)
	}
	rev, err := r.admin.RevokeEnrollment(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rev.State != api.EnrollmentRevoked || rev.RevokedAt == nil {
		t.Fatalf("revoked enrollment = %+v", rev)
	}
	_, err = api.NewClient(r.url, "", validatingClient()).Register(ctx, api.RegisterRequest{EnrollmentToken: e.Token, Name: "late"})
	if se := (*api.StatusError)(nil); !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
		t.Fatalf("register with a revoked token: err = %v, want 401", err)
	}
	_, err = r.admin.RevokeEnrollment(ctx, "yte_missing")
	if se := (*api.StatusError)(nil); !errors.As(err, &se) || se.Status != http.StatusNotFound {
		t.Fatalf("revoke unknown enrollment: err = %v, want 404", err)
	}
	entries := auditAll(t, r.admin, api.AuditQuery{Action: "enrollments"})
	if len(entries) != 3 || entries[0].Action != "enrollments.revoke" || entries[0].Status != 404 ||
		entries[1].Target != e.ID || entries[2].Target != e.ID || entries[2].Action != "enrollments.create" {
		t.Fatalf("enrollment audit entries = %+v", entries)
	}
}
