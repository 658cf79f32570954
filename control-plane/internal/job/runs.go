package job

import (
	"slices"
	"time"
	"unicode/utf8"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// A task's runs are its history: one Run per lease, opened when it is
// leased, marked at each new stage its holder reports, and closed with how
// it ended by the transition that ends the lease. They ride in the task's
// row, so keeping them costs no statement of its own; the bounds below keep
// that row small however often a task is retried.

// Bounds of a task's history.
const (
	// MaxRuns is how many runs a task keeps; older ones are dropped.
	MaxRuns = 20
	// MaxStageMarks is how many stage marks a run keeps; past it the last
	// mark is replaced, so the stage a run is in is always shown.
	MaxStageMarks = 16
	// maxRunMessage bounds the error message a run keeps (agents report
	// tools' output, which can be long); LastError keeps it whole.
	maxRunMessage = 512
)

// Outcome is how a run ended; it is the wire outcome.
type Outcome = api.RunOutcome

// Run outcomes (see api.RunOutcome).
const (
	RunRunning   = api.RunRunning
	RunSucceeded = api.RunSucceeded
	RunRetried   = api.RunRetried
	RunFailed    = api.RunFailed
	RunExpired   = api.RunExpired
	RunReleased  = api.RunReleased
	RunCanceled  = api.RunCanceled
)

// Run is one attempt at a task: a lease from start to end.
type Run struct {
	Attempt   int   // the task's attempt number under this lease
	Token     int64 // the lease's fencing token: names the run
	AgentID   string
	StartedAt time.Time
	EndedAt   time.Time // zero while running
	Outcome   Outcome
	Error     *api.Error // why it failed, expired or was canceled
	Stages    []StageMark
}

// StageMark is when the holder first reported a stage.
type StageMark struct {
	Stage string
	At    time.Time
}

// Running reports whether the run's lease is still held.
func (r Run) Running() bool { return r.Outcome == RunRunning }

// History is the task's runs as shown: with the current lease's run even
// when it was never written (a task leased before runs were recorded).
func (t Task) History() []Run {
	if t.open() >= 0 || t.State != TaskLeased {
		return t.Runs
	}
	return append(slices.Clip(t.Runs), t.leaseRun())
}

// open is the index of the run of t's current lease, -1 if none.
func (t Task) open() int {
	if n := len(t.Runs); n > 0 && t.Runs[n-1].Token == t.Token && t.Runs[n-1].Running() {
		return n - 1
	}
	return -1
}

// leaseRun is the run of t's current lease as its lease fields tell it.
func (t Task) leaseRun() Run {
	return Run{Attempt: t.Attempt, Token: t.Token, AgentID: t.AgentID, StartedAt: t.StartedAt, Outcome: RunRunning}
}

// withOpenRun returns t with the run of its current lease last, writable:
// its runs are copied, so the caller's task (and its state) is unchanged.
// A leased task that never wrote its run gets it now.
func withOpenRun(t Task) (Task, int) {
	t.Runs = slices.Clone(t.History())
	return t, t.open()
}

// startRun opens the run of the lease t just took.
func startRun(t Task) Task {
	t.Runs = append(slices.Clone(t.Runs), t.leaseRun())
	if n := len(t.Runs); n > MaxRuns {
		t.Runs = slices.Delete(t.Runs, 0, n-MaxRuns)
	}
	return t
}

// markStage records that the holder of leased t reached stage at now,
// unless that is the stage it is in.
func markStage(t Task, stage string, now time.Time) Task {
	if stage == "" {
		return t
	}
	t, i := withOpenRun(t)
	if i < 0 {
		return t
	}
	r := &t.Runs[i]
	if n := len(r.Stages); n > 0 && r.Stages[n-1].Stage == stage {
		return t
	}
	m := StageMark{Stage: stage, At: now}
	if len(r.Stages) >= MaxStageMarks {
		r.Stages = slices.Clone(r.Stages[:MaxStageMarks])
		r.Stages[MaxStageMarks-1] = m
	} else {
		r.Stages = append(slices.Clip(r.Stages), m)
	}
	return t
}

// endRun closes the run of t's lease at now with how it ended; t is the
// task before the transition that ends the lease (still leased).
func endRun(t Task, now time.Time, o Outcome, e *api.Error) Task {
	t, i := withOpenRun(t)
	if i < 0 {
		return t
	}
	r := &t.Runs[i]
	r.EndedAt, r.Outcome, r.Error = now, o, runError(e)
	if r.StartedAt.IsZero() || r.StartedAt.After(now) {
		r.StartedAt = now // a row leased before started_at was recorded
	}
	return t
}

// runError is the error a run keeps: e with its message bounded.
func runError(e *api.Error) *api.Error {
	if e == nil {
		return nil
	}
	c := *e
	if len(c.Message) > maxRunMessage {
		cut := maxRunMessage
		for cut > 0 && !utf8.RuneStart(c.Message[cut]) {
			cut--
		}
		c.Message = c.Message[:cut] + "…"
	}
	return &c
}
