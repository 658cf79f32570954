package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// noopArgs is River's counterpart of a task run by the no-op engine.
type noopArgs struct {
	Seq int64 `json:"seq"`
}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	started func(seq int64)
}

func (w *noopWorker) Work(_ context.Context, j *river.Job[noopArgs]) error {
	w.started(j.Args.Seq)
	return nil
}

type riverEnv struct {
	pool   *pgxpool.Pool
	schema string
}

func openRiver(ctx context.Context, cfg Config) (*riverEnv, error) {
	dsn, schema, err := schemaDSN(ctx, cfg.PostgresURL, "bench_river_")
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		dropSchema(cfg.PostgresURL, schema)
		return nil, fmt.Errorf("river pool: %w", err)
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema})
	if err == nil {
		_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	}
	if err != nil {
		pool.Close()
		dropSchema(cfg.PostgresURL, schema)
		return nil, fmt.Errorf("river migrate: %w", err)
	}
	return &riverEnv{pool: pool, schema: schema}, nil
}

func (e *riverEnv) close(cfg Config) {
	e.pool.Close()
	dropSchema(cfg.PostgresURL, e.schema)
}

// newRiverClient is River with workers workers on one queue, with its
// defaults (LISTEN/NOTIFY wake-ups, 100 ms fetch cooldown) unless cooldown
// is set.
func (e *riverEnv) newRiverClient(workers int, cooldown time.Duration, started func(int64)) (*river.Client[pgx.Tx], error) {
	ws := river.NewWorkers()
	river.AddWorker(ws, &noopWorker{started: started})
	c, err := river.NewClient(riverpgxv5.New(e.pool), &river.Config{
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
		Workers:       ws,
		Schema:        e.schema,
		FetchCooldown: cooldown,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return c, nil
}

// River runs the burn-down and the steady-latency workloads on River: with
// its defaults (the reference, river_*), then with its fetch cooldown at
// River's minimum of 1 ms (river_tuned_*), since with the defaults a
// 100-worker queue fetches at most 100 jobs per 100 ms cooldown.
func River(ctx context.Context, cfg Config, r *Results) error {
	if err := runRiver(ctx, cfg, r, "river", 0); err != nil {
		return err
	}
	return runRiver(ctx, cfg, r, "river_tuned", time.Millisecond)
}

func runRiver(ctx context.Context, cfg Config, r *Results, prefix string, cooldown time.Duration) error {
	env, err := openRiver(ctx, cfg)
	if err != nil {
		return err
	}
	defer env.close(cfg)

	// Burn-down: the queue is inserted first, then 100 workers drain it.
	n := cfg.Scale.DispatchTasks
	c, err := env.newRiverClient(cfg.Scale.DispatchAgents, cooldown, func(int64) {})
	if err != nil {
		return err
	}
	params := make([]river.InsertManyParams, n)
	for i := range params {
		params[i] = river.InsertManyParams{Args: noopArgs{Seq: int64(i)}}
	}
	if _, err := c.InsertManyFast(ctx, params); err != nil {
		return fmt.Errorf("river insert: %w", err)
	}
	start := time.Now()
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("river start: %w", err)
	}
	// Completions are counted in River's table (once River has recorded
	// them): its event subscription drops events when the reader lags.
	var done int
	for deadline := start.Add(10 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if err := env.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = 'completed'`).Scan(&done); err != nil {
			_ = c.Stop(ctx)
			return fmt.Errorf("river count: %w", err)
		}
		if done >= n {
			break
		}
		if time.Now().After(deadline) {
			_ = c.Stop(ctx)
			return fmt.Errorf("river completed %d of %d jobs", done, n)
		}
	}
	el := time.Since(start)
	if err := c.Stop(ctx); err != nil {
		return fmt.Errorf("river stop: %w", err)
	}
	r.Set(prefix+"_jobs_per_s", float64(n)/el.Seconds(), "jobs/s")

	// Steady latency: insert at a fixed rate; measure insert start → Work.
	var (
		sent sync.Map
		lat  Latencies
		got  atomic.Int64
	)
	total := int(cfg.Scale.LatencyRate * cfg.Scale.LatencyDuration.Seconds())
	finished := make(chan struct{})
	c2, err := env.newRiverClient(cfg.Scale.LatencyAgents, cooldown, func(seq int64) {
		now := time.Now()
		if t0, ok := sent.Load(seq); ok {
			lat.Add(now.Sub(t0.(time.Time)))
		}
		if got.Add(1) == int64(total) {
			close(finished)
		}
	})
	if err != nil {
		return err
	}
	if err := c2.Start(ctx); err != nil {
		return fmt.Errorf("river start: %w", err)
	}
	defer func() { _ = c2.Stop(context.WithoutCancel(ctx)) }()
	time.Sleep(cfg.Scale.Settle)
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.Scale.LatencyRate))
	defer tick.Stop()
	var ins sync.WaitGroup
	errc := make(chan error, 1)
	for i := range total {
		<-tick.C
		ins.Go(func() {
			seq := int64(n + i)
			sent.Store(seq, time.Now())
			if _, err := c2.Insert(ctx, noopArgs{Seq: seq}, nil); err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
	}
	ins.Wait()
	select {
	case err := <-errc:
		return fmt.Errorf("river insert: %w", err)
	default:
	}
	select {
	case <-finished:
	case <-time.After(2 * time.Minute): // a hang, not a slow machine
		return fmt.Errorf("river worked %d of %d jobs", got.Load(), total)
	}
	r.Set(prefix+"_latency_p50_ms", lat.Pct(50), "ms")
	r.Set(prefix+"_latency_p99_ms", lat.Pct(99), "ms")
	return nil
}
