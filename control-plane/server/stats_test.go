package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/server"
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

// TestStatsErrorsAndFleet: the top error codes are scoped like the rest; a
// tenant's key sees no fleet figures, an admin's the leader's samples and
// the fleet now; series=agents adds per-agent series aligned to the
// buckets.
func TestStatsErrorsAndFleet(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testStatsErrorsAndFleet(t, b.cfg(t))
		})
	}
}

func testStatsErrorsAndFleet(t *testing.T, cfg server.Config) {
	cfg.SweepInterval, cfg.FleetSampleInterval = 50*time.Millisecond, 50*time.Millisecond
	r := startReplica(t, cfg)
	ctx := context.Background()
	client := func(tenant, role string) *api.Client {
		k, err := r.admin.CreateKey(ctx, api.KeyRequest{Tenant: tenant, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return api.NewClient(r.url, k.Secret, validatingClient())
	}
	ag := enrollAgent(t, r, "a", api.Capabilities{Slots: 3})
	fail := func(c *api.Client, code string) {
		t.Helper()
		j, err := c.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/m.mp4"}, "")
		if err != nil {
			t.Fatal(err)
		}
		l := ag.leaseOne(10 * time.Second)
		if err := ag.c.Fail(ctx, l.TaskID, api.FailRequest{Token: l.Token, Error: api.Error{Code: code, Message: "no"}}); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, r.admin, j.ID, api.JobFailed)
	}
	acme, zeta := client("acme", "submitter"), client("zeta", "submitter")
	fail(acme, api.CodeUndecodable)
	fail(acme, api.CodeUndecodable)
	fail(zeta, api.CodeNoAudio)

	viewer := client("acme", "viewer")
	s, err := viewer.Stats(ctx, api.Window1h)
	if err != nil {
		t.Fatal(err)
	}
	if want := []api.ErrorCount{{Code: api.CodeUndecodable, Count: 2}}; !reflect.DeepEqual(s.Errors, want) {
		t.Errorf("acme's errors = %+v, want %+v", s.Errors, want)
	}
	if s.Fleet != (api.FleetNow{}) {
		t.Errorf("a tenant's key sees the fleet now: %+v", s.Fleet)
	}
	for i, b := range s.Buckets {
		if b.BusySlots != 0 || b.Slots != 0 {
			t.Errorf("a tenant's key sees the fleet in bucket %d: %v of %v slots", i, b.BusySlots, b.Slots)
		}
	}

	// The leader samples every 50 ms: the current bucket soon has samples
	// of the agent's 3 slots (averaged with any taken before it enrolled),
	// at most one of them busy (while it held a lease above).
	var all api.Stats
	deadline := time.Now().Add(time.Minute)
	for {
		all, err = r.admin.StatsWith(ctx, api.StatsParams{Window: api.Window1h, Series: api.SeriesAgents})
		if err != nil {
			t.Fatal(err)
		}
		if last := all.Buckets[len(all.Buckets)-1]; last.Slots > 0 {
			if last.Slots > 3 || last.BusySlots > 1 {
				t.Fatalf("current bucket: %v busy of %v slots, want at most 1 of at most 3", last.BusySlots, last.Slots)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fleet sample with slots in the current bucket: %+v", all.Buckets[len(all.Buckets)-1])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if want := (api.FleetNow{Agents: 1, Online: 1, Slots: 3}); all.Fleet != want {
		t.Errorf("fleet now = %+v, want %+v", all.Fleet, want)
	}
	want := []api.ErrorCount{{Code: api.CodeUndecodable, Count: 2}, {Code: api.CodeNoAudio, Count: 1}}
	if !reflect.DeepEqual(all.Errors, want) {
		t.Errorf("every tenant's errors = %+v, want %+v", all.Errors, want)
	}
	if len(all.Agents) != 1 || all.Agents[0].Failed != 3 || len(all.Agents[0].FailedSeries) != len(all.Buckets) ||
		len(all.Agents[0].SucceededSeries) != len(all.Buckets) {
		t.Fatalf("agents with series = %+v, want one with 3 failures and %d buckets", all.Agents, len(all.Buckets))
	}
	var sum int64
	for _, n := range all.Agents[0].FailedSeries {
		sum += n
	}
	if sum != 3 {
		t.Errorf("failed series sums to %d, want 3", sum)
	}
	plain, err := r.admin.Stats(ctx, api.Window1h)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Agents[0].FailedSeries != nil {
		t.Errorf("series without series=agents: %+v", plain.Agents[0])
	}
	_, err = r.admin.StatsWith(ctx, api.StatsParams{Series: "tenants"})
	wantErr(t, err, http.StatusBadRequest, api.CodeInvalidRequest)
}

// TestStatsStream reads the stream with a real HTTP client: the first
// event comes at once, a later one counts a job that finished after it.
// A tenant's stream carries no fleet figures; a bad interval is refused.
func TestStatsStream(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ag := enrollAgent(t, r, "a", api.Capabilities{Slots: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k, err := r.admin.CreateKey(ctx, api.KeyRequest{Tenant: "acme", Role: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	viewer := api.NewClient(r.url, k.Secret, validatingClient())

	errSeen := errors.New("seen")
	events := 0
	err = r.admin.StreamStats(ctx, api.StatsParams{Window: api.Window1h, Series: api.SeriesAgents, Interval: 1}, func(s api.Stats) error {
		events++
		if events == 1 {
			if s.Summary.Failed != 0 || s.Fleet.Agents != 1 {
				return fmt.Errorf("first event: summary %+v, fleet %+v; want nothing failed, one agent", s.Summary, s.Fleet)
			}
			// A job fails after the first event; a later one counts it.
			j, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/m.mp4"}, "")
			if err != nil {
				return err
			}
			l := ag.leaseOne(10 * time.Second)
			if err := ag.c.Fail(ctx, l.TaskID, api.FailRequest{Token: l.Token, Error: api.Error{Code: api.CodeNoAudio, Message: "no"}}); err != nil {
				return err
			}
			waitStatus(t, r.admin, j.ID, api.JobFailed)
			return nil
		}
		if s.Summary.Failed == 1 && len(s.Errors) == 1 && s.Errors[0].Code == api.CodeNoAudio &&
			len(s.Agents) == 1 && len(s.Agents[0].FailedSeries) == len(s.Buckets) {
			return errSeen
		}
		return nil
	})
	if !errors.Is(err, errSeen) {
		t.Fatalf("stream after %d events: %v, want an event counting the failed job", events, err)
	}

	err = viewer.StreamStats(ctx, api.StatsParams{Interval: 1}, func(s api.Stats) error {
		if s.Fleet != (api.FleetNow{}) || s.Summary.Failed != 0 || len(s.Errors) != 0 {
			return fmt.Errorf("a tenant's stream: fleet %+v, summary %+v, errors %+v; want none of the default tenant's", s.Fleet, s.Summary, s.Errors)
		}
		return errSeen
	})
	if !errors.Is(err, errSeen) {
		t.Fatal(err)
	}
	err = viewer.StreamStats(ctx, api.StatsParams{Interval: 61}, func(api.Stats) error { return nil })
	wantErr(t, err, http.StatusBadRequest, api.CodeInvalidRequest)
}
