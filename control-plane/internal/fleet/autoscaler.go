package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// Policy bounds and paces the autoscaler.
type Policy struct {
	Min, Max int
	// UpPerAgent: scale up when more than this many jobs wait per agent.
	UpPerAgent float64
	// DownPerAgent (< UpPerAgent): scale down only when at most this many
	// jobs wait per agent. The gap between the two is the hysteresis band
	// that keeps the group from flapping.
	DownPerAgent float64
	// MaxQueueAge: a job waiting longer than this scales up even when the
	// queue is short (e.g. work only a few agents can run).
	MaxQueueAge  time.Duration
	UpCooldown   time.Duration // after any change, no scale-up for this long
	DownCooldown time.Duration // after any change, no scale-down for this long
	MaxStep      int           // largest change at once when scaling up; default 5
}

// DefaultPolicy is a conservative policy for a CPU agent group.
func DefaultPolicy() Policy {
	return Policy{Min: 1, Max: 10, UpPerAgent: 4, DownPerAgent: 1, MaxQueueAge: 2 * time.Minute,
		UpCooldown: time.Minute, DownCooldown: 5 * time.Minute, MaxStep: 5}
}

// Validate reports a policy that cannot work.
func (p Policy) Validate() error {
	switch {
	case p.Min < 0 || p.Max < p.Min:
		return fmt.Errorf("autoscaler: want 0 <= min <= max, got min %d max %d", p.Min, p.Max)
	case p.UpPerAgent <= 0 || p.DownPerAgent < 0 || p.DownPerAgent >= p.UpPerAgent:
		return fmt.Errorf("autoscaler: want 0 <= down_per_agent < up_per_agent, got %v and %v", p.DownPerAgent, p.UpPerAgent)
	}
	return nil
}

// Observation is what the autoscaler sees at one evaluation.
type Observation struct {
	Current    int           // the group's desired count now
	Queued     int           // jobs waiting for an agent
	OldestAge  time.Duration // how long the oldest of them has waited
	Now        time.Time
	LastChange time.Time // when the group was last scaled; zero if never
}

// Decision is the outcome of one evaluation; To == From means no change.
type Decision struct {
	From, To int
	Reason   string
}

// Decide is the autoscaler's pure rule: bounds first, then scale-up on a
// long or old queue, then scale-down one step at a time on an idle queue,
// each direction subject to its cooldown.
func Decide(p Policy, o Observation) Decision {
	d := Decision{From: o.Current, To: o.Current}
	step := p.MaxStep
	if step <= 0 {
		step = 5
	}
	switch {
	case o.Current < p.Min:
		d.To, d.Reason = p.Min, fmt.Sprintf("below minimum %d", p.Min)
		return d
	case o.Current > p.Max:
		d.To, d.Reason = p.Max, fmt.Sprintf("above maximum %d", p.Max)
		return d
	}
	since := o.Now.Sub(o.LastChange)
	perAgent := float64(o.Queued) / float64(max(o.Current, 1))
	old := p.MaxQueueAge > 0 && o.Queued > 0 && o.OldestAge > p.MaxQueueAge
	if perAgent > p.UpPerAgent || old || (o.Current == 0 && o.Queued > 0) {
		want := int(math.Ceil(float64(o.Queued) / p.UpPerAgent))
		want = min(max(want, o.Current+1), o.Current+step, p.Max)
		reason := fmt.Sprintf("%d queued (%.1f per agent > %.1f)", o.Queued, perAgent, p.UpPerAgent)
		if old && perAgent <= p.UpPerAgent {
			reason = fmt.Sprintf("oldest queued job waited %s > %s", o.OldestAge.Round(time.Second), p.MaxQueueAge)
		}
		switch {
		case want <= o.Current:
			d.Reason = "at maximum; " + reason
		case !o.LastChange.IsZero() && since < p.UpCooldown:
			d.Reason = "scale-up cooling down; " + reason
		default:
			d.To, d.Reason = want, reason
		}
		return d
	}
	if perAgent <= p.DownPerAgent && !old && o.Current > p.Min {
		reason := fmt.Sprintf("%d queued (%.1f per agent <= %.1f)", o.Queued, perAgent, p.DownPerAgent)
		if !o.LastChange.IsZero() && since < p.DownCooldown {
			d.Reason = "scale-down cooling down; " + reason
			return d
		}
		// One step at a time: a busy agent that is stopped hands its task back.
		d.To, d.Reason = o.Current-1, reason
		return d
	}
	d.Reason = "within band"
	return d
}

// QueueReader reports the queue's depth and the age of its oldest job.
type QueueReader interface {
	QueueStats(ctx context.Context, now time.Time) (queued int, oldest time.Duration, err error)
}

// GroupScaler reads and sets a Nomad job group's count.
type GroupScaler interface {
	GroupCount(ctx context.Context, job, group string) (int, error)
	Scale(ctx context.Context, job, group string, count int, message string, meta map[string]any) error
}

