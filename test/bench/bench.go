// Package bench is the performance harness behind `make bench`: it starts
// bin/ytcaption server on PostgreSQL and Redis (a fresh schema and key
// prefix per benchmark), drives it over HTTP with a Go load generator and
// simulated agents speaking the real agent protocol, runs the same
// workloads on River as the reference, asks pgbench for the database's
// single-row insert ceiling, and writes the figures into docs/performance.md.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// ScalingRow is one line of the agent-count scaling table.
type ScalingRow struct{ Agents, Tasks int }

// Scale sets how big each benchmark is.
type Scale struct {
	Duration        time.Duration // timed window of the API benchmarks (and pgbench unless PGTransactions is set)
	PGClients       int           // pgbench clients
	PGTransactions  int           // if set, each pgbench client runs this many transactions instead of a timed window
	Warmup          time.Duration
	Settle          time.Duration // time for agents to reach their long-poll
	GetJobs         int           // jobs the GET benchmark reads from
	DispatchAgents  int
	DispatchTasks   int
	LatencyAgents   int
	LatencyRate     float64 // submissions a second
	LatencyDuration time.Duration
	IdleAgents      int
	IdleWindow      time.Duration
	SmallQueue      int
	LargeQueue      int
	QueueTenants    int // lease-queued spreads its queues over this many tenants
	LeaseSamples    int
	ScalingRows     []ScalingRow
	// Fair share: a big tenant's backlog worked by FairAgents agents that
	// spend FairWork on each task, while a small tenant submits FairProbes
	// jobs FairInterval apart.
	FairBacklog  int
	FairAgents   int
	FairWork     time.Duration
	FairProbes   int
	FairInterval time.Duration
	// Long media: seconds of speech, split into chunks of LongMediaChunk.
	LongMediaSeconds float64
	LongMediaChunk   float64
	// Stats: jobs spread over the past week and tenants, and the GET
	// /v1/stats calls timed.
	StatsJobs, StatsTenants, StatsSamples int
	CaptionRuns                           int // time-to-captions: measured jobs after one to warm up
}

// FullScale is the workload.
func FullScale() Scale {
	return Scale{
		Duration: 10 * time.Second, Warmup: 2 * time.Second, Settle: 2 * time.Second,
		PGClients: 64, GetJobs: 10_000, DispatchAgents: 100, DispatchTasks: 20_000,
		LatencyAgents: 20, LatencyRate: 200, LatencyDuration: 10 * time.Second,
		IdleAgents: 10_000, IdleWindow: 20 * time.Second,
		SmallQueue: 1_000, LargeQueue: 1_000_000, QueueTenants: 100, LeaseSamples: 500,
		ScalingRows: []ScalingRow{{1, 1_000}, {10, 4_000}, {100, 10_000}, {1_000, 10_000}},
		FairBacklog: 20_000, FairAgents: 20, FairWork: 50 * time.Millisecond, FairProbes: 100, FairInterval: 100 * time.Millisecond,
		LongMediaSeconds: 600, LongMediaChunk: 100,
		StatsJobs: 1_000_000, StatsTenants: 10, StatsSamples: 200,
		CaptionRuns: 20,
	}
}

// SmokeScale checks that every benchmark runs, in seconds. Its work is
// counted, not timed, wherever a busy machine could otherwise finish none
// of it (pgbench runs a fixed number of transactions).
func SmokeScale() Scale {
	return Scale{
		Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond, Settle: 200 * time.Millisecond,
		PGClients: 2, PGTransactions: 20,
		GetJobs: 20, DispatchAgents: 4, DispatchTasks: 40,
		LatencyAgents: 2, LatencyRate: 50, LatencyDuration: 400 * time.Millisecond,
		IdleAgents: 20, IdleWindow: 500 * time.Millisecond,
		SmallQueue: 10, LargeQueue: 200, QueueTenants: 4, LeaseSamples: 10,
		ScalingRows: []ScalingRow{{1, 5}, {3, 12}},
		FairBacklog: 200, FairAgents: 4, FairWork: 20 * time.Millisecond, FairProbes: 5, FairInterval: 50 * time.Millisecond,
		LongMediaSeconds: 40, LongMediaChunk: 10,
		StatsJobs: 500, StatsTenants: 3, StatsSamples: 10,
		CaptionRuns: 2,
	}
}

// Config says where everything is.
type Config struct {
	Bin         string // bin/ytcaption
	PostgresURL string // admin URL; every benchmark makes its own schema
	RedisURL    string
	WorkDir     string // server logs and data
	LogLevel    string // the server's log level
	Scale       Scale
	Out         io.Writer // "bench: <metric> <value> <unit>" lines
	Log         *slog.Logger
	Only        []string // benchmark names to run; empty: all
	// StressCPU, when > 0, runs `stress-ng --cpu StressCPU` beside the
	// whole run: the figures of a machine that is busy with other work.
	StressCPU int
}

// Metric is one measured figure.
type Metric struct {
	Name  string
	Value float64
	Unit  string
}

// ScalingResult is one measured row of the scaling table.
type ScalingResult struct {
	Agents, Tasks      int
	TasksPerSec        float64
	LeaseP50, LeaseP99 float64
}

// Results collects figures in the order they were measured.
type Results struct {
	mu      sync.Mutex
	out     io.Writer
	metrics []Metric
	scaling []ScalingResult
	split   []SplitPart
}

// NewResults prints each figure to out as it is set.
func NewResults(out io.Writer) *Results { return &Results{out: out} }

