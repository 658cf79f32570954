package job

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Transition errors. The store maps them to its own sentinel errors.
var (
	// ErrStaleLease: the call carries a fencing token that is not the task's
	// current lease (the lease expired and was rescued, or never existed).
	ErrStaleLease = errors.New("stale lease")
	// ErrInvalidState: the operation is not allowed in the current state.
	ErrInvalidState = errors.New("invalid state for this operation")
	// ErrUnknownTask: the task named is not one of the job's.
	ErrUnknownTask = errors.New("unknown task")
)

// RetryPolicy decides how often and when a failed attempt is retried.
type RetryPolicy struct {
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
}

// DefaultRetryPolicy is the policy when none is configured.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 3, BaseDelay: 2 * time.Second, MaxDelay: 5 * time.Minute}
}

// Delay is the wait before attempt+1 after attempt failed: exponential in the
// attempt number with "equal jitter" (half fixed, half random), so retries of
// many tasks failed by one outage spread out but never retry at once. jitter is
// a number in [0,1) supplied by the caller, keeping this function pure.
func (p RetryPolicy) Delay(attempt int, jitter float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	// Clamped so a caller's out-of-range jitter cannot break the cap.
	jitter = min(max(jitter, 0), 1)
	d := float64(p.BaseDelay) * math.Pow(2, float64(attempt-1))
	if d > float64(p.MaxDelay) || math.IsInf(d, 0) {
		d = float64(p.MaxDelay)
	}
	return time.Duration(d/2 + d/2*jitter)
}

// CheckToken verifies that a call with token acts on the task's current lease.
func CheckToken(t Task, token int64) error {
	if t.State != TaskLeased || t.Token != token {
		return ErrStaleLease
	}
	return nil
}

// Lease moves a queued task to leased by agent until deadline and issues a
// new fencing token (greater than every earlier one for this task).
func Lease(t Task, agentID string, now, deadline time.Time) (Task, error) {
	if t.State != TaskQueued || t.RunAt.After(now) {
		return t, ErrInvalidState
	}
	t.State = TaskLeased
	t.AgentID = agentID
	t.Token++
	t.Attempt++
	t.LeaseDeadline = deadline
	t.StartedAt = now
	t.Stage, t.Progress = "", 0
	t.UpdatedAt = now
	return startRun(t), nil
}

// Extend pushes the lease deadline of a held task.
func Extend(t Task, token int64, now, deadline time.Time) (Task, error) {
	if err := CheckToken(t, token); err != nil {
		return t, err
	}
	if deadline.After(t.LeaseDeadline) {
		t.LeaseDeadline = deadline
	}
	t.UpdatedAt = now
	return t, nil
}

// Complete records success.
func Complete(t Task, token int64, res api.TaskResult, now time.Time) (Task, error) {
	if err := CheckToken(t, token); err != nil {
		return t, err
	}
	t = endRun(t, now, RunSucceeded, nil)
	t.State = TaskSucceeded
	t.Result = &res
	t.LastError = nil
	t.Progress = 1
	t.UpdatedAt = now
	return t, nil
}

// Fail records a failed attempt. A retryable failure requeues the task after
// the policy's delay unless attempts are exhausted (the task's own
// MaxAttempts when set, else the policy's); a permanent one fails it. When
// attempts run out, the last error is kept so the job shows why.
func Fail(t Task, token int64, e api.Error, retryable bool, p RetryPolicy, now time.Time, jitter float64) (Task, error) {
	if err := CheckToken(t, token); err != nil {
		return t, err
	}
	nt := fail(t, e, retryable, p, now, jitter)
	o := RunFailed
	if nt.State == TaskQueued {
		o = RunRetried
	}
	nt.Runs = endRun(t, now, o, &e).Runs
	return nt, nil
}

// Expire is Fail for a lease whose deadline passed without a heartbeat: the
// agent is presumed dead or partitioned, and the task is retried.
func Expire(t Task, p RetryPolicy, now time.Time, jitter float64) (Task, error) {
	if t.State != TaskLeased || !t.LeaseDeadline.Before(now) {
		return t, ErrInvalidState
	}
	e := api.Error{Code: api.CodeLeaseExpired, Message: "lease expired: agent " + t.AgentID + " stopped heartbeating"}
	r := fail(t, e, true, p, now, jitter)
	r.Runs = endRun(t, now, RunExpired, &e).Runs
	return r, nil
}

func fail(t Task, e api.Error, retryable bool, p RetryPolicy, now time.Time, jitter float64) Task {
	t.LastError = &e
	t.UpdatedAt = now
	limit := p.MaxAttempts
	if t.MaxAttempts > 0 {
		limit = t.MaxAttempts // fixed when the task was planned
	}
	if retryable && t.Attempt < limit {
		t.State = TaskQueued
		t.RunAt = now.Add(p.Delay(t.Attempt, jitter))
		return t
	}
	t.State = TaskFailed
	if retryable {
		t.LastError = &api.Error{
			Code:    api.CodeMaxAttempts,
			Message: "gave up after " + strconv.Itoa(t.Attempt) + " attempts; last error: " + e.Code + ": " + e.Message,
		}
	}
	return t
}

// Release hands a leased task back unfinished (agent shutdown): it is leasable
// again at once and the attempt does not count.
func Release(t Task, token int64, now time.Time) (Task, error) {
	if err := CheckToken(t, token); err != nil {
		return t, err
	}
	t = endRun(t, now, RunReleased, nil)
	t.State = TaskQueued
	t.RunAt = now
	if t.Attempt > 0 {
		t.Attempt--
	}
	t.UpdatedAt = now
	return t, nil
}

// Cancel stops a task that is not final. A leased task keeps its token so the
// holder's next heartbeat learns of the cancel instead of a stale lease.
func Cancel(t Task, now time.Time) (Task, error) {
	return cancel(t, now, api.Error{Code: api.CodeCanceled, Message: "canceled by request"})
}

// cancel is Cancel for the reason e.
func cancel(t Task, now time.Time, e api.Error) (Task, error) {
	if t.State.Final() {
		return t, ErrInvalidState
	}
	if t.State == TaskLeased {
		t = endRun(t, now, RunCanceled, &e)
	}
	t.State = TaskCanceled
	t.LastError = &e
	t.UpdatedAt = now
	return t, nil
}

// Retry requeues a failed or canceled task with a fresh attempt budget.
func Retry(t Task, now time.Time) (Task, error) {
	if t.State != TaskFailed && t.State != TaskCanceled {
		return t, ErrInvalidState
	}
	t.State = TaskQueued
	t.Attempt = 0
	t.RunAt = now
	t.LastError = nil
	t.Result = nil
	t.Stage, t.Progress = "", 0
	t.UpdatedAt = now
	return t, nil
}

// CanRetryJob reports whether a job in status s may be retried.
func CanRetryJob(s Status) bool { return s == api.JobFailed || s == api.JobCanceled }

// CanCancelJob reports whether a job in status s may be canceled.
func CanCancelJob(s Status) bool { return !s.Final() }