// Leader elects one replica to run the autoscaler.
type Leader interface {
	AcquireLeadership(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
}

// AutoscalerConfig names the group to scale and the policy.
type AutoscalerConfig struct {
	Job, Group string
	Policy     Policy
	Interval   time.Duration // default 15s
	Holder     string        // this replica's name, for leadership
	Keep       int           // decisions kept for the API; default 100
}

// Autoscaler periodically scales the agent group; only the replica holding
// the "autoscaler" leadership acts.
type Autoscaler struct {
	cfg    AutoscalerConfig
	queue  QueueReader
	scaler GroupScaler
	leader Leader
	now    func() time.Time
	log    *slog.Logger

	mu         sync.Mutex
	lastChange time.Time
	decisions  []api.AutoscalerDecision
}

// NewAutoscaler builds an autoscaler; leader may be nil (always act).
func NewAutoscaler(cfg AutoscalerConfig, q QueueReader, s GroupScaler, l Leader, now func() time.Time, log *slog.Logger) (*Autoscaler, error) {
	if err := cfg.Policy.Validate(); err != nil {
		return nil, err
	}
	if cfg.Job == "" || cfg.Group == "" {
		return nil, fmt.Errorf("autoscaler: job and group are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Second
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 100
	}
	return &Autoscaler{cfg: cfg, queue: q, scaler: s, leader: l, now: now, log: log}, nil
}

// Run evaluates every Interval until ctx ends.
func (a *Autoscaler) Run(ctx context.Context) {
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := a.Tick(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("autoscaler evaluation failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick runs one evaluation and applies its decision.
func (a *Autoscaler) Tick(ctx context.Context) (Decision, error) {
	now := a.now()
	if a.leader != nil {
		ok, err := a.leader.AcquireLeadership(ctx, "autoscaler", a.cfg.Holder, now, 3*a.cfg.Interval)
		if err != nil {
			return Decision{}, fmt.Errorf("autoscaler leadership: %w", err)
		}
		if !ok {
			return Decision{Reason: "not the leader"}, nil
		}
	}
	queued, oldest, err := a.queue.QueueStats(ctx, now)
	if err != nil {
		return Decision{}, err
	}
	current, err := a.scaler.GroupCount(ctx, a.cfg.Job, a.cfg.Group)
	if err != nil {
		return Decision{}, err
	}
	a.mu.Lock()
	last := a.lastChange
	a.mu.Unlock()
	d := Decide(a.cfg.Policy, Observation{Current: current, Queued: queued, OldestAge: oldest, Now: now, LastChange: last})
	if d.To == d.From {
		a.log.Debug("autoscaler holds", "count", d.From, "reason", d.Reason, "queued", queued)
		return d, nil
	}
	rec := api.AutoscalerDecision{At: now.UTC(), Job: a.cfg.Job, Group: a.cfg.Group, From: d.From, To: d.To,
		Reason: d.Reason, Queued: queued, OldestQueuedS: oldest.Seconds()}
	err = a.scaler.Scale(ctx, a.cfg.Job, a.cfg.Group, d.To, "ytcaption autoscaler: "+d.Reason,
		map[string]any{"from": d.From, "to": d.To, "queued": queued, "oldest_queued_seconds": oldest.Seconds()})
	if err != nil {
		rec.Error = err.Error()
	} else {
		rec.Applied = true
	}
	a.mu.Lock()
	if err == nil {
		a.lastChange = now
	}
	// A decision that keeps failing the same way (e.g. Nomad refusing to
	// scale during a deployment) is one entry, not one per tick.
	if n := len(a.decisions); n > 0 && !rec.Applied && sameAttempt(a.decisions[n-1], rec) {
		a.decisions[n-1] = rec
	} else {
		a.decisions = append(a.decisions, rec)
	}
	if len(a.decisions) > a.cfg.Keep {
		a.decisions = a.decisions[len(a.decisions)-a.cfg.Keep:]
	}
	a.mu.Unlock()
	a.log.Info("autoscaler decision", "job", a.cfg.Job, "group", a.cfg.Group, "from", d.From, "to", d.To,
		"reason", d.Reason, "applied", err == nil)
	return d, err
}

func sameAttempt(a, b api.AutoscalerDecision) bool {
	return !a.Applied && a.From == b.From && a.To == b.To && a.Reason == b.Reason && a.Error == b.Error
}

// Decisions returns the recorded decisions, newest last.
func (a *Autoscaler) Decisions() []api.AutoscalerDecision {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]api.AutoscalerDecision(nil), a.decisions...)
}

// JobLister pages through jobs.
type JobLister interface {
	ListJobs(ctx context.Context, f store.JobFilter) ([]job.Job, string, error)
}

// StoreQueue measures the queue from the job store: queued jobs, newest
// first, paged to the end (bounded, so a huge backlog costs a few pages).
type StoreQueue struct {
	Jobs     JobLister
	MaxPages int // default 20 pages of 1000
}

// QueueStats implements QueueReader.
func (q StoreQueue) QueueStats(ctx context.Context, now time.Time) (int, time.Duration, error) {
	pages := q.MaxPages
	if pages <= 0 {
		pages = 20
	}
	var (
		n      int
		oldest time.Time
		cursor string
	)
	for range pages {
		jobs, next, err := q.Jobs.ListJobs(ctx, store.JobFilter{Status: api.JobQueued, Limit: 1000, Cursor: cursor})
		if err != nil {
			return 0, 0, fmt.Errorf("list queued jobs: %w", err)
		}
		n += len(jobs)
		for _, j := range jobs {
			if oldest.IsZero() || j.CreatedAt.Before(oldest) {
				oldest = j.CreatedAt
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if n == 0 {
		return 0, 0, nil
	}
	return n, max(now.Sub(oldest), 0), nil
}
