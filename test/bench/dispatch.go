package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// noopCaps are the capabilities of the simulated agents.
func noopCaps() api.Capabilities {
	return api.Capabilities{Engines: []api.EngineCapability{{Name: "noop"}}, Slots: 1}
}

// agentHTTP is one transport for many simulated agents: every agent keeps
// its own keep-alive connection, as separate machines would.
func agentHTTP(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        conns + 16,
		MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout:     2 * time.Minute,
	}}
}

// registerAgents enrolls n agents over the real protocol.
func registerAgents(ctx context.Context, s *Server, n int, hc *http.Client) ([]*api.Client, error) {
	admin := api.NewClient(s.URL, s.AdminKey, hc)
	enr, err := admin.CreateEnrollment(ctx, api.EnrollmentRequest{TTLSeconds: 3600})
	if err != nil {
		return nil, fmt.Errorf("create enrollment: %w", err)
	}
	out := make([]*api.Client, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range min(32, n) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				reg, err := api.NewClient(s.URL, "", hc).Register(ctx, api.RegisterRequest{
					EnrollmentToken: enr.Token, Name: fmt.Sprintf("bench-%d", i), Capabilities: noopCaps()})
				if err != nil {
					errs <- fmt.Errorf("register agent: %w", err)
					return
				}
				out[i] = api.NewClient(s.URL, reg.Token, hc)
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return out, nil
}

// seedQueued submits one job through the API, then clones its job and task
// rows n-1 times with COPY: the queue a busy system would have, built in
// seconds instead of minutes.
func seedQueued(ctx context.Context, s *Server, n int) error { return seedQueuedTenants(ctx, s, n, 0) }

// seedQueuedTenants is seedQueued with the clones spread round-robin over
// tenants tenants (0: all in the template's tenant).
func seedQueuedTenants(ctx context.Context, s *Server, n, tenants int) error {
	ids, err := submitJobs(ctx, s, 1, 1)
	if err != nil {
		return err
	}
	if n <= 1 {
		return nil
	}
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	jobCols, jobRow, err := templateRow(ctx, conn, `SELECT * FROM jobs WHERE id = $1`, ids[0])
	if err != nil {
		return err
	}
	taskCols, taskRow, err := templateRow(ctx, conn, `SELECT * FROM tasks WHERE job_id = $1`, ids[0])
	if err != nil {
		return err
	}
	jobIDs := make([]string, n-1)
	for i := range jobIDs {
		jobIDs[i] = uuid.Must(uuid.NewV7()).String()
	}
	jobOver := map[string]func(int) any{
		"id": func(i int) any { return jobIDs[i] },
	}
	taskOver := map[string]func(int) any{
		"id":     func(int) any { return uuid.Must(uuid.NewV7()).String() },
		"job_id": func(i int) any { return jobIDs[i] },
	}
	if tenants > 0 {
		tenant := func(i int) any { return fmt.Sprintf("bench-%03d", i%tenants) }
		jobOver["tenant"], taskOver["tenant"] = tenant, tenant
	}
	if err := copyClones(ctx, conn, "jobs", jobCols, jobRow, jobIDs, jobOver); err != nil {
		return err
	}
	if err := copyClones(ctx, conn, "tasks", taskCols, taskRow, jobIDs, taskOver); err != nil {
		return err
	}
	return settle(ctx, conn, "jobs", "tasks")
}

// settle brings bulk-loaded tables to the state a queue that grew over
// time is in: vacuumed and analyzed (autovacuum's work, which would
// otherwise start during the measurement) and checkpointed, so the load's
// dirty pages are not written out while the figures are taken.
func settle(ctx context.Context, conn *pgx.Conn, tables ...string) error {
	if _, err := conn.Exec(ctx, `VACUUM (ANALYZE) `+strings.Join(tables, ", ")); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	if _, err := conn.Exec(ctx, `CHECKPOINT`); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

func templateRow(ctx context.Context, conn *pgx.Conn, sql, id string) ([]string, []any, error) {
	rows, err := conn.Query(ctx, sql, id)
	if err != nil {
		return nil, nil, fmt.Errorf("read template: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, nil, errors.New("template row not found")
	}
	vals, err := rows.Values()
	if err != nil {
		return nil, nil, fmt.Errorf("read template: %w", err)
	}
	var cols []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	return cols, vals, rows.Err()
}

func copyClones(ctx context.Context, conn *pgx.Conn, table string, cols []string, tmpl []any, ids []string, override map[string]func(int) any) error {
	i := -1
	row := make([]any, len(tmpl))
	_, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		i++
		if i >= len(ids) {
			return nil, nil
		}
		for c, name := range cols {
			if f, ok := override[name]; ok {
				row[c] = f(i)
			} else {
				row[c] = tmpl[c]
			}
		}
		return row, nil
	}))
	if err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	return nil
}

