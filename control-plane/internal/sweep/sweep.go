// Package sweep runs the control plane's housekeeping loop: it rescues tasks
// whose lease expired (the agent died or was partitioned) and retries them per
// the retry policy, and wakes waiting agents when backed-off tasks become
// ready, and samples the fleet's load (busy and total slots of the online
// agents) into the statistics every SampleInterval. Exactly one replica sweeps at a time, chosen through a leadership
// lease in the store; a crashed leader is replaced when its term runs out.
package sweep

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// sweepStore is what the sweeper needs from the store.
type sweepStore interface {
	AcquireLeadership(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	RescueExpired(ctx context.Context, now time.Time, p job.RetryPolicy, jitter func() float64, limit int) ([]job.Task, error)
	NextRunAt(ctx context.Context) (time.Time, error)
	ListAgents(ctx context.Context) ([]store.Agent, error)
	RecordFleetSample(ctx context.Context, f store.FleetSample) error
	CompactStats(ctx context.Context, before time.Time) error
}

// compactEvery is how often the leader folds the statistics of closed
// buckets (store.Store.CompactStats); compactLag keeps it off buckets that
// late writes may still reach.
const (
	compactEvery = time.Minute
	compactLag   = 2 * time.Minute
)

// Notifier wakes waiting agents (on every replica).
type Notifier interface {
	Notify(ctx context.Context)
}

// Config tunes the sweeper.
type Config struct {
	Interval time.Duration // between sweeps
	Term     time.Duration // leadership term; a dead leader is replaced after it
	Batch    int           // max leases rescued per sweep
	Policy   job.RetryPolicy
	// SampleInterval is how often the leader samples the fleet's load
	// (at most once a sweep); default 10 s.
	SampleInterval time.Duration
}

// Sweeper is the housekeeping loop of one replica.
type Sweeper struct {
	store   sweepStore
	notify  Notifier
	cfg     Config
	holder  string
	now     func() time.Time
	log     *slog.Logger
	leader  atomic.Bool
	lastDue time.Time
	sampled time.Time // when the fleet was last sampled
	compact time.Time // when the statistics were last compacted
	// OnRescue, if set, is called with each rescued task (metrics, tests).
	OnRescue func(job.Task)
}

// leadership is the name of the leadership lease the sweepers compete for.
const leadership = "sweeper"

// New returns a sweeper for the replica named holder.
func New(s sweepStore, n Notifier, cfg Config, holder string, now func() time.Time, log *slog.Logger) *Sweeper {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Term <= 0 {
		cfg.Term = 10 * time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Policy.MaxAttempts == 0 {
		cfg.Policy = job.DefaultRetryPolicy()
	}
	if cfg.SampleInterval <= 0 {
		cfg.SampleInterval = 10 * time.Second
	}
	return &Sweeper{store: s, notify: n, cfg: cfg, holder: holder, now: now, log: log}
}

// Run sweeps every Interval until ctx ends, then gives up leadership so
// another replica takes over at once.
func (s *Sweeper) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		s.Sweep(ctx)
		select {
		case <-ctx.Done():
			if s.leader.Load() {
				// A zero term ends ours now; a fresh context because ctx is done.
				rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, _ = s.store.AcquireLeadership(rctx, leadership, s.holder, s.now(), 0)
				cancel()
			}
			return
		case <-t.C:
		}
	}
}

// Leader reports whether this replica led the last sweep (for tests of the
// election: production code only needs the sweep itself).
func (s *Sweeper) Leader() bool { return s.leader.Load() }

// Sweep runs one pass if this replica is (or becomes) the leader.
func (s *Sweeper) Sweep(ctx context.Context) {
	// A pass never outlives its leadership term.
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Term)
	defer cancel()
	now := s.now()
	ok, err := s.store.AcquireLeadership(ctx, leadership, s.holder, now, s.cfg.Term)
	if err != nil {
		s.log.Warn("sweeper: leadership check failed", "err", err)
		return
	}
	if s.leader.Swap(ok) != ok {
		s.log.Info("sweeper leadership changed", "leader", ok, "holder", s.holder)
	}
	if !ok {
		return
	}
	wake := false
	for {
		rescued, err := s.store.RescueExpired(ctx, now, s.cfg.Policy, rand.Float64, s.cfg.Batch)
		if err != nil {
			s.log.Warn("sweeper: rescue failed", "err", err)
			break
		}
		for _, t := range rescued {
			s.log.Info("rescued expired lease", "task", t.ID, "job", t.JobID, "attempt", t.Attempt, "state", t.State, "retry_at", t.RunAt)
			if s.OnRescue != nil {
				s.OnRescue(t)
			}
			if t.State == job.TaskQueued {
				wake = true
			}
		}
		if len(rescued) < s.cfg.Batch {
			break
		}
	}
	// Backed-off tasks become ready silently; wake the agents once when the
	// earliest one comes due.
	next, err := s.store.NextRunAt(ctx)
	if err == nil && !next.IsZero() && !next.After(now) && !next.Equal(s.lastDue) {
		s.lastDue = next
		wake = true
	}
	if wake {
		s.notify.Notify(ctx)
	}
	if now.Sub(s.sampled) >= s.cfg.SampleInterval {
		s.sample(ctx, now)
	}
	if now.Sub(s.compact) >= compactEvery {
		s.compact = now
		if err := s.store.CompactStats(ctx, now.Add(-compactLag)); err != nil {
			s.log.Warn("sweeper: compact statistics", "err", err)
		}
	}
}

// sample records the fleet's load now (store.FleetOf) in the statistics.
func (s *Sweeper) sample(ctx context.Context, now time.Time) {
	agents, err := s.store.ListAgents(ctx)
	if err != nil {
		s.log.Warn("sweeper: list agents for the fleet sample", "err", err)
		return
	}
	f := store.FleetOf(agents, now)
	if err := s.store.RecordFleetSample(ctx, store.FleetSample{At: now, Busy: int64(f.Busy), Slots: int64(f.Slots)}); err != nil {
		s.log.Warn("sweeper: record the fleet sample", "err", err)
		return
	}
	s.sampled = now
}
