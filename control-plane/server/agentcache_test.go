package server_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/server"
	"github.com/ytcaption/ytcaption/test/testenv"
)

// TestAgentChangesReachEveryReplica: agents are served from a cache on each
// replica, yet a drain, resume or revocation made on replica A holds at once
// on replica B (and on A), because the change is published on Redis.
func TestAgentChangesReachEveryReplica(t *testing.T) {
	t.Parallel()
	redisURL, prefix := testenv.Redis(t)
	cfg := server.Config{DatabaseURL: testenv.Postgres(t), RedisURL: redisURL, RedisPrefix: prefix, AllowPrivateSources: true}
	a := startReplica(t, cfg)
	b := startReplica(t, cfg)
	ag := enrollAgent(t, a, "cached", api.Capabilities{})
	clients := map[string]*api.Client{"A": ag.c, "B": ag.on(b).c}
	ctx := context.Background()
	// until polls every replica until ok holds for its lease reply.
	until := func(what string, ok func(api.LeaseResponse, error) bool) {
		t.Helper()
		for name, c := range clients {
			start := time.Now()
			for {
				resp, err := c.Lease(ctx, api.LeaseRequest{Max: 1})
				if ok(resp, err) {
					t.Logf("replica %s: %s after %v", name, what, time.Since(start))
					break
				}
				if time.Since(start) > 2*time.Second {
					t.Fatalf("replica %s: not %s: %+v, %v", name, what, resp, err)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	served := func(drain bool) func(api.LeaseResponse, error) bool {
		return func(r api.LeaseResponse, err error) bool { return err == nil && r.Drain == drain }
	}
	for range 3 { // the agent is now cached on both replicas
		until("serving", served(false))
	}
	steps := []struct {
		action string
		what   string
		ok     func(api.LeaseResponse, error) bool
	}{
		{"drain", "draining", served(true)},
		{"resume", "resumed", served(false)},
		{"revoke", "revoked", func(_ api.LeaseResponse, err error) bool {
			var se *api.StatusError
			return errors.As(err, &se) && se.Status == http.StatusUnauthorized
		}},
	}
	for _, s := range steps {
		if _, err := a.admin.AgentAction(ctx, ag.id, s.action); err != nil {
			t.Fatalf("%s: %v", s.action, err)
		}
		until(s.what, s.ok)
	}
}

// TestLeaseCapabilitiesReachTheFleet: agents send their capabilities with
// every lease; repeats are throttled, but a change is written at once.
func TestLeaseCapabilitiesReachTheFleet(t *testing.T) {
	t.Parallel()
	r := startReplica(t, server.Config{DatabaseURL: testenv.Postgres(t), AllowPrivateSources: true})
	ag := enrollAgent(t, r, "caps", api.Capabilities{})
	ctx := context.Background()
	stored := func() api.Capabilities {
		t.Helper()
		l, err := r.admin.ListAgents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range l.Agents {
			if a.ID == ag.id {
				return a.Capabilities
			}
		}
		t.Fatalf("agent %s not listed", ag.id)
		return api.Capabilities{}
	}
	for _, engine := range []string{"one", "one", "two", "one"} {
		caps := api.Capabilities{Slots: 1, Engines: []api.EngineCapability{{Name: engine}}}
		if _, err := ag.c.Lease(ctx, api.LeaseRequest{Max: 1, Capabilities: &caps}); err != nil {
			t.Fatalf("lease as %s: %v", engine, err)
		}
		if got := stored(); len(got.Engines) != 1 || got.Engines[0].Name != engine {
			t.Fatalf("after a lease as %s the fleet shows %+v", engine, got)
		}
	}
}
