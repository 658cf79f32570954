package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/credential"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// The flows of the state-changing operations, written once for both
// backends: load the jobs' states under their locks, let package job
// decide, write the changes. A backend supplies the loading and the
// writing, inside one of its transactions; PostgreSQL runs many reports in
// one transaction (group commit), SQLite one at a time.

// StateTx is a backend's write transaction as the flows see it.
type StateTx interface {
	// LockJobs reads the states of the jobs ids, taking their locks in
	// that order (callers pass them sorted: the store's lock order).
	// tenant "" matches any tenant; a missing job is ErrNotFound.
	LockJobs(ctx context.Context, tenant string, ids []string) ([]*job.State, error)
	// LockTaskJobs reads, for each task id, the state of its job, or nil
	// for an unknown task, taking the jobs' locks in id order. The tasks of
	// one job share one state.
	LockTaskJobs(ctx context.Context, taskIDs []string) ([]*job.State, error)
	// Write writes changes in order.
	Write(ctx context.Context, changes []job.Change) error
}

// ChangeJobs loads the states of the jobs ids, lets decide change each,
// and writes the changes. It returns the states as written.
func ChangeJobs(ctx context.Context, tx StateTx, tenant string, ids []string,
	decide func(*job.State) (job.Change, error)) ([]*job.State, error) {
	states, err := tx.LockJobs(ctx, tenant, ids)
	if err != nil {
		return nil, err
	}
	changes := make([]job.Change, 0, len(states))
	for _, st := range states {
		ch, err := decide(st)
		if err != nil {
			return nil, RuleError(err)
		}
		changes = append(changes, ch)
	}
	return states, tx.Write(ctx, changes)
}

// Report is a change an agent reports about one task.
type Report struct {
	TaskID string
	// Decide changes the task's job state; a nil change writes nothing.
	Decide func(*job.State) (job.Task, *job.Change, error)
}

// Reported is the answer to a Report: the task and its job as written, or
// why the report was refused.
type Reported struct {
	Task job.Task
	Job  job.Job
	Err  error
}

// ApplyReports decides reports in order, on the states of their jobs, and
// writes all the changes. A refused report writes nothing and does not
// disturb the others; the error returned is the transaction's.
func ApplyReports(ctx context.Context, tx StateTx, reports []Report) ([]Reported, error) {
	ids := make([]string, len(reports))
	for i, r := range reports {
		ids[i] = r.TaskID
	}
	states, err := tx.LockTaskJobs(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Reported, len(reports))
	var changes []job.Change
	for i, r := range reports {
		st := states[i]
		if st == nil {
			out[i].Err = fmt.Errorf("task %s: %w", r.TaskID, ErrNotFound)
			continue
		}
		t, ch, err := r.Decide(st)
		if err != nil {
			out[i].Err = RuleError(err)
			continue
		}
		if ch != nil {
			changes = append(changes, *ch)
		}
		out[i] = Reported{Task: t, Job: st.Job}
	}
	return out, tx.Write(ctx, changes)
}

// HeartbeatReport extends a lease and records progress.
func HeartbeatReport(h Heartbeat) Report {
	return Report{TaskID: h.TaskID, Decide: func(st *job.State) (job.Task, *job.Change, error) { return st.Heartbeat(h) }}
}

// CompleteReport records a task's result.
func CompleteReport(c Completion) Report {
	return Report{TaskID: c.TaskID, Decide: func(st *job.State) (job.Task, *job.Change, error) {
		return st.Complete(c, ResultOf(c.Result))
	}}
}

// FailReport records a failed attempt.
func FailReport(f Failure) Report {
	return Report{TaskID: f.TaskID, Decide: func(st *job.State) (job.Task, *job.Change, error) { return st.Fail(f) }}
}

// ReleaseReport hands a leased task back.
func ReleaseReport(taskID, holder string, token int64, now time.Time) Report {
	return Report{TaskID: taskID, Decide: func(st *job.State) (job.Task, *job.Change, error) {
		return st.Release(taskID, holder, token, now)
	}}
}

// RuleError maps a refusal of the domain rules to the store's sentinel
// errors, keeping the original in the chain; other errors pass through.
func RuleError(err error) error {
	switch {
	case errors.Is(err, job.ErrStaleLease):
		return fmt.Errorf("%w: %w", ErrStaleLease, err)
	case errors.Is(err, job.ErrInvalidState), errors.Is(err, credential.ErrRefused):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case errors.Is(err, job.ErrUnknownTask):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, credential.ErrUnusable):
		return fmt.Errorf("%w: %w", ErrExpired, err)
	}
	return err
}

// JobIDs returns the distinct jobs of tasks in id order: the store's lock
// order.
func JobIDs(tasks []job.Task) []string {
	ids := make([]string, 0, len(tasks))
	for _, t := range tasks {
		ids = append(ids, t.JobID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// TaskIDs returns the ids of tasks.
func TaskIDs(tasks []job.Task) []string {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	return ids
}
