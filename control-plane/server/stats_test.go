package server_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// TestStats: a viewer sees its tenant's statistics only, an admin every
// tenant's with the breakdown by tenant; an unknown window is refused.
func TestStats(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	client := func(tenant, role string) *api.Client {
		k, err := r.admin.CreateKey(ctx, api.KeyRequest{Tenant: tenant, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return api.NewClient(r.url, k.Secret, validatingClient())
	}
	submit := func(c *api.Client, n int) {
		for range n {
			if _, err := c.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/m.mp4"}, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	submit(client("acme", "submitter"), 2)
	submit(client("zeta", "submitter"), 1)
	viewer := client("acme", "viewer")

	cases := []struct {
		name      string
		c         *api.Client
		window    api.StatsWindow
		submitted int64
		tenants   []string
		buckets   int
	}{
		{"viewer, hour", viewer, api.Window1h, 2, []string{"acme"}, 60},
		{"viewer, day", viewer, api.Window24h, 2, []string{"acme"}, 96},
		{"admin, week", r.admin, api.Window7d, 3, []string{"acme", "zeta"}, 168},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.c.Stats(ctx, tc.window)
			if err != nil {
				t.Fatal(err)
			}
			var tenants []string
			for _, ts := range s.Tenants {
				tenants = append(tenants, ts.Tenant)
			}
			if s.Summary.Submitted != tc.submitted || s.Totals[api.JobQueued] != tc.submitted || len(s.Buckets) != tc.buckets ||
				len(tenants) != len(tc.tenants) || tenants[0] != tc.tenants[0] {
				t.Fatalf("stats: summary %+v, totals %v, %d buckets, tenants %v; want %d submitted and queued, %d buckets, tenants %v",
					s.Summary, s.Totals, len(s.Buckets), tenants, tc.submitted, tc.buckets, tc.tenants)
			}
			if last := s.Buckets[len(s.Buckets)-1]; last.QueueDepth != tc.submitted {
				t.Fatalf("queue depth now = %d, want %d", last.QueueDepth, tc.submitted)
			}
		})
	}
	_, err := viewer.Stats(ctx, "2h")
	var ae *api.StatusError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Fatalf("window 2h: err = %v, want 400", err)
	}
}
