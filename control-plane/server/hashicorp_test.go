package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/secrets"
)

func TestApplySecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Config
		vals secrets.Values
		want Config
	}{
		{name: "vault wins", in: Config{DatabaseURL: "env.db", AdminKey: "env-key"},
			vals: secrets.Values{"database_url": "postgres://vault", "admin_key": "vault-key", "s3_secret_key": "s"},
			want: Config{DatabaseURL: "postgres://vault", AdminKey: "vault-key", S3: S3Config{SecretKey: "s"}}},
		{name: "missing keys keep the flag value", in: Config{RedisURL: "redis://env"}, vals: secrets.Values{"unrelated": "x"},
			want: Config{RedisURL: "redis://env"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.in
			applySecrets(&got, tt.vals)
			if got.DatabaseURL != tt.want.DatabaseURL || got.AdminKey != tt.want.AdminKey || got.RedisURL != tt.want.RedisURL || got.S3 != tt.want.S3 {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

// hashicorpFake answers the Consul agent endpoints and Vault's AppRole login
// and KV v2 read, recording what the replica did.
type hashicorpFake struct {
	mu          sync.Mutex
	registered  map[string]string // id -> check URL
	deregisterd []string
	kvReads     int
}

func (f *hashicorpFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/v1/agent/service/register":
		var body struct {
			ID    string
			Check struct{ HTTP string }
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.registered[body.ID] = body.Check.HTTP
	case strings.HasPrefix(r.URL.Path, "/v1/agent/service/deregister/"):
		f.deregisterd = append(f.deregisterd, strings.TrimPrefix(r.URL.Path, "/v1/agent/service/deregister/"))
	case r.URL.Path == "/v1/auth/approle/login":
		_, _ = io.WriteString(w, `{"auth":{"client_token":"hvs.t","lease_duration":3600,"renewable":true}}`)
	case r.URL.Path == "/v1/secret/data/ytcaption" && r.Header.Get("X-Vault-Token") == "hvs.t":
		f.kvReads++
		_, _ = io.WriteString(w, `{"data":{"data":{"admin_key":"admin-key-from-vault"},"metadata":{"version":1}}}`)
	default:
		http.NotFound(w, r)
	}
}

func TestReplicaUsesVaultAndConsul(t *testing.T) {
	t.Parallel()
	f := &hashicorpFake{registered: map[string]string{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		Vault:  VaultConfig{Addr: srv.URL, RoleID: "r", SecretID: "s", RefreshInterval: time.Hour},
		Consul: ConsulConfig{Addr: srv.URL}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if s.cfg.AdminKey != "admin-key-from-vault" || s.GeneratedAdminKey() != "" {
		t.Fatalf("admin key not taken from vault: %q", s.cfg.AdminKey)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		f.mu.Lock()
		n := len(f.registered)
		f.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica did not register in consul")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, check := range f.registered {
		if !strings.HasSuffix(check, "/readyz") || len(f.deregisterd) != 1 || f.deregisterd[0] != id {
			t.Fatalf("registered %v, deregistered %v", f.registered, f.deregisterd)
		}
	}
	if f.kvReads != 1 {
		t.Fatalf("kv reads %d", f.kvReads)
	}
}