// Set records (or replaces) a figure and prints its bench line.
func (r *Results) Set(name string, v float64, unit string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.metrics {
		if r.metrics[i].Name == name {
			r.metrics[i] = Metric{name, v, unit}
			return
		}
	}
	r.metrics = append(r.metrics, Metric{name, v, unit})
	if r.out != nil {
		fmt.Fprintf(r.out, "bench: %s %s %s\n", name, format(v), unit)
	}
}

// Get returns a figure and whether it was measured.
func (r *Results) Get(name string) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.metrics {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// Metrics returns every figure.
func (r *Results) Metrics() []Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Metric(nil), r.metrics...)
}

// AddScaling records a scaling row and prints it.
func (r *Results) AddScaling(s ScalingResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scaling = append(r.scaling, s)
	if r.out != nil {
		fmt.Fprintf(r.out, "bench: scaling_%d_agents_tasks_per_s %s tasks/s (lease p50 %s ms, p99 %s ms)\n",
			s.Agents, format(s.TasksPerSec), format(s.LeaseP50), format(s.LeaseP99))
	}
}

// SplitPart is one part of the time to captions, in milliseconds.
type SplitPart struct {
	Part     string
	P50, P99 float64
}

// AddSplit records one part of the time to captions and prints it.
func (r *Results) AddSplit(p SplitPart) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.split = append(r.split, p)
	if r.out != nil {
		fmt.Fprintf(r.out, "bench: ttc_%s_ms %s ms (p99 %s ms)\n", p.Part, format(p.P50), format(p.P99))
	}
}

// Split returns the parts of the time to captions.
func (r *Results) Split() []SplitPart {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]SplitPart(nil), r.split...)
}

// Scaling returns the scaling rows.
func (r *Results) Scaling() []ScalingResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ScalingResult(nil), r.scaling...)
}

func format(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// Benchmark is one named benchmark.
type Benchmark struct {
	Name string
	Run  func(context.Context, Config, *Results) error
}

// All lists the benchmarks in the order make bench runs them.
func All() []Benchmark {
	return []Benchmark{
		{"pgbench", PGInsertCeiling},
		{"http-echo", HTTPEcho},
		{"api-get", APIGet},
		{"api-submit", APISubmit},
		{"dispatch", Dispatch},
		{"river", River},
		{"lease-queued", LeaseQueued},
		{"idle", Idle},
		{"scaling", Scaling},
		{"fair-share", FairShare},
		{"long-media", LongMedia},
		{"stats", Stats},
		{"time-to-captions", TimeToCaptions},
	}
}

// Run runs the selected benchmarks one after another. A failing benchmark
// is reported and the others still run; the joined errors are returned.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "info"
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o700); err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	r := NewResults(cfg.Out)
	if cfg.StressCPU > 0 {
		stop, err := stress(cfg.StressCPU)
		if err != nil {
			return r, err
		}
		defer func() { _ = stop() }()
	}
	var errs []string
	for _, b := range All() {
		if len(cfg.Only) > 0 && !contains(cfg.Only, b.Name) {
			continue
		}
		cfg.Log.Info("benchmark", "name", b.Name)
		if err := checkpoint(ctx, cfg.PostgresURL); err != nil {
			return r, err
		}
		start := time.Now()
		if err := b.Run(ctx, cfg, r); err != nil {
			cfg.Log.Error("benchmark failed", "name", b.Name, "err", err)
			errs = append(errs, b.Name+": "+err.Error())
			continue
		}
		cfg.Log.Info("benchmark done", "name", b.Name, "took", time.Since(start).Round(time.Millisecond))
	}
	r.againstRiver()
	if len(errs) > 0 {
		return r, fmt.Errorf("benchmarks failed: %s", strings.Join(errs, "; "))
	}
	return r, nil
}

// stress starts stress-ng with n CPU workers and returns what stops it:
// stop kills it and returns how it ended ("signal: killed" when it was
// still running, as it should be).
func stress(n int) (stop func() error, err error) {
	cmd := exec.Command("stress-ng", "--cpu", strconv.Itoa(n), "--quiet")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("stress-ng (make test-env installs it): %w", err)
	}
	return func() error { _ = cmd.Process.Kill(); return cmd.Wait() }, nil
}

// againstRiver records the dispatch path's figures as ratios to River's
// measured in the same run: rates as dispatch ÷ River (≥ 1: dispatch is
// faster), latencies as dispatch ÷ River (≤ 1: dispatch is quicker).
func (r *Results) againstRiver() {
	for _, x := range []struct{ name, ours, theirs string }{
		{"dispatch_vs_river_rate", "dispatch_tasks_per_s", "river_jobs_per_s"},
		{"dispatch_vs_river_tuned_rate", "dispatch_tasks_per_s", "river_tuned_jobs_per_s"},
		{"dispatch_vs_river_p99", "dispatch_latency_p99_ms", "river_latency_p99_ms"},
		{"dispatch_vs_river_tuned_p99", "dispatch_latency_p99_ms", "river_tuned_latency_p99_ms"},
	} {
		ours, ok1 := r.Get(x.ours)
		theirs, ok2 := r.Get(x.theirs)
		if ok1 && ok2 && theirs > 0 {
			r.Set(x.name, ours/theirs, "ratio")
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Machine describes where the figures were measured.
func Machine() string {
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				mem = fmt.Sprintf("%.1f GiB", kb/1024/1024)
			}
		}
	}
	return fmt.Sprintf("%d cores, %s memory, %s/%s, %s", runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// checkpoint writes out the database's dirty pages before a benchmark, so
// that one benchmark's writes are not flushed, by a checkpoint or by the
// next one's evictions, while another is measured.
func checkpoint(ctx context.Context, adminURL string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CHECKPOINT`); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
