package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// TestVacuumAfterLeases: tasks is vacuumed once the leases since its last
// vacuum reach the threshold, counting the leases that ride on completions
// as well as lease calls, and not before.
func TestVacuumAfterLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	s.vacuum.every = 3
	at := time.Now().UTC().Add(-time.Minute)
	for i := range 4 {
		createPlanned(t, s, testJob(at.Add(time.Duration(i)*time.Second), ""))
	}
	if err := s.CreateAgent(ctx, store.Agent{ID: "a1", TokenHash: "h", CreatedAt: at, LastSeenAt: at}); err != nil {
		t.Fatal(err)
	}
	vacuums := func() int64 {
		var n int64
		if err := s.pool.QueryRow(ctx, `SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'tasks'::regclass`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	now := time.Now().UTC()
	p := store.LeaseParams{AgentID: "a1", Max: 2, Now: now, Deadline: now.Add(time.Minute)}
	leased, err := s.LeaseTasks(ctx, p)
	if err != nil || len(leased) != 2 {
		t.Fatalf("lease: %d tasks, %v", len(leased), err)
	}
	s.vacuum.wait()
	if n := vacuums(); n != 0 {
		t.Fatalf("%d vacuums after 2 leases, want 0", n)
	}
	p.Max = 1
	_, next, err := s.CompleteAndLease(ctx, store.Completion{TaskID: leased[0].ID, Holder: "a1", Token: leased[0].Token, Now: now}, &p)
	if err != nil || len(next) != 1 {
		t.Fatalf("complete and lease: %d tasks, %v", len(next), err)
	}
	s.vacuum.wait()
	// Before PostgreSQL 15 the statistics arrive a moment later.
	for end := time.Now().Add(10 * time.Second); vacuums() != 1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d vacuums after 3 leases, want 1", vacuums())
		}
	}
}
