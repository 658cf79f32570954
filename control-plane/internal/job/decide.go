package job

import (
	"fmt"
	"math"
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
			t = markStage(t, h.Stage, h.Now)
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
		if len(c.Result.Chunks) > 0 {
			return nt, true, s.expand(nt, c.Result.Chunks, c.Now)
		}
		if t.Kind != KindTranscribe {
			s.Job.Result = s.jobResult(nt)
			s.Job.ResultKey = c.Result.Key
		}
		return nt, true, nil
	})
}

// Fail records a failed attempt: a retry per the policy (bounded by the
// task's own MaxAttempts when set) or the task's failure.
//
// A transcribe task that found its chunk gone prepares the job again
// instead: the prepare task is requeued (an attempt of its own) and the
// chunks' tasks are dropped, unless prepare has no attempts left.
func (s *State) Fail(f Failure) (Task, *Change, error) {
	return s.report(f.TaskID, f.Holder, f.Now, func(t Task) (Task, bool, error) {
		nt, err := Fail(t, f.Token, f.Error, f.Retryable, f.Policy, f.Now, f.Jitter)
		if err != nil {
			return t, false, err
		}
		if t.Kind == KindTranscribe && f.Error.Code == api.CodeChunkMissing && len(t.Parents) > 0 {
			if p, ok := s.task(t.Parents[0]); ok && p.Attempt < attemptLimit(p, f.Policy) {
				s.graph = s.replan(p, f.Now)
			}
		}
		return nt, true, nil
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
//
// change may grow or shrink the job's graph through s.graph (expand,
// replan); it touches the job only once it has accepted the report.
func (s *State) report(taskID, holder string, now time.Time, change func(Task) (Task, bool, error)) (Task, *Change, error) {
	t, ok := s.task(taskID)
	if !ok {
		return Task{}, nil, fmt.Errorf("task %s: %w", taskID, ErrUnknownTask)
	}
	if holder != "" && t.AgentID != holder {
		return t, nil, fmt.Errorf("task %s is not held by agent %s: %w", t.ID, holder, ErrStaleLease)
	}
	s.graph = graphChange{}
	defer func() { s.graph = graphChange{} }()
	nt, changed, err := change(t)
	if err != nil || !changed {
		return nt, nil, err
	}
	g := s.graph
	g.changed = append(g.changed, nt)
	ch, err := s.applyGraph(g, now)
	if err != nil {
		return nt, nil, err
	}
	return nt, &ch, nil
}

// expand grows the graph of a prepare task that split its media into
// chunks: one transcribe task per chunk, waiting for prepare (its success,
// recorded in the same change, queues them), and a merge task waiting for
// them all. Task ids derive from prepare's id and its fencing token, so
// the decision stays pure and a prepare run again names new tasks.
func (s *State) expand(prep Task, chunks []api.PreparedChunk, now time.Time) error {
	if err := checkChunks(chunks); err != nil {
		return err
	}
	base := fmt.Sprintf("%s.%d", prep.ID, prep.Token)
	child := func(kind, id string, parents []string) Task {
		return Task{
			ID: id, JobID: prep.JobID, Tenant: prep.Tenant, Kind: kind, State: TaskWaiting,
			Priority: prep.Priority, Requires: prep.Requires, Parents: parents,
			MaxAttempts: prep.MaxAttempts, RunAt: now, CreatedAt: now, UpdatedAt: now,
		}
	}
	ids := make([]string, len(chunks))
	for i, c := range chunks {
		ids[i] = fmt.Sprintf("%s.c%d", base, c.Index)
		t := child(KindTranscribe, ids[i], []string{prep.ID})
		t.Chunk = &Chunk{Index: c.Index, Start: c.Start, End: c.End, Key: c.Key}
		s.graph.added = append(s.graph.added, t)
	}
	s.graph.added = append(s.graph.added, child(KindMerge, base+".m", ids))
	return nil
}

// checkChunks vets a prepare task's chunks: indexes 0..n-1 in order, each
// a non-empty span starting where the previous ended, at most MaxChunks.
func checkChunks(chunks []api.PreparedChunk) error {
	if len(chunks) > api.MaxChunks {
		return invalid(api.CodeInvalidRequest, "at most %d chunks", api.MaxChunks)
	}
	for i, c := range chunks {
		ok := c.Index == i && c.End > c.Start && c.Start >= 0 && c.Key != ""
		if i > 0 {
			ok = ok && math.Abs(c.Start-chunks[i-1].End) < 0.002
		}
		if !ok {
			return invalid(api.CodeInvalidRequest, "chunk %d: chunks must be numbered from 0, contiguous, non-empty, with a key", i)
		}
	}
	return nil
}

// replan is the graph change that runs prepare p again: it is requeued at
// once, and the tasks it expanded into are dropped.
func (s *State) replan(p Task, now time.Time) graphChange {
	var g graphChange
	for _, t := range s.Tasks {
		if t.ID != p.ID && (t.Kind == KindTranscribe || t.Kind == KindMerge) {
			g.removed = append(g.removed, t.ID)
		}
	}
	p.State, p.RunAt, p.UpdatedAt = TaskQueued, now, now
	p.Result, p.LastError, p.Stage, p.Progress = nil, nil, "", 0
	g.changed = append(g.changed, p)
	return g
}

// jobResult is the job's result once t, the task that produced its
// transcript, succeeded: t's own, with the title the prepare task found and
// the stage timings summed over the job's tasks.
func (s *State) jobResult(t Task) *api.JobResult {
	res := t.Result.Result
	if t.Kind != KindMerge {
		return &api.JobResult{Result: res}
	}
	timings := map[string]float64{}
	for _, o := range s.Tasks {
		if o.ID == t.ID {
			o = t
		}
		if o.Result == nil {
			continue
		}
		if o.Kind == KindPrepare && res.Title == "" {
			res.Title = o.Result.Title
		}
		for k, v := range o.Result.Timings {
			timings[k] += v
		}
	}
	if len(timings) > 0 {
		res.Timings = timings
	}
	return &api.JobResult{Result: res}
}

// attemptLimit is the number of attempts t may start.
func attemptLimit(t Task, p RetryPolicy) int {
	if t.MaxAttempts > 0 {
		return t.MaxAttempts
	}
	return p.MaxAttempts
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
// with a fresh attempt budget; what succeeded is kept, so a split job
// reruns only its unfinished chunks, on the chunks already prepared. A
// requeued task whose parents have not all succeeded waits for them. A job
// one of whose chunks was found gone is prepared again from the start.
func (s *State) Retry(now time.Time) (Change, error) {
	if !CanRetryJob(s.Job.Status) {
		return Change{}, fmt.Errorf("job is %s: %w", s.Job.Status, ErrInvalidState)
	}
	for _, t := range s.Tasks {
		if t.Kind == KindTranscribe && t.LastError != nil && t.LastError.Code == api.CodeChunkMissing && len(t.Parents) > 0 {
			if p, ok := s.task(t.Parents[0]); ok {
				p.Attempt = 0
				return s.applyGraph(s.replan(p, now), now)
			}
		}
	}
	var changed []Task
	requeued := map[string]bool{}
	for _, t := range s.Tasks {
		r, err := Retry(t, now)
		if err != nil {
			continue
		}
		for _, p := range r.Parents {
			if pt, ok := s.task(p); requeued[p] || ok && pt.State != TaskSucceeded {
				r.State = TaskWaiting
			}
		}
		requeued[r.ID] = true
		changed = append(changed, r)
	}
	return s.apply(changed, now)
}

// Lease leases to agentID until deadline those of the tasks ids that are
// the job's, ready, and runnable with the agent's caps, and returns them as
// leased.
func (s *State) Lease(ids []string, agentID string, caps api.Capabilities, now, deadline time.Time) ([]Task, Change, error) {
	grants := make([]Grant, len(ids))
	for i, id := range ids {
		grants[i] = Grant{TaskID: id, AgentID: agentID, Deadline: deadline}
	}
	return s.LeaseEach(grants, caps, now)
}

// Grant offers one task to one agent until a deadline.
type Grant struct {
	TaskID, AgentID string
	Deadline        time.Time
}

// LeaseEach is Lease for tasks offered to several agents with the same
// caps (one lease transaction serving many agents' calls): each granted
// task that is the job's, ready and runnable with caps is leased to its
// agent. It returns the tasks as leased, in grant order.
func (s *State) LeaseEach(grants []Grant, caps api.Capabilities, now time.Time) ([]Task, Change, error) {
	var changed []Task
	for _, g := range grants {
		if t, ok := s.task(g.TaskID); ok && t.Requires.SatisfiedBy(t.Kind, caps) {
			if l, err := Lease(t, g.AgentID, now, g.Deadline); err == nil {
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
