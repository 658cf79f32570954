package storetest

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

func fairnessTests() []struct {
	name string
	fn   func(t *testing.T, s store.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"FairShareBacklog", testFairShareBacklog},
		{"FairSharePriorityWithinTenant", testFairSharePriority},
		{"FairShareWeight", testFairShareWeight},
		{"FairShareCap", testFairShareCap},
		{"FairShareRoundRobin", testFairShareRoundRobin},
		{"TenantShareStored", testTenantShareStored},
	}
}

// queue creates n single-task jobs of tenant, a millisecond apart from at.
func queue(t *testing.T, s store.Store, at time.Time, tenant string, n, priority int) []job.Task {
	t.Helper()
	out := make([]job.Task, n)
	for i := range n {
		_, out[i] = create(t, s, at.Add(time.Duration(i)*time.Millisecond), spec{Tenant: tenant, Priority: priority})
	}
	return out
}

// rotation is agents taking turns: on its turn an agent completes the task
// it holds, if any, then leases one.
type rotation struct {
	t      *testing.T
	s      store.Store
	now    time.Time
	agents []string
	held   map[string]job.Task
	turn   int
}

func newRotation(t *testing.T, s store.Store, now time.Time, agents ...string) *rotation {
	return &rotation{t: t, s: s, now: now, agents: agents, held: map[string]job.Task{}}
}

// next plays one turn and returns the tenant whose task started ("" if none).
func (r *rotation) next() string {
	r.t.Helper()
	ag := r.agents[r.turn%len(r.agents)]
	r.turn++
	if tk, ok := r.held[ag]; ok {
		_, err := r.s.CompleteTask(context.Background(), store.Completion{TaskID: tk.ID, Holder: ag, Token: tk.Token,
			Result: api.TaskResult{Key: "k"}, Now: r.now})
		noErr(r.t, "CompleteTask", err)
		delete(r.held, ag)
	}
	got := leaseAs(r.t, r.s, ag, r.now, 1, defaultCaps())
	if len(got) == 0 {
		return ""
	}
	r.held[ag] = got[0]
	return got[0].Tenant
}

// testFairShareBacklog: a tenant's deep backlog does not hold back another
// tenant's first jobs.
func testFairShareBacklog(t *testing.T, s store.Store) {
	at := epoch()
	queue(t, s, at, "a", 40, 0)
	queue(t, s, at.Add(time.Second), "b", 3, 0)
	r := newRotation(t, s, at.Add(time.Minute), "agent-1", "agent-2")
	var order []string
	aStarted, bStarted := 0, 0
	for bStarted < 3 {
		tenant := r.next()
		order = append(order, tenant)
		switch tenant {
		case "a":
			aStarted++
		case "b":
			bStarted++
		default:
			t.Fatalf("nothing leased with both tenants queued; order %v", order)
		}
		if aStarted >= 6 {
			t.Fatalf("tenant a started %d tasks before b's 3 jobs started: %v", aStarted, order)
		}
	}
}

// testFairSharePriority: priority orders work within a tenant.
func testFairSharePriority(t *testing.T, s store.Store) {
	at := epoch()
	queue(t, s, at, "acme", 30, 5)
	_, urgent := create(t, s, at.Add(time.Second), spec{Tenant: "acme", Priority: 9})
	leaseOne(t, s, at.Add(time.Minute), urgent.ID)
}

// testFairShareWeight: with weights 2 and 1 and both tenants backlogged,
// the heavier one gets about two thirds of the leases.
func testFairShareWeight(t *testing.T, s store.Store) {
	ctx := context.Background()
	noErr(t, "SetTenantShare", s.SetTenantShare(ctx, "a", 2, 0))
	noErr(t, "SetTenantShare", s.SetTenantShare(ctx, "b", 1, 0))
	at := epoch()
	queue(t, s, at, "a", 40, 0)
	queue(t, s, at, "b", 40, 0)
	r := newRotation(t, s, at.Add(time.Minute), "agent-1", "agent-2", "agent-3")
	counts := map[string]int{}
	for range 30 {
		counts[r.next()]++
	}
	if counts["a"] < 17 || counts["a"] > 23 || counts["a"]+counts["b"] != 30 {
		t.Fatalf("30 leases with weights a=2 b=1 went %v, want a in [17, 23]", counts)
	}
}

