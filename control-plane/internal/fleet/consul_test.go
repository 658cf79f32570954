package fleet

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
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fakeConsulAgent follows the documented agent endpoints:
// PUT /v1/agent/service/register[?replace-existing-checks=true] with an
// AgentServiceRegistration body, PUT /v1/agent/service/deregister/:id.
type fakeConsulAgent struct {
	mu       sync.Mutex
	services map[string]map[string]any
	query    []string
	tokens   []string
}

func (f *fakeConsulAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = append(f.tokens, r.Header.Get("X-Consul-Token"))
	if r.Method != http.MethodPut {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case r.URL.Path == "/v1/agent/service/register":
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.query = append(f.query, r.URL.RawQuery)
		f.services[body["ID"].(string)] = body
	case strings.HasPrefix(r.URL.Path, "/v1/agent/service/deregister/"):
		id := strings.TrimPrefix(r.URL.Path, "/v1/agent/service/deregister/")
		if _, ok := f.services[id]; !ok {
			http.Error(w, "Unknown service ID", http.StatusNotFound)
			return
		}
		delete(f.services, id)
	default:
		http.NotFound(w, r)
	}
}

func TestNewRegistration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, listen, advertise string
		wantAddr, wantCheck     string
		wantErr                 bool
	}{
		{name: "loopback", listen: "127.0.0.1:8080", wantAddr: "127.0.0.1", wantCheck: "http://127.0.0.1:8080/readyz"},
		{name: "wildcard", listen: "0.0.0.0:8080", wantAddr: "", wantCheck: "http://127.0.0.1:8080/readyz"},
		{name: "advertised", listen: "0.0.0.0:23456", advertise: "10.0.0.7", wantAddr: "10.0.0.7", wantCheck: "http://10.0.0.7:23456/readyz"},
		{name: "ipv6", listen: "[::1]:9000", wantAddr: "::1", wantCheck: "http://[::1]:9000/readyz"},
		{name: "no port", listen: "localhost", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg, err := NewRegistration("host-a/127.0.0.1:8080", tt.listen, tt.advertise, "1.2.3", []string{"blue"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr {
				return
			}
			if reg.Address != tt.wantAddr || reg.CheckURL != tt.wantCheck {
				t.Fatalf("address %q check %q", reg.Address, reg.CheckURL)
			}
			if reg.ID != "ytcaption-host-a-127.0.0.1-8080" || reg.Name != ServiceName {
				t.Fatalf("id %q name %q", reg.ID, reg.Name)
			}
			if len(reg.Tags) != 2 || reg.Tags[0] != "version=1.2.3" || reg.Tags[1] != "blue" {
				t.Fatalf("tags %v", reg.Tags)
			}
		})
	}
}

func TestRegistrarPayloadAndDeregister(t *testing.T) {
	t.Parallel()
	f := &fakeConsulAgent{services: map[string]map[string]any{}}
	srv := httptest.NewServer(f)
	defer srv.Close()

	reg, err := NewRegistration("r1", "127.0.0.1:18080", "", "0.9.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRegistrar(ConsulConfig{Addr: srv.URL, Token: "acl-token"}, reg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Register(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	body := f.services["ytcaption-r1"]
	q := f.query[0]
	f.mu.Unlock()
	if body == nil {
		t.Fatal("service not registered")
	}
	if body["Name"] != "ytcaption" || body["Port"].(float64) != 18080 || body["Address"] != "127.0.0.1" {
		t.Fatalf("payload %v", body)
	}
	if m := body["Meta"].(map[string]any); m["version"] != "0.9.0" {
		t.Fatalf("meta %v", m)
	}
	check := body["Check"].(map[string]any)
	for k, want := range map[string]string{"HTTP": "http://127.0.0.1:18080/readyz", "Interval": "5s", "Timeout": "2s",
		"DeregisterCriticalServiceAfter": "5m0s", "Method": "GET"} {
		if check[k] != want {
			t.Errorf("check %s = %v, want %q", k, check[k], want)
		}
	}
	if q != "replace-existing-checks=true" {
		t.Errorf("query %q", q)
	}
	if err := r.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.services) != 0 {
		t.Fatalf("still registered: %v", f.services)
	}
	for _, tok := range f.tokens {
		if tok != "acl-token" {
			t.Fatalf("request without the ACL token: %q", tok)
		}
	}
}

func TestDeregisterUnknownFails(t *testing.T) {
	t.Parallel()
	f := &fakeConsulAgent{services: map[string]map[string]any{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	r, err := NewRegistrar(ConsulConfig{Addr: srv.URL}, Registration{ID: "ytcaption-x", Port: 1}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Deregister(context.Background()); err == nil || !strings.Contains(err.Error(), "ytcaption-x") {
		t.Fatalf("err = %v", err)
	}
}
