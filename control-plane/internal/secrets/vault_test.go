package secrets

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeVault follows Vault's documented HTTP API for the calls the client
// makes: AppRole and JWT login, token lookup-self and renew-self, and KV v2
// reads (GET /v1/<mount>/data/<path>, data nested under data.data).
type fakeVault struct {
	mu        sync.Mutex
	data      map[string]any
	version   int
	logins    map[string]int // per method
	renewals  int
	renewTTLs []int // successive lease durations renew-self returns; then 0
	loginTTL  int
	tokens    map[string]bool
	lastJWT   string
}

func newFakeVault(t *testing.T) (*fakeVault, *httptest.Server) {
	t.Helper()
	f := &fakeVault{data: map[string]any{}, logins: map[string]int{}, tokens: map[string]bool{"root-token": true}, loginTTL: 3600}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeVault) put(data map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data, f.version = data, f.version+1
}

func (f *fakeVault) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if method == "renew" {
		return f.renewals
	}
	return f.logins[method]
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var body map[string]any
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		_ = json.Unmarshal(b, &body)
	}
	issue := func(method string) {
		f.logins[method]++
		tok := "hvs." + method + strings.Repeat("x", f.logins[method])
		f.tokens[tok] = true
		writeJSON(w, 200, map[string]any{"auth": map[string]any{"client_token": tok, "lease_duration": f.loginTTL, "renewable": true, "policies": []string{"ytcaption"}}})
	}
	switch {
	case r.URL.Path == "/v1/auth/approle/login" && r.Method == http.MethodPut || r.URL.Path == "/v1/auth/approle/login" && r.Method == http.MethodPost:
		if body["role_id"] != "role" || body["secret_id"] != "secret" {
			writeJSON(w, 400, map[string]any{"errors": []string{"invalid role or secret ID"}})
			return
		}
		issue("approle")
		return
	case r.URL.Path == "/v1/auth/jwt-nomad/login":
		if body["role"] != "ytcaption" {
			writeJSON(w, 400, map[string]any{"errors": []string{"role not found"}})
			return
		}
		f.lastJWT, _ = body["jwt"].(string)
		issue("jwt")
		return
	}
	tok := r.Header.Get("X-Vault-Token")
	if !f.tokens[tok] {
		writeJSON(w, 403, map[string]any{"errors": []string{"permission denied"}})
		return
	}
	switch {
	case r.URL.Path == "/v1/auth/token/lookup-self":
		writeJSON(w, 200, map[string]any{"data": map[string]any{"ttl": 0, "renewable": false, "policies": []string{"root"}}})
	case r.URL.Path == "/v1/auth/token/renew-self":
		f.renewals++
		ttl := 0
		if len(f.renewTTLs) > 0 {
			ttl, f.renewTTLs = f.renewTTLs[0], f.renewTTLs[1:]
		}
		writeJSON(w, 200, map[string]any{"auth": map[string]any{"client_token": tok, "lease_duration": ttl, "renewable": ttl > 0}})
	case strings.HasPrefix(r.URL.Path, "/v1/secret/data/"):
		if r.URL.Path != "/v1/secret/data/ytcaption" || f.version == 0 {
			writeJSON(w, 404, map[string]any{"errors": []string{}})
			return
		}
		writeJSON(w, 200, map[string]any{"data": map[string]any{
			"data":     f.data,
			"metadata": map[string]any{"version": f.version, "created_time": time.Now().UTC().Format(time.RFC3339Nano), "deletion_time": "", "destroyed": false},
		}})
	default:
		writeJSON(w, 404, map[string]any{"errors": []string{"no handler for route"}})
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestLoginAndRead(t *testing.T) {
	t.Parallel()
	jwtFile := filepath.Join(t.TempDir(), "nomad_vault_default.jwt")
	if err := os.WriteFile(jwtFile, []byte("eyJ.workload.identity\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     Config
		method  string
		wantErr string
	}{
		{name: "token", cfg: Config{Token: "root-token"}, method: "token"},
		{name: "approle", cfg: Config{RoleID: "role", SecretID: "secret", Token: "ignored"}, method: "approle"},
		{name: "approle wrong secret", cfg: Config{RoleID: "role", SecretID: "nope"}, wantErr: "approle login"},
		{name: "workload identity file", cfg: Config{JWTFile: jwtFile, JWTRole: "ytcaption"}, method: "jwt"},
		{name: "no credential", cfg: Config{}, wantErr: "no vault credential"},
		{name: "bad kv path", cfg: Config{Token: "root-token", KV: "secret"}, wantErr: "want <mount>/<path>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, srv := newFakeVault(t)
			f.put(map[string]any{"database_url": "postgres://u:p@db/ytcaption", "admin_key": "k-123456789", "max": 3})
			tt.cfg.Addr = srv.URL
			c, err := New(context.Background(), tt.cfg, quietLog())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Method() != tt.method {
				t.Fatalf("method = %q, want %q", c.Method(), tt.method)
			}
			vals, version, err := c.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if version != 1 || vals["database_url"] != "postgres://u:p@db/ytcaption" || vals["max"] != "3" {
				t.Fatalf("read %v v%d", vals, version)
			}
			if tt.method == "jwt" && f.lastJWT != "eyJ.workload.identity" {
				t.Fatalf("jwt sent = %q", f.lastJWT)
			}
		})
	}
}

func TestKeepAliveRenewsThenLogsInAgain(t *testing.T) {
	t.Parallel()
	f, srv := newFakeVault(t)
	f.put(map[string]any{"redis_url": "redis://r"})
	// A short-lived token: renewals shrink the TTL until the max TTL is hit,
	// then the watcher stops and the client must log in again.
	f.loginTTL = 2
	f.renewTTLs = []int{2, 1}
	c, err := New(context.Background(), Config{Addr: srv.URL, RoleID: "role", SecretID: "secret"}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.KeepAlive(ctx) }()
	waitFor(t, func() bool { return f.count("approle") >= 2 && f.count("renew") >= 1 })
	// The token from the second login reads the secret.
	if _, _, err := c.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
}

func TestWatchPicksUpRotation(t *testing.T) {
	t.Parallel()
	f, srv := newFakeVault(t)
	f.put(map[string]any{"admin_key": "first-key-123"})
	c, err := New(context.Background(), Config{Addr: srv.URL, Token: "root-token"}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	_, v, err := c.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan Values, 1)
	go c.Watch(ctx, 20*time.Millisecond, v, func(vals Values, _ int) { got <- vals })
	f.put(map[string]any{"admin_key": "second-key-456"})
	select {
	case vals := <-got:
		if vals["admin_key"] != "second-key-456" {
			t.Fatalf("rotated values %v", vals)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("rotation not seen")
	}
}

func TestSplitKV(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, mount, path string }{
		{"secret/ytcaption", "secret", "ytcaption"},
		{"/kv/prod/ytcaption/", "kv", "prod/ytcaption"},
		{"secret", "", ""},
	}
	for _, tt := range tests {
		m, p, err := SplitKV(tt.in)
		if m != tt.mount || p != tt.path || (err != nil) != (tt.mount == "") {
			t.Errorf("SplitKV(%q) = %q %q %v", tt.in, m, p, err)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