// testFairShareCap: a tenant at max_running gets nothing more, and others'
// work still flows.
func testFairShareCap(t *testing.T, s store.Store) {
	ctx := context.Background()
	noErr(t, "SetTenantShare", s.SetTenantShare(ctx, "a", 1, 1))
	at := epoch()
	as := queue(t, s, at, "a", 3, 0)
	bs := queue(t, s, at.Add(time.Second), "b", 1, 0)
	now := at.Add(time.Minute)
	first := leaseAs(t, s, "agent-1", now, 1, defaultCaps())
	if len(first) != 1 || first[0].ID != as[0].ID {
		t.Fatalf("first lease got %v, want %s", taskIDs(first), as[0].ID)
	}
	got := leaseAs(t, s, "agent-2", now, 5, defaultCaps())
	if !reflect.DeepEqual(taskIDs(got), []string{bs[0].ID}) {
		t.Fatalf("second agent leased %v with a at its cap, want only b's %s", taskIDs(got), bs[0].ID)
	}
	if got := leaseAs(t, s, "agent-2", now, 5, defaultCaps()); len(got) != 0 {
		t.Fatalf("leased %v with a at its cap and b empty", taskIDs(got))
	}
	_, err := s.CompleteTask(ctx, store.Completion{TaskID: first[0].ID, Holder: "agent-1", Token: first[0].Token,
		Result: api.TaskResult{Key: "k"}, Now: now})
	noErr(t, "CompleteTask", err)
	got = leaseAs(t, s, "agent-2", now, 5, defaultCaps())
	if !reflect.DeepEqual(taskIDs(got), []string{as[1].ID}) {
		t.Fatalf("after a's task completed, leased %v, want %s alone", taskIDs(got), as[1].ID)
	}
}

// testFairShareRoundRobin: one lease of several tasks takes a tenant's 2nd
// task only after every tenant's 1st.
func testFairShareRoundRobin(t *testing.T, s store.Store) {
	at := epoch()
	as := queue(t, s, at, "a", 5, 0)
	bs := queue(t, s, at.Add(time.Second), "b", 5, 0)
	got := taskIDs(lease(t, s, at.Add(time.Minute), 3, defaultCaps()))
	want := []string{as[0].ID, as[1].ID, bs[0].ID}
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("leased %v, want %v (a's first two and b's first)", got, want)
	}
}

// testTenantShareStored: shares round-trip, default to weight 1 and no cap,
// and out-of-bounds values are refused.
func testTenantShareStored(t *testing.T, s store.Store) {
	ctx := context.Background()
	got, err := s.TenantShare(ctx, "fresh")
	noErr(t, "TenantShare", err)
	if got != store.DefaultShare("fresh") || got.Weight != 1 || got.MaxRunning != 0 {
		t.Fatalf("share of an unknown tenant = %+v, want weight 1, no cap", got)
	}
	noErr(t, "SetTenantShare", s.SetTenantShare(ctx, "acme", 2.5, 7))
	noErr(t, "SetTenantShare", s.SetTenantShare(ctx, "acme", 3, 4))
	got, err = s.TenantShare(ctx, "acme")
	noErr(t, "TenantShare", err)
	if want := (store.TenantShare{Tenant: "acme", Weight: 3, MaxRunning: 4}); got != want {
		t.Fatalf("share = %+v, want %+v", got, want)
	}
	for _, bad := range []struct {
		weight float64
		max    int
	}{{0, 0}, {-1, 0}, {1, -1}, {store.MaxWeight + 1, 0}} {
		if err := s.SetTenantShare(ctx, "acme", bad.weight, bad.max); !errors.Is(err, store.ErrInvalidShare) {
			t.Fatalf("SetTenantShare(%v, %d) = %v, want ErrInvalidShare", bad.weight, bad.max, err)
		}
	}
}