// burnDown runs agents (lease → heartbeat → complete, no-op engine) until
// total tasks are completed, and returns how long that took. leaseLat, if
// set, records every call that returned a task: a lease, or a completion
// that leased the next one. It returns once every
// agent's last long-poll has been answered, so none is left open on the
// server to lease a later benchmark's task to a caller that has gone.
func burnDown(ctx context.Context, agents []*api.Client, total int, leaseLat *Latencies) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		done     atomic.Int64
		finished atomic.Bool
		elapsed  time.Duration
		firstErr error
		once     sync.Once
		wg       sync.WaitGroup
	)
	start := time.Now()
	for _, ag := range agents {
		wg.Go(func() {
			var local []time.Duration
			defer func() {
				if leaseLat != nil {
					leaseLat.Merge(local)
				}
			}()
			// An agent with one slot: lease, report a stage, complete. Where
			// the server offers it, the completion leases the next task,
			// and the agent long-polls only when that found none.
			var (
				held  []api.Lease
				chain bool
			)
			fail := func(what string, err error) {
				if ctx.Err() == nil {
					once.Do(func() { firstErr = fmt.Errorf("%s: %w", what, err); cancel() })
				}
			}
			for ctx.Err() == nil && !finished.Load() {
				if len(held) == 0 {
					t0 := time.Now()
					resp, err := ag.Lease(ctx, api.LeaseRequest{Max: 1, WaitSeconds: 1})
					if err != nil {
						fail("lease", err)
						return
					}
					if len(resp.Tasks) > 0 {
						local = append(local, time.Since(t0))
					}
					held, chain = resp.Tasks, slices.Contains(resp.Features, api.FeatureCompleteNext)
					continue
				}
				l := held[0]
				held = held[1:]
				if _, err := ag.Heartbeat(ctx, l.TaskID, api.HeartbeatRequest{Token: l.Token, Stage: "noop", Progress: 0.5}); err != nil {
					fail("heartbeat", err)
					return
				}
				req := api.CompleteRequest{Token: l.Token, Result: api.TaskResult{Key: l.Upload.Key, Result: api.Result{Engine: "noop"}}}
				if chain && len(held) == 0 {
					req.Next = &api.NextRequest{Max: 1}
				}
				t0 := time.Now()
				resp, err := ag.Complete(ctx, l.TaskID, req)
				if err != nil {
					fail("complete", err)
					return
				}
				if len(resp.Next.Tasks) > 0 {
					local = append(local, time.Since(t0))
				}
				held = append(held, resp.Next.Tasks...)
				if done.Add(1) == int64(total) {
					elapsed = time.Since(start)
					finished.Store(true)
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	if elapsed == 0 {
		return 0, fmt.Errorf("burn-down ended after %d of %d tasks: %w", done.Load(), total, ctx.Err())
	}
	return elapsed, nil
}

// Dispatch measures burn-down throughput and submit-to-lease latency.
func Dispatch(ctx context.Context, cfg Config, r *Results) error {
	s, err := StartServer(ctx, cfg, "dispatch")
	if err != nil {
		return err
	}
	defer s.Stop()
	hc := agentHTTP(cfg.Scale.DispatchAgents)
	agents, err := registerAgents(ctx, s, cfg.Scale.DispatchAgents, hc)
	if err != nil {
		return err
	}
	if err := seedQueued(ctx, s, cfg.Scale.DispatchTasks); err != nil {
		return err
	}
	el, err := burnDown(ctx, agents, cfg.Scale.DispatchTasks, nil)
	if err != nil {
		return fmt.Errorf("burn-down: %w", err)
	}
	r.Set("dispatch_tasks_per_s", float64(cfg.Scale.DispatchTasks)/el.Seconds(), "tasks/s")

	idle, err := registerAgents(ctx, s, cfg.Scale.LatencyAgents, hc)
	if err != nil {
		return err
	}
	lat, err := steadyLatency(ctx, s, idle, cfg.Scale)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	r.Set("dispatch_latency_p50_ms", lat.Pct(50), "ms")
	r.Set("dispatch_latency_p99_ms", lat.Pct(99), "ms")
	return nil
}

// steadyLatency submits jobs at a fixed rate while idle agents wait in
// long-polls, and measures from the start of each submission to the moment
// an agent holds its lease.
func steadyLatency(ctx context.Context, s *Server, agents []*api.Client, sc Scale) (*Latencies, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		sent     sync.Map // source URL → submission start
		lat      Latencies
		got      atomic.Int64
		wg       sync.WaitGroup
		firstErr error
		once     sync.Once
	)
	fail := func(err error) { once.Do(func() { firstErr = err; cancel() }) }
	total := int(sc.LatencyRate * sc.LatencyDuration.Seconds())
	// Agents work as the real one does: a long-poll when they hold
	// nothing, and a completion that asks for the next task.
	for _, ag := range agents {
		wg.Go(func() {
			var held []api.Lease
			for ctx.Err() == nil {
				if len(held) == 0 {
					resp, err := ag.Lease(ctx, api.LeaseRequest{Max: 1, WaitSeconds: 30})
					if err != nil {
						if ctx.Err() == nil {
							fail(err)
						}
						return
					}
					held = resp.Tasks
					continue
				}
				l := held[0]
				held = held[1:]
				if t0, ok := sent.Load(l.Spec.URL); ok {
					lat.Add(time.Since(t0.(time.Time)))
				}
				resp, err := ag.Complete(ctx, l.TaskID, api.CompleteRequest{Token: l.Token,
					Result: api.TaskResult{Key: l.Upload.Key}, Next: &api.NextRequest{Max: 1}})
				if err != nil {
					if ctx.Err() == nil {
						fail(err)
					}
					return
				}
				held = append(held, resp.Next.Tasks...)
				if got.Add(1) == int64(total) {
					cancel()
				}
			}
		})
	}
	time.Sleep(sc.Settle) // agents reach their long-poll
	hc := hostClient(s.URL, 64)
	tag := randHex(4)
	tick := time.NewTicker(time.Duration(float64(time.Second) / sc.LatencyRate))
	var subs sync.WaitGroup
	for i := range total {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		if ctx.Err() != nil {
			break
		}
		subs.Go(func() {
			body := submitBody(tag, int64(i))
			u := fmt.Sprintf("http://127.0.0.1:9/bench/%s/%d.mp4", tag, i)
			sent.Store(u, time.Now())
			if err := doJSON(hc, s, http.MethodPost, api.PathJobs, body, nil); err != nil {
				fail(err)
			}
		})
	}
	tick.Stop()
	subs.Wait()
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Minute): // a hang, not a slow machine
		fail(fmt.Errorf("only %d of %d jobs leased", got.Load(), total))
	}
	cancel()
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return &lat, nil
}

// LeaseQueued measures one agent's lease call with a small and then a very
// large queue, both spread over Scale.QueueTenants tenants: the fair-share
// lease walks tenants, so its cost must follow their number, not the
// queue's length. Each leased task is handed back (untimed), so the queue
// keeps its length.
func LeaseQueued(ctx context.Context, cfg Config, r *Results) error {
	s, err := StartServer(ctx, cfg, "lease-queued")
	if err != nil {
		return err
	}
	defer s.Stop()
	hc := agentHTTP(4)
	agents, err := registerAgents(ctx, s, 1, hc)
	if err != nil {
		return err
	}
	if err := seedQueuedTenants(ctx, s, cfg.Scale.SmallQueue, cfg.Scale.QueueTenants); err != nil {
		return err
	}
	small, err := leaseSamples(ctx, agents[0], cfg.Scale.LeaseSamples)
	if err != nil {
		return err
	}
	if err := seedQueuedTenants(ctx, s, cfg.Scale.LargeQueue-cfg.Scale.SmallQueue, cfg.Scale.QueueTenants); err != nil {
		return err
	}
	large, err := leaseSamples(ctx, agents[0], cfg.Scale.LeaseSamples)
	if err != nil {
		return err
	}
	r.Set("lease_p50_ms_1k_queued", small.Pct(50), "ms")
	r.Set("lease_p50_ms_1m_queued", large.Pct(50), "ms")
	r.Set("lease_p99_ms_1k_queued", small.Pct(99), "ms")
	r.Set("lease_p99_ms_1m_queued", large.Pct(99), "ms")
	r.Set("queued_small", float64(cfg.Scale.SmallQueue), "tasks")
	r.Set("queued_large", float64(cfg.Scale.LargeQueue), "tasks")
	r.Set("queued_tenants", float64(cfg.Scale.QueueTenants), "tenants")
	return nil
}

func leaseSamples(ctx context.Context, ag *api.Client, n int) (*Latencies, error) {
	var lat Latencies
	for i := range n + n/10 {
		t0 := time.Now()
		resp, err := ag.Lease(ctx, api.LeaseRequest{Max: 1})
		d := time.Since(t0)
		if err != nil {
			return nil, err
		}
		if len(resp.Tasks) == 0 {
			return nil, errors.New("lease returned no task from a full queue")
		}
		if i >= n/10 { // the first calls warm connections and caches
			lat.Add(d)
		}
		for _, l := range resp.Tasks {
			if err := ag.Release(ctx, l.TaskID, api.ReleaseRequest{Token: l.Token, Reason: "bench"}); err != nil {
				return nil, fmt.Errorf("release: %w", err)
			}
		}
	}
	return &lat, nil
}

// Scaling burns down a queue with 1, 10, 100 and 1,000 agents.
func Scaling(ctx context.Context, cfg Config, r *Results) error {
	s, err := StartServer(ctx, cfg, "scaling")
	if err != nil {
		return err
	}
	defer s.Stop()
	for _, row := range cfg.Scale.ScalingRows {
		hc := agentHTTP(row.Agents)
		agents, err := registerAgents(ctx, s, row.Agents, hc)
		if err != nil {
			return err
		}
		if err := seedQueued(ctx, s, row.Tasks); err != nil {
			return err
		}
		var lat Latencies
		el, err := burnDown(ctx, agents, row.Tasks, &lat)
		hc.CloseIdleConnections()
		if err != nil {
			return fmt.Errorf("%d agents: %w", row.Agents, err)
		}
		r.AddScaling(ScalingResult{Agents: row.Agents, Tasks: row.Tasks, TasksPerSec: float64(row.Tasks) / el.Seconds(),
			LeaseP50: lat.Pct(50), LeaseP99: lat.Pct(99)})
	}
	return nil
}
