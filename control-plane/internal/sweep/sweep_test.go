package sweep_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/internal/store/postgres"
	"github.com/ytcaption/ytcaption/control-plane/internal/sweep"
	"github.com/ytcaption/ytcaption/test/testenv"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type countNotify struct{ n atomic.Int64 }

func (c *countNotify) Notify(context.Context) { c.n.Add(1) }

func openPostgres(t *testing.T) store.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), testenv.Postgres(t), quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// clock is a manual clock shared by the sweepers of a test.
type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *clock) advance(d time.Duration) { c.t.Add(int64(d)) }

func TestLeadershipAndRescue(t *testing.T) {
	t.Parallel()
	s := openPostgres(t)
	ctx := context.Background()
	var clk clock
	clk.t.Store(time.Now().UnixNano())
	n := &countNotify{}
	cfg := sweep.Config{Term: 10 * time.Second, Policy: job.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Second, MaxDelay: time.Second}}
	a := sweep.New(s, n, cfg, "replica-a", clk.now, quiet())
	b := sweep.New(s, n, cfg, "replica-b", clk.now, quiet())

	a.Sweep(ctx)
	b.Sweep(ctx)
	if !a.Leader() || b.Leader() {
		t.Fatalf("leaders: a=%v b=%v, want only a", a.Leader(), b.Leader())
	}

	// A leased task whose deadline passes is rescued by the leader only.
	now := clk.now()
	j := job.Job{ID: newID(), Tenant: "default", Status: api.JobQueued, CreatedAt: now, UpdatedAt: now,
		Spec: job.Spec{URL: "https://example.com/a", Language: "auto", Task: "transcribe", Priority: 5, Captions: "prefer-existing"}}
	if _, _, err := s.CreateJob(ctx, j, job.Plan(j, newID, 2), store.JobMeta{}); err != nil {
		t.Fatal(err)
	}
	caps := api.Capabilities{Engines: []api.EngineCapability{{Name: "x"}}}
	leased, err := s.LeaseTasks(ctx, store.LeaseParams{AgentID: "ag", Capabilities: caps, Max: 1, Now: now, Deadline: now.Add(5 * time.Second)})
	if err != nil || len(leased) != 1 {
		t.Fatalf("lease: %v %v", leased, err)
	}
	var rescued atomic.Int64
	a.OnRescue = func(job.Task) { rescued.Add(1) }
	b.OnRescue = func(job.Task) { t.Error("the follower rescued a task") }
	clk.advance(6 * time.Second)
	b.Sweep(ctx)
	a.Sweep(ctx)
	if rescued.Load() != 1 {
		t.Fatalf("rescued %d, want 1", rescued.Load())
	}
	task, _ := s.GetTask(ctx, leased[0].ID)
	if task.State != job.TaskQueued || !task.RunAt.After(clk.now()) {
		t.Fatalf("rescued task: %+v", task)
	}
	// When the backoff ends, the sweeper wakes the agents once.
	before := n.n.Load()
	clk.advance(2 * time.Second)
	a.Sweep(ctx)
	a.Sweep(ctx)
	if got := n.n.Load() - before; got != 1 {
		t.Fatalf("wake-ups for a due task: %d, want 1", got)
	}

	// The leader crashes (stops renewing): b takes over after the term.
	clk.advance(5 * time.Second)
	b.Sweep(ctx)
	if b.Leader() {
		t.Fatal("b took over before a's term ended")
	}
	clk.advance(6 * time.Second)
	b.Sweep(ctx)
	if !b.Leader() {
		t.Fatal("b did not take over after a's term")
	}
	a.Sweep(ctx)
	if a.Leader() {
		t.Fatal("two leaders")
	}
}

