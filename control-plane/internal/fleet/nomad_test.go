package fleet

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// fakeNomad follows the documented Nomad HTTP API for the calls the fleet
// makes: GET /v1/nodes?resources=true, POST /v1/node/:id/drain,
// GET and POST /v1/job/:id/scale.
type fakeNomad struct {
	mu     sync.Mutex
	count  map[string]int // group -> desired
	scales []map[string]any
	drains map[string]map[string]any
}

func newFakeNomad(t *testing.T) (*fakeNomad, *httptest.Server) {
	t.Helper()
	f := &fakeNomad{count: map[string]int{"agent": 2}, drains: map[string]map[string]any{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeNomad) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("X-Nomad-Token") != "nomad-token" {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("Permission denied"))
		return
	}
	w.Header().Set("X-Nomad-Index", "42")
	enc := json.NewEncoder(w)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/nodes":
		if r.URL.Query().Get("resources") != "true" {
			http.Error(w, "want resources=true", http.StatusBadRequest)
			return
		}
		_ = enc.Encode([]map[string]any{
			{"ID": "node-gpu", "Name": "gpu-1", "Datacenter": "dc1", "NodePool": "gpu", "NodeClass": "a100", "Status": "ready",
				"Drain": false, "SchedulingEligibility": "eligible",
				"NodeResources": map[string]any{"Devices": []map[string]any{{"Vendor": "nvidia", "Type": "gpu", "Name": "A100",
					"Instances": []map[string]any{{"ID": "GPU-1", "Healthy": true}, {"ID": "GPU-2", "Healthy": false}}}}}},
			{"ID": "node-cpu", "Name": "cpu-1", "Datacenter": "dc1", "NodePool": "default", "Status": "ready",
				"Drain": true, "SchedulingEligibility": "ineligible"},
		})
	case strings.HasPrefix(r.URL.Path, "/v1/node/") && strings.HasSuffix(r.URL.Path, "/drain"):
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.drains[strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/node/"), "/drain")] = body
		_ = enc.Encode(map[string]any{"EvalIDs": []string{}, "EvalCreateIndex": 0, "NodeModifyIndex": 43})
	case r.URL.Path == "/v1/job/ytcaption-agent-cpu/scale" && r.Method == http.MethodGet:
		groups := map[string]any{}
		for g, n := range f.count {
			groups[g] = map[string]any{"Desired": n, "Placed": n, "Running": n, "Healthy": n}
		}
		_ = enc.Encode(map[string]any{"JobID": "ytcaption-agent-cpu", "Namespace": "default", "TaskGroups": groups})
	case r.URL.Path == "/v1/job/ytcaption-agent-cpu/scale" && (r.Method == http.MethodPut || r.Method == http.MethodPost):
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.scales = append(f.scales, body)
		target := body["Target"].(map[string]any)
		f.count[target["Group"].(string)] = int(body["Count"].(float64))
		_ = enc.Encode(map[string]any{"EvalID": "eval-1", "EvalCreateIndex": 44, "JobModifyIndex": 44})
	default:
		http.NotFound(w, r)
	}
}

func TestNomadNodesDrainScale(t *testing.T) {
	t.Parallel()
	f, srv := newFakeNomad(t)
	n, err := NewNomad(NomadConfig{Addr: srv.URL, Token: "nomad-token"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	nodes, err := n.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[1].Name != "gpu-1" || nodes[1].Pool != "gpu" || !nodes[1].Eligible || nodes[0].Eligible || !nodes[0].Drain {
		t.Fatalf("nodes %+v", nodes)
	}
	if d := nodes[1].Devices; len(d) != 1 || d[0].Count != 2 || d[0].Healthy != 1 || d[0].Vendor != "nvidia" {
		t.Fatalf("devices %+v", d)
	}

	if err := n.DrainNode(ctx, "node-gpu", 30*time.Minute, "agent drained"); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	drain := f.drains["node-gpu"]
	f.mu.Unlock()
	spec, _ := drain["DrainSpec"].(map[string]any)
	if spec == nil || spec["Deadline"].(float64) != float64(30*time.Minute) || drain["NodeID"] != "node-gpu" {
		t.Fatalf("drain body %v", drain)
	}
	if meta := drain["Meta"].(map[string]any); meta["message"] != "agent drained" {
		t.Fatalf("drain meta %v", meta)
	}

	c, err := n.GroupCount(ctx, "ytcaption-agent-cpu", "agent")
	if err != nil || c != 2 {
		t.Fatalf("count %d %v", c, err)
	}
	if _, err := n.GroupCount(ctx, "ytcaption-agent-cpu", "nope"); err == nil {
		t.Fatal("unknown group accepted")
	}
	if err := n.Scale(ctx, "ytcaption-agent-cpu", "agent", 5, "queue long", map[string]any{"from": 2}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	req := f.scales[0]
	f.mu.Unlock()
	if req["Count"].(float64) != 5 || req["Message"] != "queue long" || req["Target"].(map[string]any)["Job"] != "ytcaption-agent-cpu" {
		t.Fatalf("scaling request %v", req)
	}

	bad, _ := NewNomad(NomadConfig{Addr: srv.URL, Token: "wrong"})
	if _, err := bad.Nodes(ctx); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("err = %v", err)
	}
}

func TestJoin(t *testing.T) {
	t.Parallel()
	now := time.Now()
	nodes := []api.NomadNode{{ID: "n1", Name: "a"}, {ID: "n2", Name: "b"}}
	agents := []store.Agent{
		{ID: "a1", Name: "gpu-agent", Capabilities: api.Capabilities{Labels: map[string]string{api.LabelNomadNode: "n2", api.LabelNomadAlloc: "alloc-1"}}},
		{ID: "a2", Name: "laptop"},
		{ID: "a3", Name: "revoked", RevokedAt: &now, Capabilities: api.Capabilities{Labels: map[string]string{api.LabelNomadNode: "n1"}}},
		{ID: "a4", Name: "gone node", Draining: true, Capabilities: api.Capabilities{Labels: map[string]string{api.LabelNomadNode: "n9"}}},
	}
	got := Join(nodes, agents)
	if len(got.Nodes[0].Agents) != 0 || len(got.Nodes[1].Agents) != 1 || got.Nodes[1].Agents[0].AllocID != "alloc-1" {
		t.Fatalf("joined %+v", got.Nodes)
	}
	if len(got.Unplaced) != 2 || got.Unplaced[0].ID != "a2" || !got.Unplaced[1].Draining {
		t.Fatalf("unplaced %+v", got.Unplaced)
	}
}
