package dispatch_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/redis/go-redis/v9"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/dispatch"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/internal/store/postgres"
	"github.com/ytcaption/ytcaption/control-plane/internal/store/sqlite"
	"github.com/ytcaption/ytcaption/test/testenv"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "d.db"), quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

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

func submit(t *testing.T, s store.Store) job.Job {
	t.Helper()
	now := time.Now()
	j := job.Job{ID: newID(), Tenant: "default", Status: api.JobQueued, CreatedAt: now, UpdatedAt: now,
		Spec: job.Spec{URL: "https://example.com/a", Language: "auto", Task: "transcribe", Priority: 5, Captions: "prefer-existing", Cache: true}}
	j.RequestHash = j.Spec.Hash()
	out, _, err := s.CreateJob(context.Background(), j, job.Plan(j, newID, 3), store.JobMeta{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHubWakesEveryWaiterOnce(t *testing.T) {
	t.Parallel()
	h := dispatch.NewHub()
	a, b := h.Wait(), h.Wait()
	h.Wake()
	for _, ch := range []<-chan struct{}{a, b} {
		select {
		case <-ch:
		default:
			t.Fatal("waiter not woken")
		}
	}
	c := h.Wait()
	select {
	case <-c:
		t.Fatal("a new waiter saw an old wake-up")
	default:
	}
}

func TestDispatcher(t *testing.T) {
	t.Parallel()
	caps := api.Capabilities{Engines: []api.EngineCapability{{Name: "test"}}, Slots: 1}
	cfg := dispatch.Config{LeaseDuration: time.Minute, MaxWait: 10 * time.Second, Poll: time.Hour, FallbackPoll: time.Hour}

	t.Run("ready work returns at once", func(t *testing.T) {
		t.Parallel()
		s := openSQLite(t)
		d := dispatch.New(s, dispatch.NewHub(), cfg, time.Now, nil)
		j := submit(t, s)
		tasks, err := d.Lease(context.Background(), "agent", caps, 1, 10*time.Second)
		if err != nil || len(tasks) != 1 || tasks[0].JobID != j.ID {
			t.Fatalf("got %+v %v", tasks, err)
		}
	})
	t.Run("a wake-up ends the wait", func(t *testing.T) {
		t.Parallel()
		s := openSQLite(t)
		hub := dispatch.NewHub()
		d := dispatch.New(s, hub, cfg, time.Now, nil)
		got := make(chan []store.Leased, 1)
		go func() {
			tasks, _ := d.Lease(context.Background(), "agent", caps, 1, 10*time.Second)
			got <- tasks
		}()
		time.Sleep(100 * time.Millisecond)
		submit(t, s)
		hub.Wake()
		select {
		case tasks := <-got:
			if len(tasks) != 1 {
				t.Fatalf("woken with %d tasks", len(tasks))
			}
		case <-time.After(8 * time.Second):
			t.Fatal("not woken (the poll interval is an hour)")
		}
	})
	t.Run("wait ends empty", func(t *testing.T) {
		t.Parallel()
		d := dispatch.New(openSQLite(t), dispatch.NewHub(), cfg, time.Now, nil)
		tasks, err := d.Lease(context.Background(), "agent", caps, 1, 50*time.Millisecond)
		if err != nil || len(tasks) != 0 {
			t.Fatalf("got %+v %v", tasks, err)
		}
	})
	t.Run("close releases waiters", func(t *testing.T) {
		t.Parallel()
		d := dispatch.New(openSQLite(t), dispatch.NewHub(), cfg, time.Now, nil)
		done := make(chan error, 1)
		go func() {
			_, err := d.Lease(context.Background(), "agent", caps, 1, 10*time.Second)
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		d.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("waiter not released")
		}
	})
	t.Run("poll finds work without a wake-up", func(t *testing.T) {
		t.Parallel()
		s := openSQLite(t)
		pc := cfg
		pc.Poll = 50 * time.Millisecond
		d := dispatch.New(s, dispatch.NewHub(), pc, time.Now, nil)
		go func() { time.Sleep(100 * time.Millisecond); submit(t, s) }()
		tasks, err := d.Lease(context.Background(), "agent", caps, 1, 8*time.Second)
		if err != nil || len(tasks) != 1 {
			t.Fatalf("got %+v %v", tasks, err)
		}
	})
	t.Run("unhealthy wake-ups use the fallback poll", func(t *testing.T) {
		t.Parallel()
		s := openSQLite(t)
		pc := cfg
		pc.FallbackPoll = 50 * time.Millisecond
		d := dispatch.New(s, dispatch.NewHub(), pc, time.Now, func() bool { return false })
		go func() { time.Sleep(100 * time.Millisecond); submit(t, s) }()
		tasks, err := d.Lease(context.Background(), "agent", caps, 1, 8*time.Second)
		if err != nil || len(tasks) != 1 {
			t.Fatalf("got %+v %v", tasks, err)
		}
	})
}

// TestRedisBus: a Notify on one bus wakes the hub of another through Redis,
// and the bus reports itself healthy once subscribed.
func TestRedisBus(t *testing.T) {
	t.Parallel()
	url, prefix := testenv.Redis(t)
	opt, _ := redis.ParseURL(url)
	opt.Protocol = 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	hubA, hubB := dispatch.NewHub(), dispatch.NewHub()
	ca, cb := redis.NewClient(opt), redis.NewClient(opt)
	defer ca.Close()
	defer cb.Close()
	a := dispatch.NewRedisBus(ca, prefix+"wake", hubA, quiet())
	b := dispatch.NewRedisBus(cb, prefix+"wake", hubB, quiet())
	wg.Go(func() { a.Run(ctx) })
	wg.Go(func() { b.Run(ctx) })
	for deadline := time.Now().Add(10 * time.Second); !a.Healthy() || !b.Healthy(); {
		if time.Now().After(deadline) {
			t.Fatal("buses never subscribed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	woken := hubB.Wait()
	start := time.Now()
	a.Notify(ctx)
	select {
	case <-woken:
		t.Logf("cross-bus wake-up in %v", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("B not woken by A's notify")
	}
}

// TestConcurrentLeasingPostgres: many dispatchers racing on PostgreSQL
// (SKIP LOCKED) hand every task out exactly once.
func TestConcurrentLeasingPostgres(t *testing.T) {
	t.Parallel()
	s := openPostgres(t)
	const jobs = 120
	for range jobs {
		submit(t, s)
	}
	caps := api.Capabilities{Engines: []api.EngineCapability{{Name: "test"}}, Slots: 1}
	hub := dispatch.NewHub()
	d := dispatch.New(s, hub, dispatch.Config{LeaseDuration: time.Minute}, time.Now, nil)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Go(func() {
			for {
				tasks, err := d.Lease(context.Background(), "agent-"+string(rune('a'+w)), caps, 3, 0)
				if err != nil {
					t.Error(err)
					return
				}
				if len(tasks) == 0 {
					return
				}
				mu.Lock()
				for _, tk := range tasks {
					seen[tk.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != jobs {
		t.Fatalf("leased %d distinct tasks, want %d", len(seen), jobs)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("task %s leased %d times", id, n)
		}
	}
}
