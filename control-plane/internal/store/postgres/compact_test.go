package postgres_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/test/testenv"
)

// TestCompactStats: rollup rows spread over shards fold into shard 0 once
// their bucket has ended, one row per key, and every figure the statistics
// API reads stays the same; a bucket still open is left alone.
func TestCompactStats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	s := open(t, dsn)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })

	now := time.Now().UTC().Truncate(time.Minute)
	old, fresh := now.Add(-30*time.Minute).Unix()/60, now.Unix()/60
	for shard := range 4 {
		for _, m := range []int64{old, fresh} {
			for _, res := range []int64{1, 15, 60} {
				b := m - m%res
				// The two minutes may share a 15- or 60-minute bucket: add up.
				if _, err := conn.Exec(ctx, `INSERT INTO job_stats AS s (res, minute, tenant, shard, submitted, succeeded, w3, p5)
					VALUES ($1, $2, 'acme', $3, $4, 1, 2, 3) ON CONFLICT (res, minute, tenant, shard) DO UPDATE SET
					submitted = s.submitted + excluded.submitted, succeeded = s.succeeded + excluded.succeeded,
					w3 = s.w3 + excluded.w3, p5 = s.p5 + excluded.p5`, res, b, shard, shard+1); err != nil {
					t.Fatal(err)
				}
				if _, err := conn.Exec(ctx, `INSERT INTO agent_stats AS s (res, minute, agent_id, tenant, shard, succeeded, failed)
					VALUES ($1, $2, 'ag', 'acme', $3, 2, 1) ON CONFLICT (res, minute, agent_id, tenant, shard) DO UPDATE SET
					succeeded = s.succeeded + excluded.succeeded, failed = s.failed + excluded.failed`, res, b, shard); err != nil {
					t.Fatal(err)
				}
				if _, err := conn.Exec(ctx, `INSERT INTO error_stats AS s (res, minute, tenant, code, shard, n)
					VALUES ($1, $2, 'acme', 'no_audio', $3, 1) ON CONFLICT (res, minute, tenant, code, shard) DO UPDATE SET
					n = s.n + excluded.n`, res, b, shard); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	read := func() api.Stats {
		st, err := s.Stats(ctx, store.StatsQuery{Window: api.Window1h, Now: now, AgentSeries: true})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	rows := func(table string, minute int64) (n int) {
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE res = 1 AND minute = $1`, minute).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := read()
	if err := s.CompactStats(ctx, now.Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if after := read(); !reflect.DeepEqual(before, after) {
		t.Fatalf("statistics changed by compaction:\nbefore %+v\nafter  %+v", before, after)
	}
	for _, table := range []string{"job_stats", "agent_stats", "error_stats"} {
		if n := rows(table, old); n != 1 {
			t.Errorf("%s: the ended minute has %d rows, want 1", table, n)
		}
		if n := rows(table, fresh); n != 4 {
			t.Errorf("%s: the open minute has %d rows, want its 4", table, n)
		}
	}
	var submitted, succeeded, w3, p5 int64
	if err := conn.QueryRow(ctx, `SELECT submitted, succeeded, w3, p5 FROM job_stats WHERE res = 1 AND minute = $1 AND shard = 0`, old).
		Scan(&submitted, &succeeded, &w3, &p5); err != nil || submitted != 10 || succeeded != 4 || w3 != 8 || p5 != 12 {
		t.Fatalf("folded row: %d %d %d %d (%v), want 10 4 8 12", submitted, succeeded, w3, p5, err)
	}
}

// TestLeaseDoesNotWaitForServedStamp: a lease for a tenant whose row another
// transaction is stamping (holding its lock) completes without waiting for
// that transaction.
func TestLeaseDoesNotWaitForServedStamp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	s := open(t, dsn)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caps := api.Capabilities{Engines: []api.EngineCapability{{Name: "x"}}, Slots: 1}
	for i := range 2 {
		j := job.Job{ID: fmt.Sprintf("job-%d", i), Tenant: "acme", Status: api.JobQueued, CreatedAt: now, UpdatedAt: now,
			Spec: job.Spec{URL: "https://example.com/a", Language: "auto", Task: "transcribe", Priority: 5, Captions: "prefer-existing"}}
		if _, _, err := s.CreateJob(ctx, j, job.Plan(j, func() string { return fmt.Sprintf("task-%d", i) }, 2), store.JobMeta{}); err != nil {
			t.Fatal(err)
		}
	}
	lease := func() {
		t.Helper()
		l, err := s.LeaseTasks(ctx, store.LeaseParams{AgentID: "a", Capabilities: caps, Max: 1, Now: now, Deadline: now.Add(time.Hour)})
		if err != nil || len(l) != 1 {
			t.Fatalf("lease: %v %v", l, err)
		}
	}
	lease() // the tenant's row now exists
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `UPDATE tenants SET served = served WHERE name = 'acme'`); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); lease() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the lease waited for the transaction holding the tenant's row")
	}
}
