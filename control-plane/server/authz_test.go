package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// principal is one caller of the matrix: a role of a tenant, or a broken
// credential.
type principal struct {
	name   string
	key    string
	role   store.Role // "" for a credential that must be refused
	tenant string
}

// authzRoute is one public route with what it needs.
type authzRoute struct {
	name, method, path string // path placeholders: {job} {key} {agent} {endpoint} {enrollment} {artifact}
	act                auth.Action
	jobScoped          bool // the path names a job of the "own" or "other" tenant
	body               string
	ctype              string
	ok                 int // status when the caller may do it
}

// TestAuthorizationMatrix checks every public route × every role × own and
// other tenant × missing, forged, expired and revoked credentials against
// the expected status of each cell.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	mk := func(tenant, role string, exp *time.Time) string {
		k, err := r.admin.CreateKey(ctx, api.KeyRequest{Tenant: tenant, Role: role, ExpiresAt: exp})
		if err != nil {
			t.Fatal(err)
		}
		return k.Secret
	}
	soon := time.Now().Add(1500 * time.Millisecond)
	expired := mk("acme", "submitter", &soon)
	revoked := mk("acme", "admin", nil)
	keys, _ := r.admin.ListKeys(ctx, "acme")
	for _, k := range keys.Keys {
		if k.Role == "admin" {
			if err := r.admin.RevokeKey(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	forged := adminKey[:len(adminKey)-3] + "xyz"
	principals := []principal{
		{"admin", adminKey, store.RoleAdmin, "default"},
		{"operator", mk("ops", "operator", nil), store.RoleOperator, "ops"},
		{"submitter", mk("acme", "submitter", nil), store.RoleSubmitter, "acme"},
		{"viewer", mk("acme", "viewer", nil), store.RoleViewer, "acme"},
		{"no credential", "", "", ""},
		{"forged", forged, "", ""},
		{"forged ytc", "ytc_" + strings.Repeat("0", 32) + "_bogus-secret-value", "", ""},
		{"expired", expired, "", ""},
		{"revoked", revoked, "", ""},
	}
	// Jobs are made by a submitter of each tenant.
	owners := map[string]*api.Client{
		"own":   api.NewClient(r.url, principals[2].key, nil),
		"other": api.NewClient(r.url, mk("zeta", "submitter", nil), nil),
	}
	ag := enrollAgent(t, r, "matrix-agent", api.Capabilities{})
	time.Sleep(time.Until(soon) + 100*time.Millisecond) // the expiring key is now expired

	routes := []authzRoute{
		{"submit", "POST", "/v1/jobs", auth.SubmitJobs, false, `{"url":"https://example.com/m.mp4"}`, "application/json", 202},
		{"list", "GET", "/v1/jobs", auth.ReadJobs, false, "", "", 200},
		{"get", "GET", "/v1/jobs/{job}", auth.ReadJobs, true, "", "", 200},
		{"cancel", "POST", "/v1/jobs/{job}/cancel", auth.CancelJobs, true, "", "", 200},
		{"retry", "POST", "/v1/jobs/{canceled}/retry", auth.SubmitJobs, true, "", "", 200},
		{"tasks", "GET", "/v1/jobs/{job}/tasks", auth.ReadJobs, true, "", "", 200},
		{"captions", "GET", "/v1/jobs/{job}/captions", auth.ReadJobs, true, "", "", 409}, // queued: no captions yet
		{"events", "GET", "/v1/jobs/{canceled}/events", auth.ReadJobs, true, "", "", 200},
		{"media", "GET", "/v1/jobs/{job}/media?format=json", auth.ReadJobs, true, "", "", 404}, // queued: media_unavailable
		{"stats", "GET", "/v1/stats?window=24h", auth.ReadJobs, false, "", "", 200},
		{"stats stream", "GET", "/v1/stats/stream?window=1h&series=agents&interval=1", auth.ReadJobs, false, "", "", 200},
		{"create key", "POST", "/v1/keys", auth.ManageKeys, false, `{"tenant":"acme","role":"viewer"}`, "application/json", 201},
		{"list keys", "GET", "/v1/keys", auth.ManageKeys, false, "", "", 200},
		{"revoke key", "POST", "/v1/keys/{key}/revoke", auth.ManageKeys, false, "", "", 204},
		{"enroll", "POST", "/v1/agents/enrollments", auth.ManageFleet, false, `{}`, "application/json", 201},
		{"list enrollments", "GET", "/v1/agents/enrollments", auth.ManageFleet, false, "", "", 200},
		{"revoke enrollment", "POST", "/v1/agents/enrollments/{enrollment}/revoke", auth.ManageFleet, false, "", "", 200},
		{"tenants", "GET", "/v1/tenants", auth.ManageKeys, false, "", "", 200},
		{"audit", "GET", "/v1/audit?action=keys", auth.ManageKeys, false, "", "", 200},
		{"list agents", "GET", "/v1/agents", auth.ManageFleet, false, "", "", 200},
		{"drain agent", "POST", "/v1/agents/{agent}/drain", auth.ManageFleet, false, "", "", 200},
		{"resume agent", "POST", "/v1/agents/{agent}/resume", auth.ManageFleet, false, "", "", 200},
		{"fleet nodes", "GET", "/v1/fleet/nodes", auth.ManageFleet, false, "", "", 404}, // no Nomad here
		{"fleet drain", "POST", "/v1/fleet/agents/{agent}/drain", auth.ManageFleet, false, "", "", 200},
		{"autoscaler", "GET", "/v1/fleet/autoscaler", auth.ManageFleet, false, "", "", 200},
		{"create endpoint", "POST", "/v1/webhooks/endpoints", auth.SubmitJobs, false, `{"url":"https://example.com/hook"}`, "application/json", 201},
		{"list endpoints", "GET", "/v1/webhooks/endpoints", auth.ReadJobs, false, "", "", 200},
		{"delete endpoint", "DELETE", "/v1/webhooks/endpoints/{endpoint}", auth.SubmitJobs, false, "", "", 204},
		{"list deliveries", "GET", "/v1/webhooks/deliveries", auth.ReadJobs, false, "", "", 200},
		{"get delivery", "GET", "/v1/webhooks/deliveries/no-such-delivery", auth.ReadJobs, false, "", "", 404},
		{"redeliver", "POST", "/v1/webhooks/deliveries/no-such-delivery/redeliver", auth.SubmitJobs, false, "", "", 404},
		{"webhook secret", "GET", "/v1/webhooks/secret", auth.SubmitJobs, false, "", "", 200},
		{"rotate secret", "POST", "/v1/webhooks/secret/rotate", auth.SubmitJobs, false, "", "", 200},
		{"push artifact", "POST", "/v1/artifacts", auth.ManageArtifacts, false, `{"name":"m.bin","kind":"model","version":"v1","sha256":"` + strings.Repeat("a", 64) + `","size":1}`, "application/json", 201},
		{"list artifacts", "GET", "/v1/artifacts", auth.ReadJobs, false, "", "", 200},
		{"commit artifact", "POST", "/v1/artifacts/{artifact}/commit", auth.ManageArtifacts, false, "", "", 409}, // nothing uploaded
		{"delete artifact", "DELETE", "/v1/artifacts/{artifact}", auth.ManageArtifacts, false, "", "", 204},
		{"transcriptions", "POST", "/v1/audio/transcriptions", auth.SubmitJobs, false, "model=whisper-1", "application/x-www-form-urlencoded", 400}, // no file
	}

	cells := 0
	for _, rt := range routes {
		for _, p := range principals {
			rels := []string{""}
			if rt.jobScoped {
				rels = []string{"own", "other"}
			}
			for _, rel := range rels {
				want := expectStatus(rt, p, rel)
				path := fillPath(t, r, rt, p, rel, owners, ag.id)
				status := do(t, r, rt.method, path, p.key, rt.ctype, rt.body)
				cells++
				if status != want {
					t.Errorf("%s %s as %s (%s tenant): got %d, want %d", rt.method, path, p.name, rel, status, want)
				}
			}
		}
	}
	t.Logf("%d cells checked", cells)
}

// expectStatus is the rule the matrix checks: a refused credential is 401;
// a role without the right is 403; another tenant's job is 404 for roles
// scoped to their tenant; otherwise the route's own answer.
func expectStatus(rt authzRoute, p principal, rel string) int {
	if p.role == "" {
		return http.StatusUnauthorized
	}
	pr := auth.Principal{Tenant: p.tenant, Role: p.role}
	if !pr.Can(rt.act) {
		return http.StatusForbidden
	}
	if rt.jobScoped && rel == "other" && pr.Scope() != "" {
		return http.StatusNotFound
	}
	return rt.ok
}

// fillPath makes the fresh resources a cell acts on.
func fillPath(t *testing.T, r *replica, rt authzRoute, p principal, rel string, owners map[string]*api.Client, agentID string) string {
	t.Helper()
	ctx := context.Background()
	path := rt.path
	if strings.Contains(path, "{job}") || strings.Contains(path, "{canceled}") {
		j, err := owners[rel].SubmitJob(ctx, api.JobRequest{URL: "https://example.com/" + rt.name + ".mp4"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(path, "{canceled}") {
			if _, err := owners[rel].CancelJob(ctx, j.ID); err != nil {
				t.Fatal(err)
			}
		}
		path = strings.NewReplacer("{job}", j.ID, "{canceled}", j.ID).Replace(path)
	}
	if strings.Contains(path, "{key}") {
		k, err := r.admin.CreateKey(ctx, api.KeyRequest{Tenant: "acme", Role: "viewer"})
		if err != nil {
			t.Fatal(err)
		}
		path = strings.Replace(path, "{key}", k.ID, 1)
	}
	if strings.Contains(path, "{endpoint}") {
		// Made by the caller's own tenant where it may, so deleting it is
		// within its rights.
		owner := r.admin
		if p.role == store.RoleSubmitter || p.role == store.RoleViewer {
			owner = owners["own"]
		}
		var ep struct {
			ID string `json:"id"`
		}
		if err := owner.Do(ctx, http.MethodPost, "/v1/webhooks/endpoints", map[string]any{"url": "https://example.com/hook"}, &ep, nil); err != nil {
			t.Fatal(err)
		}
		path = strings.Replace(path, "{endpoint}", ep.ID, 1)
	}
	if strings.Contains(path, "{enrollment}") {
		e, err := r.admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
		if err != nil {
			t.Fatal(err)
		}
		path = strings.Replace(path, "{enrollment}", e.ID, 1)
	}
	if strings.Contains(path, "{artifact}") {
		pushed, err := r.admin.PushArtifact(ctx, api.ArtifactRequest{Name: "matrix.bin", Kind: api.ArtifactModel,
			SHA256: fmt.Sprintf("%064x", len(path)+len(p.name)), Size: 1, Version: strings.ReplaceAll(rt.name+"-"+p.name, " ", "-")})
		if err != nil {
			t.Fatal(err)
		}
		path = strings.Replace(path, "{artifact}", pushed.Artifact.ID, 1)
	}
	return strings.Replace(path, "{agent}", agentID, 1)
}

func do(t *testing.T, r *replica, method, path, key, ctype, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, r.url+path, bytes.NewReader([]byte(body)))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAgentAuthorization: an agent acts only on its own leases; API keys,
// forged, missing and revoked agent tokens are refused.
func TestAgentAuthorization(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	holder := enrollAgent(t, r, "holder", api.Capabilities{})
	other := enrollAgent(t, r, "other", api.Capabilities{})
	revoked := enrollAgent(t, r, "revoked", api.Capabilities{})
	if _, err := r.admin.AgentAction(ctx, revoked.id, "revoke"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/a.mp4"}, ""); err != nil {
		t.Fatal(err)
	}
	l := holder.leaseOne(5 * time.Second)
	hb := fmt.Sprintf(`{"token":%d}`, l.Token)
	forged := holder.token[:len(holder.token)-3] + "xyz"
	cases := []struct {
		name, token, path, body string
		want                    int
	}{
		{"holder heartbeat", holder.token, "/v1/agent/tasks/" + l.TaskID + "/heartbeat", hb, 200},
		{"other agent's heartbeat", other.token, "/v1/agent/tasks/" + l.TaskID + "/heartbeat", hb, 409},
		{"other agent's fail", other.token, "/v1/agent/tasks/" + l.TaskID + "/fail", fmt.Sprintf(`{"token":%d,"error":{"code":"x","message":"y"}}`, l.Token), 409},
		{"other agent's release", other.token, "/v1/agent/tasks/" + l.TaskID + "/release", hb, 409},
		{"api key on agent route", adminKey, "/v1/agent/lease", `{"max":1}`, 401},
		{"no token", "", "/v1/agent/lease", `{"max":1}`, 401},
		{"forged token", forged, "/v1/agent/tasks/" + l.TaskID + "/heartbeat", hb, 401},
		{"revoked agent", revoked.token, "/v1/agent/lease", `{"max":1}`, 401},
		{"agent token on public route", holder.token, "/v1/jobs", "", 401},
		{"agent artifacts", holder.token, api.PathAgentArtifacts, "", 200},
		{"api key on agent artifacts", adminKey, api.PathAgentArtifacts, "", 401},
		{"revoked agent's artifacts", revoked.token, api.PathAgentArtifacts, "", 401},
	}
	for _, c := range cases {
		method := http.MethodPost
		if c.path == "/v1/jobs" || c.path == api.PathAgentArtifacts {
			method = http.MethodGet
		}
		if got := do(t, r, method, c.path, c.token, "application/json", c.body); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
	// The holder still holds its lease after all that.
	if _, err := holder.c.Heartbeat(ctx, l.TaskID, api.HeartbeatRequest{Token: l.Token}); err != nil {
		t.Fatalf("holder lost its lease: %v", err)
	}
}
