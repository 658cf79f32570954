package job

import (
	"fmt"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// The decisions of the store's state-changing operations, one per
// operation, on the State loaded under the job's lock (see change.go).

// Heartbeat is a lease extension with progress.
type Heartbeat struct {
	TaskID   string
	Holder   string
	Token    int64
	Stage    string
	Progress float64
	Now      time.Time
	Deadline time.Time
}

// Completion is a task's result report.
type Completion struct {
	TaskID string
	Holder string
	Token  int64
	Result api.TaskResult
	Now    time.Time
	// Check, if set, vets the result against the task before anything is
	// written (the API checks the result is the object this attempt was
	// told to write); its error is returned as is.
	Check func(t Task, res api.TaskResult) error
}

// Failure is a failed attempt report.
type Failure struct {
	TaskID    string
	Holder    string
	Token     int64
	Error     api.Error
	Retryable bool
	Policy    RetryPolicy
	Jitter    float64
	Now       time.Time
}

// Heartbeat extends a lease and records progress on the task and the job.
// A task canceled under its holder is returned as is with no change (nil):
// the holder learns of the cancel from its state.
func (s *State) Heartbeat(h Heartbeat) (Task, *Change, error) {
	return s.report(h.TaskID, h.Holder, h.Now, func(t Task) (Task, bool, error) {
		if t.State == TaskCanceled && t.Token == h.Token {
			return t, false, nil
		}
		t, err := Extend(t, h.Token, h.Now, h.Deadline)
		if err != nil {
			return t, false, err
		}
		if h.Stage != "" {
			t.Stage = h.Stage
			s.Job.Stage = h.Stage
		}
		t.Progress = clamp01(h.Progress)
		return t, true, nil
	})
}

// Complete records a task's result on the task and its job.
func (s *State) Complete(c Completion) (Task, *Change, error) {
	return s.report(c.TaskID, c.Holder, c.Now, func(t Task) (Task, bool, error) {
		nt, err := Complete(t, c.Token, c.Result, c.Now)
		if err != nil {
			return t, false, err
		}
		if c.Check != nil {
			if err := c.Check(t, c.Result); err != nil {
				return t, false, err
			}
		}
		s.Job.Result = &api.JobResult{Result: c.Result.Result}
		s.Job.ResultKey = c.Result.Key
		return nt, true, nil
	})
}

// Fail records a failed attempt: a retry per the policy (bounded by the
// task's own MaxAttempts when set) or the task's failure.
func (s *State) Fail(f Failure) (Task, *Change, error) {
	return s.report(f.TaskID, f.Holder, f.Now, func(t Task) (Task, bool, error) {
		t, err := Fail(t, f.Token, f.Error, f.Retryable, f.Policy, f.Now, f.Jitter)
		return t, err == nil, err
	})
}

// Release hands a leased task back for immediate re-lease.
func (s *State) Release(taskID, holder string, token int64, now time.Time) (Task, *Change, error) {
	return s.report(taskID, holder, now, func(t Task) (Task, bool, error) {
		t, err := Release(t, token, now)
		return t, err == nil, err
	})
}

// report applies the change an agent reports about one task it holds;
// holder "" is any holder (internal callers). A task another agent holds
// is refused as a stale lease: an agent learns nothing about tasks that
// are not its own. A refused change leaves the state as it was.
func (s *State) report(taskID, holder string, now time.Time, change func(Task) (Task, bool, error)) (Task, *Change, error) {
	t, ok := s.task(taskID)
	if !ok {
		return Task{}, nil, fmt.Errorf("task %s: %w", taskID, ErrUnknownTask)
	}
	if holder != "" && t.AgentID != holder {
		return t, nil, fmt.Errorf("task %s is not held by agent %s: %w", t.ID, holder, ErrStaleLease)
	}
	// change touches the job only once it has accepted the report.
	nt, changed, err := change(t)
	if err != nil || !changed {
		return nt, nil, err
	}
	ch, err := s.apply([]Task{nt}, now)
	if err != nil {
		return nt, nil, err
	}
	return nt, &ch, nil
}

func (s *State) task(id string) (Task, bool) {
	for _, t := range s.Tasks {
		if t.ID == id {
			return t, true
		}
	}
	return Task{}, false
}

// Cancel cancels every unfinished task of a job that is not final.
func (s *State) Cancel(now time.Time) (Change, error) {
	if !CanCancelJob(s.Job.Status) {
		return Change{}, fmt.Errorf("job is %s: %w", s.Job.Status, ErrInvalidState)
	}
	var changed []Task
	for _, t := range s.Tasks {
		if c, err := Cancel(t, now); err == nil {
			changed = append(changed, c)
		}
	}
	return s.apply(changed, now)
}

// Retry requeues the failed and canceled tasks of a failed or canceled job
// with a fresh attempt budget.
func (s *State) Retry(now time.Time) (Change, error) {
	if !CanRetryJob(s.Job.Status) {
		return Change{}, fmt.Errorf("job is %s: %w", s.Job.Status, ErrInvalidState)
	}
	var changed []Task
	for _, t := range s.Tasks {
		if r, err := Retry(t, now); err == nil {
			changed = append(changed, r)
		}
	}
	return s.apply(changed, now)
}

// Lease leases to agentID until deadline those of the tasks ids that are
// the job's, ready, and runnable with the agent's caps, and returns them as
// leased.
func (s *State) Lease(ids []string, agentID string, caps api.Capabilities, now, deadline time.Time) ([]Task, Change, error) {
	var changed []Task
	for _, id := range ids {
		if t, ok := s.task(id); ok && t.Requires.SatisfiedBy(t.Kind, caps) {
			if l, err := Lease(t, agentID, now, deadline); err == nil {
				changed = append(changed, l)
			}
		}
	}
	ch, err := s.apply(changed, now)
	return changed, ch, err
}

// Expire retries (or fails, when attempts are exhausted) those of the tasks
// ids that are the job's and whose lease passed its deadline; jitter is
// drawn once per task. It returns the tasks as rescued.
func (s *State) Expire(ids []string, p RetryPolicy, jitter func() float64, now time.Time) ([]Task, Change, error) {
	var changed []Task
	for _, id := range ids {
		if t, ok := s.task(id); ok {
			if r, err := Expire(t, p, now, jitter()); err == nil {
				changed = append(changed, r)
			}
		}
	}
	ch, err := s.apply(changed, now)
	return changed, ch, err
}

// ReleaseAgent hands back every task agentID holds, as if it had released
// them: the agent is gone (revoked), not the work at fault.
func (s *State) ReleaseAgent(agentID string, now time.Time) (Change, error) {
	var changed []Task
	for _, t := range s.Tasks {
		if t.State != TaskLeased || t.AgentID != agentID {
			continue
		}
		r, err := Release(t, t.Token, now)
		if err != nil {
			return Change{}, err
		}
		changed = append(changed, r)
	}
	return s.apply(changed, now)
}
