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
	// Write writes changes in order. A store may send them with its
	// transaction's next statement or commit, where a failure then shows.
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

// Lease is LeaseTasks' flow once the backend has picked, in lease order,
// the candidate tasks (and on PostgreSQL locked them with their jobs): each
// comes back with its job as written.
func Lease(ctx context.Context, tx StateTx, p LeaseParams, candidates []job.Task) ([]Leased, error) {
	out, err := LeaseMany(ctx, tx, []LeaseParams{p}, candidates)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// LeaseMany is Lease for several calls with the same capabilities in one
// transaction: the candidates, in lease order, go to the calls in order,
// each taking up to its Max. out[i] is what calls[i] leased.
func LeaseMany(ctx context.Context, tx StateTx, calls []LeaseParams, candidates []job.Task) ([][]Leased, error) {
	out := make([][]Leased, len(calls))
	if len(calls) == 0 || len(candidates) == 0 {
		return out, nil
	}
	grants := make(map[string]job.Grant, len(candidates))
	whose := make(map[string]int, len(candidates))
	now := LeaseNow(calls)
	c := 0
	for i, left := 0, calls[0].Max; c < len(candidates); {
		if left == 0 {
			if i++; i == len(calls) {
				break
			}
			left = calls[i].Max
			continue
		}
		id := candidates[c].ID
		grants[id] = job.Grant{TaskID: id, AgentID: calls[i].AgentID, Deadline: calls[i].Deadline}
		whose[id] = i
		left--
		c++
	}
	granted := candidates[:c]
	byJob := map[string][]job.Grant{}
	for _, t := range granted {
		byJob[t.JobID] = append(byJob[t.JobID], grants[t.ID])
	}
	var leased []Leased
	_, err := ChangeJobs(ctx, tx, "", jobIDs(granted), func(st *job.State) (job.Change, error) {
		got, ch, err := st.LeaseEach(byJob[st.Job.ID], calls[0].Capabilities, now)
		for _, t := range got {
			leased = append(leased, Leased{Task: t, Job: ch.Job, Traceparent: st.Traceparent})
		}
		return ch, err
	})
	if err != nil {
		return nil, err
	}
	// Back into lease order, per call.
	order := make(map[string]int, len(granted))
	for i, t := range granted {
		order[t.ID] = i
	}
	slices.SortFunc(leased, func(a, b Leased) int { return order[a.ID] - order[b.ID] })
	for _, l := range leased {
		out[whose[l.ID]] = append(out[whose[l.ID]], l)
	}
	return out, nil
}

// LeaseNow is the time calls served together lease at: the latest of
// theirs, so a task ready for any of them is ready for the batch.
func LeaseNow(calls []LeaseParams) time.Time {
	var now time.Time
	for _, p := range calls {
		if p.Now.After(now) {
			now = p.Now
		}
	}
	return now
}

// Rescue is RescueExpired's flow once the backend has picked the tasks
// whose lease expired: it returns them as rescued.
func Rescue(ctx context.Context, tx StateTx, expired []job.Task, p job.RetryPolicy, jitter func() float64, now time.Time) ([]job.Task, error) {
	var rescued []job.Task
	_, err := ChangeJobs(ctx, tx, "", jobIDs(expired), func(st *job.State) (job.Change, error) {
		got, ch, err := st.Expire(taskIDs(expired), p, jitter, now)
		rescued = append(rescued, got...)
		return ch, err
	})
	return rescued, err
}

// Report is a change an agent reports about one task.
type Report struct {
	Op     string // names the report in errors
	TaskID string
	// Decide changes the task's job state; a nil change writes nothing.
	Decide func(*job.State) (job.Task, *job.Change, error)
	// Next, when set, leases the agent's next tasks in the same
	// transaction once the report is accepted (a completion that asks for
	// more work). A failure to lease leases nothing and does not undo the
	// report: the agent only asks again.
	Next *LeaseParams
}

// Reported is the answer to a Report: the task and its job as written, or
// why the report was refused.
type Reported struct {
	Task job.Task
	Job  job.Job
	Next []Leased // what Report.Next leased
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

// Changes implements Store's changes of jobs and tasks that need no
// backend SQL of their own (the reports of agents, cancel, retry) once for
// both backends, on the backend's transactions.
type Changes struct {
	// Report applies one report: ApplyReports in a write transaction, of
	// its own or shared with other reports (group commit). A refused
	// report is an error.
	Report func(ctx context.Context, r Report) (Reported, error)
	// Job changes one job: ChangeJobs in a write transaction of its own;
	// op names the change in errors.
	Job func(ctx context.Context, op, tenant, id string, decide func(*job.State) (job.Change, error)) (job.Job, error)
}

// CancelJob cancels every unfinished task of a job that is not final.
func (c Changes) CancelJob(ctx context.Context, tenant, id string, now time.Time) (job.Job, error) {
	return c.Job(ctx, "cancel", tenant, id, func(st *job.State) (job.Change, error) { return st.Cancel(now) })
}

// RetryJob requeues the failed and canceled tasks of a failed or canceled job.
func (c Changes) RetryJob(ctx context.Context, tenant, id string, now time.Time) (job.Job, error) {
	return c.Job(ctx, "retry", tenant, id, func(st *job.State) (job.Change, error) { return st.Retry(now) })
}

// Heartbeat extends a lease and records progress on the task and its job.
func (c Changes) Heartbeat(ctx context.Context, h Heartbeat) (job.Task, error) {
	res, err := c.Report(ctx, Report{Op: "heartbeat", TaskID: h.TaskID, Decide: func(st *job.State) (job.Task, *job.Change, error) {
		return st.Heartbeat(h)
	}})
	return res.Task, err
}

// CompleteTask records a task's result and updates its job.
func (c Changes) CompleteTask(ctx context.Context, cp Completion) (job.Job, error) {
	j, _, err := c.CompleteAndLease(ctx, cp, nil)
	return j, err
}

// CompleteAndLease records a task's result and, when next is set, leases
// the agent's next tasks in the same transaction: one commit for both.
func (c Changes) CompleteAndLease(ctx context.Context, cp Completion, next *LeaseParams) (job.Job, []Leased, error) {
	res, err := c.Report(ctx, Report{Op: "complete", TaskID: cp.TaskID, Next: next, Decide: func(st *job.State) (job.Task, *job.Change, error) {
		return st.Complete(cp)
	}})
	return res.Job, res.Next, err
}

// FailTask records a failed attempt.
func (c Changes) FailTask(ctx context.Context, f Failure) (job.Job, error) {
	res, err := c.Report(ctx, Report{Op: "fail", TaskID: f.TaskID, Decide: func(st *job.State) (job.Task, *job.Change, error) {
		return st.Fail(f)
	}})
	return res.Job, err
}

// ReleaseTask hands a leased task back for immediate re-lease.
func (c Changes) ReleaseTask(ctx context.Context, taskID, holder string, token int64, now time.Time) error {
	_, err := c.Report(ctx, Report{Op: "release", TaskID: taskID, Decide: func(st *job.State) (job.Task, *job.Change, error) {
		return st.Release(taskID, holder, token, now)
	}})
	return err
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

// jobIDs returns the distinct jobs of tasks in id order: the store's lock
// order.
func jobIDs(tasks []job.Task) []string {
	ids := make([]string, 0, len(tasks))
	for _, t := range tasks {
		ids = append(ids, t.JobID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// taskIDs returns the ids of tasks.
func taskIDs(tasks []job.Task) []string {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	return ids
}