// TestGracefulHandOver: a stopping leader gives up its term at once.
func TestGracefulHandOver(t *testing.T) {
	t.Parallel()
	s := openPostgres(t)
	n := &countNotify{}
	var clk clock
	clk.t.Store(time.Now().UnixNano())
	cfg := sweep.Config{Interval: 10 * time.Millisecond, Term: time.Hour}
	a := sweep.New(s, n, cfg, "a", clk.now, quiet())
	b := sweep.New(s, n, cfg, "b", clk.now, quiet())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	for !a.Leader() {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	clk.advance(time.Millisecond)
	b.Sweep(context.Background())
	if !b.Leader() {
		t.Fatal("b did not take over from a stopped leader")
	}
}

// TestFleetSampler: the leader samples the load of the online agents (their
// leased tasks and slots, draining ones included, offline ones not) every
// SampleInterval; a follower samples nothing.
func TestFleetSampler(t *testing.T) {
	t.Parallel()
	s := openPostgres(t)
	ctx := context.Background()
	var clk clock
	clk.t.Store(time.Now().Truncate(time.Minute).UnixNano())
	cfg := sweep.Config{Term: time.Hour, SampleInterval: 10 * time.Second}
	a := sweep.New(s, &countNotify{}, cfg, "replica-a", clk.now, quiet())
	b := sweep.New(s, &countNotify{}, cfg, "replica-b", clk.now, quiet())

	now := clk.now()
	caps := func(slots int) api.Capabilities {
		return api.Capabilities{Engines: []api.EngineCapability{{Name: "x"}}, Slots: slots}
	}
	for _, ag := range []store.Agent{
		{ID: "busy", Capabilities: caps(4), LastSeenAt: now},
		{ID: "draining", Capabilities: caps(2), LastSeenAt: now, Draining: true},
		{ID: "gone", Capabilities: caps(8), LastSeenAt: now.Add(-time.Hour)},
	} {
		ag.Name, ag.TokenHash, ag.CreatedAt = ag.ID, "hash-"+ag.ID, now.Add(-time.Hour)
		if err := s.CreateAgent(ctx, ag); err != nil {
			t.Fatal(err)
		}
	}
	noErr := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	noErr(s.SetAgentDrain(ctx, "draining", true, now))
	lease := func() {
		t.Helper()
		j := job.Job{ID: newID(), Tenant: "default", Status: api.JobQueued, CreatedAt: now, UpdatedAt: now,
			Spec: job.Spec{URL: "https://example.com/a", Language: "auto", Task: "transcribe", Priority: 5, Captions: "prefer-existing"}}
		_, _, err := s.CreateJob(ctx, j, job.Plan(j, newID, 2), store.JobMeta{})
		noErr(err)
		leased, err := s.LeaseTasks(ctx, store.LeaseParams{AgentID: "busy", Capabilities: caps(4), Max: 1, Now: now, Deadline: now.Add(time.Hour)})
		if err != nil || len(leased) != 1 {
			t.Fatalf("lease: %v %v", leased, err)
		}
	}
	load := func() (busy, slots float64) {
		t.Helper()
		st, err := s.Stats(ctx, store.StatsQuery{Window: api.Window1h, Now: clk.now()})
		noErr(err)
		last := st.Buckets[len(st.Buckets)-1]
		return last.BusySlots, last.Slots
	}

	lease()
	a.Sweep(ctx) // leader: samples 1 busy of 6 slots
	b.Sweep(ctx)
	if !a.Leader() || b.Leader() {
		t.Fatalf("leaders: a=%v b=%v, want a", a.Leader(), b.Leader())
	}
	if busy, slots := load(); busy != 1 || slots != 6 {
		t.Fatalf("after the first sample: busy %v of %v slots, want 1 of 6", busy, slots)
	}
	lease()
	clk.advance(10 * time.Second)
	b.Sweep(ctx) // a follower samples nothing
	if busy, slots := load(); busy != 1 || slots != 6 {
		t.Fatalf("after the follower's sweep: busy %v of %v slots, want 1 of 6", busy, slots)
	}
	a.Sweep(ctx) // samples 2 busy of 6 slots
	a.Sweep(ctx) // too soon for another
	if busy, slots := load(); busy != 1.5 || slots != 6 {
		t.Fatalf("after the second sample: busy %v of %v slots, want 1.5 of 6", busy, slots)
	}
}

// TestCompactsStats: the leader folds the statistics rows of ended buckets
// into shard 0 as it sweeps.
func TestCompactsStats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	s, err := postgres.Open(ctx, dsn, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	var clk clock
	clk.t.Store(time.Now().UnixNano())
	minute := clk.now().Add(-10*time.Minute).Unix() / 60
	for shard := 1; shard <= 2; shard++ {
		if _, err := conn.Exec(ctx, `INSERT INTO job_stats (res, minute, tenant, shard, submitted) VALUES (1, $1, 'acme', $2, 1)`, minute, shard); err != nil {
			t.Fatal(err)
		}
	}
	sweep.New(s, &countNotify{}, sweep.Config{Term: time.Hour}, "replica-a", clk.now, quiet()).Sweep(ctx)
	var shards, submitted int64
	if err := conn.QueryRow(ctx, `SELECT count(*), sum(submitted) FROM job_stats WHERE minute = $1 AND shard = 0`, minute).Scan(&shards, &submitted); err != nil ||
		shards != 1 || submitted != 2 {
		t.Fatalf("after a sweep: %d rows in shard 0 holding %d submitted (%v), want 1 holding 2", shards, submitted, err)
	}
}
