package dispatch_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
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
	return submitWith(t, s, nil)
}

func submitWith(t *testing.T, s store.Store, labels map[string]string) job.Job {
	t.Helper()
	now := time.Now()
	j := job.Job{ID: newID(), Tenant: "default", Status: api.JobQueued, CreatedAt: now, UpdatedAt: now,
		Spec: job.Spec{URL: "https://example.com/a", Language: "auto", Task: "transcribe", Priority: 5, Captions: "prefer-existing", Cache: true, Labels: labels}}
	j.RequestHash = j.Spec.Hash()
	out, _, err := s.CreateJob(context.Background(), j, job.Plan(j, newID, 3), store.JobMeta{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFor polls cond until it holds, failing the test after 2 minutes (a
// busy machine serializes SQLite's lease transactions slowly).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func woken(t *testing.T, tk *dispatch.Ticket) (int, bool) {
	t.Helper()
	select {
	case b := <-tk.C:
		return b, true
	default:
		return 0, false
	}
}

// TestHub: a wake-up wakes the longest waiter only, with a budget to visit
// every other waiter once; a ticket left with a wake-up passes it on; a
// new waiter never sees an old wake-up; WakeAll wakes everyone.
func TestHub(t *testing.T) {
	t.Parallel()
	h := dispatch.NewHub()
	a, b, c := h.Wait(), h.Wait(), h.Wait()
	h.Wake()
	if budget, ok := woken(t, a); !ok || budget != 2 {
		t.Fatalf("oldest waiter: woken %v, budget %d; want woken, 2", ok, budget)
	}
	if _, ok := woken(t, b); ok {
		t.Fatal("a wake-up woke a second waiter")
	}
	h.Wake() // wakes b; b leaves without acting on it, so c gets it
	h.Leave(b)
	if budget, ok := woken(t, c); !ok || budget != 1 {
		t.Fatalf("the wake-up b left was not passed to c (woken %v, budget %d)", ok, budget)
	}
	for _, tk := range []*dispatch.Ticket{a, c} { // their looks saw nothing more ready
		h.Leave(tk)
		h.Done(nil, -1, true)
	}
	h.Wake() // nobody waits: nothing to remember
	d := h.Wait()
	if _, ok := woken(t, d); ok {
		t.Fatal("a new waiter saw an old wake-up")
	}
	e := h.Wait()
	h.WakeAll()
	for _, tk := range []*dispatch.Ticket{d, e} {
		if budget, ok := woken(t, tk); !ok || budget != 0 {
			t.Fatalf("WakeAll: woken %v, budget %d", ok, budget)
		}
	}
	if h.Waiters() != 0 {
		t.Fatalf("%d waiters left", h.Waiters())
	}
}

// TestHubHandOn: an empty look hands its wake-up on, never to the waiter's
// own new ticket. While another woken waiter still looks, the hand-on waits
// for that look: it goes on when that look ends, with the larger budget,
// unless that look saw nothing ready or leased all it asked for.
func TestHubHandOn(t *testing.T) {
	t.Parallel()
	h := dispatch.NewHub()
	mustWake := func(tk *dispatch.Ticket, want int) {
		t.Helper()
		if budget, ok := woken(t, tk); !ok || budget != want {
			t.Fatalf("woken %v with budget %d; want woken with %d", ok, budget, want)
		}
	}
	mustNot := func(tk *dispatch.Ticket, why string) {
		t.Helper()
		if _, ok := woken(t, tk); ok {
			t.Fatal(why)
		}
	}
	wakeTwo := func(a, b *dispatch.Ticket, budgetA, budgetB int) {
		t.Helper()
		h.Wake()
		h.Wake()
		mustWake(a, budgetA)
		mustWake(b, budgetB)
	}

	// Alone: handed on at once, skipping the waiter's new ticket.
	a := h.Wait()
	h.Wake()
	mustWake(a, 0)
	a2, x := h.Wait(), h.Wait()
	h.Done(a2, 0, false)
	mustNot(a2, "a hand-on woke the waiter it came from")
	mustWake(x, 0)
	h.Leave(x)
	h.Done(nil, -1, true)
	h.Leave(a2)

	// Two woken looks: the first one's hand-on waits for the second.
	w1, w2, w3 := h.Wait(), h.Wait(), h.Wait()
	wakeTwo(w1, w2, 2, 1)
	n1 := h.Wait()
	h.Done(n1, 1, false) // empty, a task ready
	mustNot(w3, "handed on while another woken waiter was looking")
	n2 := h.Wait()
	h.Done(n2, -1, false) // empty too, no budget to check with
	mustWake(w3, 1)
	mustNot(n1, "a put-off hand-on woke a second waiter")

	// The second look saw nothing ready (or leased all it asked for, and its
	// agent's Took wakes the next waiter): the hand-on is dropped.
	h.Leave(w3)
	h.Done(nil, -1, true)
	wakeTwo(n1, n2, 1, 0)
	m1, y := h.Wait(), h.Wait()
	h.Done(m1, 0, false)
	h.Leave(n2)
	h.Done(nil, -1, true)
	mustNot(y, "a hand-on went on after a look that saw nothing ready")

	// A failed look hands on a put-off hand-on with the larger budget.
	wakeTwo(m1, y, 1, 0)
	z1, z2 := h.Wait(), h.Wait()
	h.Done(z1, 1, false)
	h.Leave(y)
	h.Done(nil, 0, false)
	mustWake(z1, 1)
	mustNot(z2, "one put-off hand-on woke two waiters")
}

// countingStore counts lease queries.
type countingStore struct {
	store.Store
	leases atomic.Int64
}

func (c *countingStore) LeaseTasks(ctx context.Context, p store.LeaseParams) ([]store.Leased, error) {
	c.leases.Add(1)
	return c.Store.LeaseTasks(ctx, p)
}

// TestOneWakeUpOneLook: with many idle long-polls, a submitted task costs
// a couple of lease queries, not one per waiting agent; and a task that the
// woken waiter cannot run is handed on until a waiter that can takes it
// (the poll, an hour here, never runs).
func TestOneWakeUpOneLook(t *testing.T) {
	t.Parallel()
	caps := api.Capabilities{Engines: []api.EngineCapability{{Name: "pocketsphinx"}}, Slots: 1}
	// Waits far longer than the test: no waiter may give up and leave the
	// count however slowly the others get to their first look.
	const wait = 10 * time.Minute
	cfg := dispatch.Config{LeaseDuration: time.Minute, MaxWait: wait, Poll: time.Hour, FallbackPoll: time.Hour}
	s := &countingStore{Store: openSQLite(t)}
	hub := dispatch.NewHub()
	d := dispatch.New(s, hub, cfg, time.Now, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// 20 waiters that cannot run the task (labels), then one that can.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wrong := caps
	wrong.Labels = map[string]string{"zone": "other"}
	for range 20 {
		wg.Go(func() { _, _ = d.Lease(ctx, "wrong", wrong, 1, wait) })
	}
	waitFor(t, "20 waiters", func() bool { return d.Waiting() == 20 })
	right := caps
	right.Labels = map[string]string{"zone": "eu"}
	got := make(chan []store.Leased, 1)
	wg.Go(func() {
		tasks, _ := d.Lease(ctx, "right", right, 1, wait)
		got <- tasks
	})
	waitFor(t, "21 waiters", func() bool { return d.Waiting() == 21 })
	before := s.leases.Load()
	j := submitWith(t, s, map[string]string{"zone": "eu"})
	hub.Wake()
	select {
	case tasks := <-got:
		if len(tasks) != 1 || tasks[0].JobID != j.ID {
			t.Fatalf("got %+v", tasks)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the task was not handed on to the waiter that can run it")
	}
	// Every waiter looked once: 20 wrong ones, the right one, and the look
	// the right one's success hands on (which finds nothing ready and hands
	// nothing on). Settled: the 20 wrong waiters are all back waiting.
	looks := func() int64 { return s.leases.Load() - before }
	waitFor(t, "the hand-over to settle", func() bool { return looks() >= 22 && d.Waiting() == 20 })
	if n := looks(); n != 22 {
		t.Fatalf("%d lease queries for one task and 21 waiters, want 22", n)
	}

	// Now a task all idle waiters can run: the oldest leases it and hands
	// its success on to one more look, not 20.
	before = s.leases.Load()
	submitWith(t, s, map[string]string{"zone": "other"})
	hub.Wake()
	waitFor(t, "the lease to settle", func() bool { return looks() >= 2 && d.Waiting() == 19 })
	if n := looks(); n != 2 {
		t.Fatalf("%d lease queries for one task and 20 idle waiters, want 2", n)
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
		waitFor(t, "the agent to wait", func() bool { return d.Waiting() == 1 })
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
		waitFor(t, "the agent to wait", func() bool { return d.Waiting() == 1 })
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
		leaseAfterLook(t, d, s, caps)
	})
	t.Run("unhealthy wake-ups use the fallback poll", func(t *testing.T) {
		t.Parallel()
		s := openSQLite(t)
		pc := cfg
		pc.FallbackPoll = 50 * time.Millisecond
		d := dispatch.New(s, dispatch.NewHub(), pc, time.Now, func() bool { return false })
		leaseAfterLook(t, d, s, caps)
	})
}

// leaseAfterLook submits a job once a long-poll has looked and found
// nothing, with no wake-up: only the dispatcher's poll can deliver it.
func leaseAfterLook(t *testing.T, d *dispatch.Dispatcher, s store.Store, caps api.Capabilities) {
	t.Helper()
	got := make(chan []store.Leased, 1)
	go func() {
		tasks, _ := d.Lease(context.Background(), "agent", caps, 1, 8*time.Second)
		got <- tasks
	}()
	waitFor(t, "the agent to wait", func() bool { return d.Waiting() == 1 })
	j := submit(t, s)
	if tasks := <-got; len(tasks) != 1 || tasks[0].JobID != j.ID {
		t.Fatalf("got %+v, want job %s", tasks, j.ID)
	}
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
	case <-woken.C:
		t.Logf("cross-bus wake-up in %v", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("B not woken by A's notify")
	}

	// A burst of Notifies is carried by one publish per pause (2 ms, the
	// bus's publishPause), and the last one of the burst still reaches B.
	raw := ca.Subscribe(ctx, prefix+"wake")
	defer raw.Close()
	if _, err := raw.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	const burst = 1000
	start = time.Now()
	for range burst {
		a.Notify(ctx)
		time.Sleep(20 * time.Microsecond)
	}
	woken = hubB.Wait()
	a.Notify(ctx)
	select {
	case <-woken.C:
	case <-time.After(10 * time.Second):
		t.Fatal("B not woken by the Notify after a burst")
	}
	elapsed := time.Since(start)
	published := 0
	for {
		if _, err := raw.ReceiveTimeout(ctx, time.Second); err != nil {
			break // a second without a publish: the burst is over
		}
		published++
	}
	// Each publish is followed by a pause, and at most one follows B's
	// wake-up.
	limit := int(elapsed/(2*time.Millisecond)) + 2
	t.Logf("%d Notifies in %v, %d publishes (at most %d)", burst+1, elapsed, published, limit)
	if published == 0 || published > limit {
		t.Fatalf("%d Notifies in %v made %d publishes, want 1 to %d", burst+1, elapsed, published, limit)
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
