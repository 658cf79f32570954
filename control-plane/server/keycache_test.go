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

// TestKeyRevocationReachesEveryReplica: API keys are served from a cache on
// each replica, yet a key revoked on replica A is refused at once on replica
// B (and on A), because the revocation is published on Redis.
func TestKeyRevocationReachesEveryReplica(t *testing.T) {
	t.Parallel()
	redisURL, prefix := testenv.Redis(t)
	cfg := server.Config{DatabaseURL: testenv.Postgres(t), RedisURL: redisURL, RedisPrefix: prefix, AllowPrivateSources: true}
	a := startReplica(t, cfg)
	b := startReplica(t, cfg)
	ctx := context.Background()
	k, err := a.admin.CreateKey(ctx, api.KeyRequest{Tenant: "acme", Role: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	onA := api.NewClient(a.url, k.Secret, nil)
	onB := api.NewClient(b.url, k.Secret, nil)
	for range 3 { // the key is now cached on both replicas
		for _, c := range []*api.Client{onA, onB} {
			if _, err := c.ListJobs(ctx, "", 1, ""); err != nil {
				t.Fatalf("key refused before revocation: %v", err)
			}
		}
	}
	if err := a.admin.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	// A's cache is evicted before its reply; B's when the Redis message
	// arrives, which is a fraction of a millisecond but asynchronous.
	for name, c := range map[string]*api.Client{"A": onA, "B": onB} {
		start := time.Now()
		for {
			_, err := c.ListJobs(ctx, "", 1, "")
			var se *api.StatusError
			if errors.As(err, &se) && se.Status == http.StatusUnauthorized {
				t.Logf("replica %s refuses the key %v after revocation", name, time.Since(start))
				break
			}
			if time.Since(start) > 2*time.Second {
				t.Fatalf("replica %s still accepts a revoked key: %v", name, err)
			}
			time.Sleep(time.Millisecond)
		}
	}
}
