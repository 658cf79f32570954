package dispatch

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// leaser claims ready tasks, and tells when the next queued one is ready
// (the shared poller's cheap look, which leases nothing).
type leaser interface {
	LeaseTasks(ctx context.Context, p store.LeaseParams) ([]store.Leased, error)
	NextRunAt(ctx context.Context) (time.Time, error)
}

// Config tunes the dispatcher.
type Config struct {
	LeaseDuration time.Duration // lease deadline after each lease/heartbeat
	MaxWait       time.Duration // cap on an agent's long-poll
	// Poll is how often the replica checks for ready work that came without
	// a wake-up (tasks whose backoff ended) while long-polls wait; one check
	// for all of them. FallbackPoll is used while the cross-replica wake-up
	// channel is down.
	Poll         time.Duration
	FallbackPoll time.Duration
}

// DefaultConfig is used for zero fields.
func DefaultConfig() Config {
	return Config{LeaseDuration: 30 * time.Second, MaxWait: 30 * time.Second, Poll: 5 * time.Second, FallbackPoll: time.Second}
}

// Dispatcher answers lease long-polls.
type Dispatcher struct {
	store   leaser
	hub     *Hub
	cfg     Config
	now     func() time.Time
	healthy func() bool
	closing chan struct{}

	pollerOnce sync.Once
	waiting    atomic.Int64
}

// queryTimeout bounds one lease query, so a stuck database surfaces as an
// error the agent retries rather than a silent hang.
const queryTimeout = 5 * time.Second

// New returns a dispatcher. healthy reports whether cross-replica wake-ups
// arrive (nil: single process, always healthy).
func New(s leaser, hub *Hub, cfg Config, now func() time.Time, healthy func() bool) *Dispatcher {
	def := DefaultConfig()
	if cfg.LeaseDuration <= 0 {
		cfg.LeaseDuration = def.LeaseDuration
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = def.MaxWait
	}
	if cfg.Poll <= 0 {
		cfg.Poll = def.Poll
	}
	if cfg.FallbackPoll <= 0 {
		cfg.FallbackPoll = def.FallbackPoll
	}
	if healthy == nil {
		healthy = func() bool { return true }
	}
	return &Dispatcher{store: s, hub: hub, cfg: cfg, now: now, healthy: healthy, closing: make(chan struct{})}
}

// Waiting returns how many long-polls have looked, found nothing, and wait
// for a wake-up or a poll.
func (d *Dispatcher) Waiting() int { return int(d.waiting.Load()) }

// Config returns the effective configuration.
func (d *Dispatcher) Config() Config { return d.cfg }

// Close releases every waiting long-poll (graceful shutdown); later calls
// return at once with no tasks.
func (d *Dispatcher) Close() {
	select {
	case <-d.closing:
	default:
		close(d.closing)
	}
}

// Lease returns up to max tasks that caps can run, waiting up to wait for
// some to become ready. It returns no tasks and no error when the wait ends
// empty-handed or the dispatcher is closing.
func (d *Dispatcher) Lease(ctx context.Context, agentID string, caps api.Capabilities, max int, wait time.Duration) ([]store.Leased, error) {
	if max < 1 {
		max = 1
	}
	if wait > d.cfg.MaxWait {
		wait = d.cfg.MaxWait
	}
	end := time.NewTimer(wait)
	defer end.Stop()
	budget := -1 // of the wake-up this look acts on; -1: not woken
	for {
		t := d.hub.Wait() // before looking, so no wake-up is lost
		now := d.now()
		qctx, cancel := context.WithTimeout(ctx, queryTimeout)
		tasks, err := d.store.LeaseTasks(qctx, store.LeaseParams{
			AgentID: agentID, Capabilities: caps, Max: max, Now: now, Deadline: now.Add(d.cfg.LeaseDuration),
		})
		cancel()
		acting := budget >= 0 // on a wake-up: the hub is told how the look ended
		if err != nil {
			d.hub.Leave(t)
			if acting {
				d.hub.Done(nil, budget, false) // the wake-up was not acted on
			}
			return nil, fmt.Errorf("lease: %w", err)
		}
		if len(tasks) > 0 || wait <= 0 {
			d.hub.Leave(t)
			if acting {
				// All it asked for: Took wakes the next waiter, which covers a
				// put-off hand-over.
				d.hub.Done(nil, -1, len(tasks) == max)
			}
			d.Took(len(tasks), max)
			return tasks, nil
		}
		if acting {
			// A task still ready after this empty look may be one this agent
			// cannot run: let another look.
			ready := budget > 0 && d.readyWork(ctx)
			if ready {
				d.hub.Done(t, budget-1, false)
			} else {
				d.hub.Done(t, -1, budget > 0)
			}
		}
		d.pollerOnce.Do(func() { go d.poll() })
		d.waiting.Add(1)
		woken := false
		var ended error
		select {
		case budget = <-t.C:
			woken = true
		case <-end.C:
		case <-d.closing:
		case <-ctx.Done():
			ended = ctx.Err()
		}
		d.waiting.Add(-1)
		if !woken {
			d.hub.Leave(t)
			return nil, ended
		}
	}
}

// Took tells of a lease that took n of the max tasks asked, here or in a
// completion that leased its agent's next tasks: one that took all it
// asked for passes the wake-up on at once, as more may be ready: with a
// backlog, waiting for other woken looks first (as an empty look's
// hand-over does) left agents idle (docs/performance.md, "Round two,
// twelfth pass").
func (d *Dispatcher) Took(n, max int) {
	if n == max {
		d.hub.Wake()
	}
}

// readyWork reports whether a queued task is ready now (true on error: a
// needless look is cheaper than a task left waiting).
func (d *Dispatcher) readyWork(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	next, err := d.store.NextRunAt(ctx)
	return err != nil || (!next.IsZero() && !next.After(d.now()))
}

// poll is the one timer of this replica's waiting long-polls: it catches
// tasks that became ready without a wake-up (a retry whose backoff ended, a
// wake-up lost while Redis was down). Every Poll (FallbackPoll while
// cross-replica wake-ups are down) it asks the store whether a queued task
// is ready and wakes the waiters only if one is. Before, each waiting
// long-poll ran its own lease query every Poll: 10,000 idle agents cost
// 2,000 queries a second; now idle costs one cheap query per Poll.
func (d *Dispatcher) poll() {
	for {
		every := d.cfg.Poll
		if !d.healthy() {
			every = d.cfg.FallbackPoll
		}
		// ±20% jitter keeps the replicas' polls from lining up.
		t := time.NewTimer(time.Duration(float64(every) * (0.8 + 0.4*rand.Float64())))
		select {
		case <-d.closing:
			t.Stop()
			return
		case <-t.C:
		}
		if d.hub.Waiters() > 0 && d.readyWork(context.Background()) {
			d.hub.Wake()
		}
	}
}
