package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// The decisions of the state-changing methods, shared by the backends: each
// backend reads the rows in a transaction, applies one of these, and writes
// back what changed.

// TaskChange decides how a task, and its job's own fields, change; false
// means nothing is to be written.
type TaskChange func(j *job.Job, t job.Task) (job.Task, bool, error)

// HeartbeatChange extends a lease and records progress on the task and job.
// A task canceled under its holder is left as is: the holder learns of the
// cancel from its state.
func HeartbeatChange(h Heartbeat) TaskChange {
	return func(j *job.Job, t job.Task) (job.Task, bool, error) {
		if err := held(t, h.Holder); err != nil {
			return t, false, err
		}
		if t.State == job.TaskCanceled && t.Token == h.Token {
			return t, false, nil
		}
		t, err := job.Extend(t, h.Token, h.Now, h.Deadline)
		if err != nil {
			return t, false, err
		}
		if h.Stage != "" {
			t.Stage = h.Stage
			j.Stage = h.Stage
		}
		t.Progress = Clamp01(h.Progress)
		return t, true, nil
	}
}

// CompleteChange records a task's result on the task and its job.
func CompleteChange(c Completion) TaskChange {
	return func(j *job.Job, t job.Task) (job.Task, bool, error) {
		if err := held(t, c.Holder); err != nil {
			return t, false, err
		}
		nt, err := job.Complete(t, c.Token, c.Result, c.Now)
		if err != nil {
			return t, false, err
		}
		if c.Check != nil {
			if err := c.Check(t, c.Result); err != nil {
				return t, false, err
			}
		}
		j.Result = &api.JobResult{Result: c.Result.Result}
		j.ResultKey = c.Result.Key
		return nt, true, nil
	}
}

// FailChange records a failed attempt.
func FailChange(f Failure) TaskChange {
	return func(_ *job.Job, t job.Task) (job.Task, bool, error) {
		if err := held(t, f.Holder); err != nil {
			return t, false, err
		}
		t, err := job.Fail(t, f.Token, f.Error, f.Retryable, PolicyFor(t, f.Policy), f.Now, f.Jitter)
		return t, err == nil, err
	}
}

// ReleaseChange hands a leased task back for immediate re-lease.
func ReleaseChange(holder string, token int64, now time.Time) TaskChange {
	return func(_ *job.Job, t job.Task) (job.Task, bool, error) {
		if err := held(t, holder); err != nil {
			return t, false, err
		}
		t, err := job.Release(t, token, now)
		return t, err == nil, err
	}
}

// held refuses a task another agent holds, as a stale lease: an agent
// learns nothing about tasks that are not its own. "" is any holder.
func held(t job.Task, holder string) error {
	if holder != "" && t.AgentID != holder {
		return fmt.Errorf("task %s is not held by agent %s: %w", t.ID, holder, ErrStaleLease)
	}
	return nil
}

// PolicyFor is p with the task's own MaxAttempts, when set, in place of the
// policy's.
func PolicyFor(t job.Task, p job.RetryPolicy) job.RetryPolicy {
	if t.MaxAttempts > 0 {
		p.MaxAttempts = t.MaxAttempts
	}
	return p
}

// RuleError maps a violated job rule to the store's sentinel errors; other
// errors pass through.
func RuleError(err error) error {
	switch {
	case errors.Is(err, job.ErrStaleLease):
		return fmt.Errorf("%w: %w", ErrStaleLease, err)
	case errors.Is(err, job.ErrInvalidState):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// CancelTasks is CancelJob's decision: which of a job's tasks change.
func CancelTasks(j *job.Job, tasks []job.Task, now time.Time) ([]job.Task, error) {
	if !job.CanCancelJob(j.Status) {
		return nil, fmt.Errorf("job is %s: %w", j.Status, ErrConflict)
	}
	var changed []job.Task
	for _, t := range tasks {
		if t.State.Final() {
			continue
		}
		c, err := job.Cancel(t, now)
		if err != nil {
			return nil, RuleError(err)
		}
		changed = append(changed, c)
	}
	return changed, nil
}

// RetryTasks is RetryJob's decision: the failed and canceled tasks of a
// failed or canceled job are requeued, and the job's error cleared.
func RetryTasks(j *job.Job, tasks []job.Task, now time.Time) ([]job.Task, error) {
	if !job.CanRetryJob(j.Status) {
		return nil, fmt.Errorf("job is %s: %w", j.Status, ErrConflict)
	}
	var changed []job.Task
	for _, t := range tasks {
		if t.State != job.TaskFailed && t.State != job.TaskCanceled {
			continue
		}
		r, err := job.Retry(t, now)
		if err != nil {
			return nil, RuleError(err)
		}
		changed = append(changed, r)
	}
	j.Error, j.FinishedAt = nil, nil
	return changed, nil
}
