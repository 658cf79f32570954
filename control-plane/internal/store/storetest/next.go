package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// A completion may lease its agent's next tasks in its own transaction
// (CompleteAndLease): what it leases is what LeaseTasks would have; a
// refused completion leases nothing, and a draining agent is leased
// nothing while its completion stands.

func nextTests() []struct {
	name string
	fn   func(t *testing.T, s store.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CompleteAndLease", testCompleteAndLease},
		{"ConcurrentCompleteAndLease", testConcurrentCompleteAndLease},
	}
}

// nextFor is what an agent asks for after a completion.
func nextFor(agent string, max int, now time.Time) *store.LeaseParams {
	return &store.LeaseParams{AgentID: agent, Capabilities: defaultCaps(), Max: max, Now: now, Deadline: now.Add(time.Minute)}
}

func completion(tk job.Task, now time.Time) store.Completion {
	return store.Completion{TaskID: tk.ID, Holder: tk.AgentID, Token: tk.Token,
		Result: api.TaskResult{Key: "k-" + tk.ID, Result: api.Result{Language: "en", Words: 3}}, Now: now}
}

func testCompleteAndLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	noErr(t, "CreateAgent", s.CreateAgent(ctx, store.Agent{ID: agentID, TokenHash: "tok", Capabilities: defaultCaps(), CreatedAt: at, LastSeenAt: at}))
	var jobs []job.Job
	for i := range 4 {
		j, _ := create(t, s, at.Add(time.Duration(i)*time.Second), spec{})
		jobs = append(jobs, j)
	}
	first := leaseOne(t, s, at.Add(time.Minute), "")

	// The next two tasks, oldest first, leased with the completion.
	now := at.Add(2 * time.Minute)
	j, next, err := s.CompleteAndLease(ctx, completion(first, now), nextFor(agentID, 2, now))
	noErr(t, "CompleteAndLease", err)
	if j.ID != jobs[0].ID || j.Status != api.JobSucceeded {
		t.Fatalf("completed job %s is %s, want %s succeeded", j.ID, j.Status, jobs[0].ID)
	}
	if len(next) != 2 || next[0].JobID != jobs[1].ID || next[1].JobID != jobs[2].ID {
		t.Fatalf("next: %+v, want the tasks of jobs 1 and 2", next)
	}
	for _, l := range next {
		got := getTask(t, s, l.ID)
		if got.State != job.TaskLeased || got.AgentID != agentID || got.Token != l.Token || !got.LeaseDeadline.Equal(now.Add(time.Minute)) ||
			l.Job.ID != l.JobID || l.Job.Status != api.JobRunning {
			t.Fatalf("next task %s stored as %+v, leased as %+v", l.ID, got, l)
		}
	}

	// A refused (stale) completion leases nothing.
	_, next2, err := s.CompleteAndLease(ctx, completion(first, now), nextFor(agentID, 1, now))
	wantErr(t, "CompleteAndLease of a completed task", err, store.ErrStaleLease)
	if len(next2) != 0 || getTask(t, s, jobTask(t, s, jobs[3].ID).ID).State != job.TaskQueued {
		t.Fatalf("a refused completion leased %+v", next2)
	}

	// Draining: the completion stands, nothing is leased.
	noErr(t, "SetAgentDrain", s.SetAgentDrain(ctx, agentID, true, now))
	j, next3, err := s.CompleteAndLease(ctx, completion(next[0].Task, now), nextFor(agentID, 1, now))
	noErr(t, "CompleteAndLease while draining", err)
	if j.Status != api.JobSucceeded || len(next3) != 0 || getTask(t, s, jobTask(t, s, jobs[3].ID).ID).State != job.TaskQueued {
		t.Fatalf("draining: job %s, next %+v", j.Status, next3)
	}

	// No next: a plain completion.
	noErr(t, "SetAgentDrain", s.SetAgentDrain(ctx, agentID, false, now))
	j, next4, err := s.CompleteAndLease(ctx, completion(next[1].Task, now), nil)
	noErr(t, "CompleteAndLease without next", err)
	if j.Status != api.JobSucceeded || len(next4) != 0 || getTask(t, s, jobTask(t, s, jobs[3].ID).ID).State != job.TaskQueued {
		t.Fatalf("without next: job %s, next %+v", j.Status, next4)
	}
}

// testConcurrentCompleteAndLease: agents completing at once (one batch on
// PostgreSQL) each get their own next task; none is leased twice.
func testConcurrentCompleteAndLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	const agents = 8
	for i := range agents {
		id := fmt.Sprintf("agent-%d", i)
		noErr(t, "CreateAgent", s.CreateAgent(ctx, store.Agent{ID: id, TokenHash: "tok-" + id, Capabilities: defaultCaps(), CreatedAt: at, LastSeenAt: at}))
	}
	var queued []string
	for i := range 2 * agents {
		_, tk := create(t, s, at.Add(time.Duration(i)*time.Second), spec{})
		if i >= agents {
			queued = append(queued, tk.ID)
		}
	}
	held := make([]job.Task, agents)
	for i := range agents {
		held[i] = leaseAs(t, s, fmt.Sprintf("agent-%d", i), at.Add(time.Minute), 1, defaultCaps())[0]
	}
	now := at.Add(2 * time.Minute)
	got := make([][]store.Leased, agents)
	var wg sync.WaitGroup
	for i := range agents {
		wg.Go(func() {
			var err error
			_, got[i], err = s.CompleteAndLease(ctx, completion(held[i], now), nextFor(held[i].AgentID, 1, now))
			if err != nil {
				t.Errorf("agent %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	var leased []string
	for i, ls := range got {
		if len(ls) != 1 || ls[0].AgentID != held[i].AgentID {
			t.Fatalf("agent %d leased %+v", i, ls)
		}
		leased = append(leased, ls[0].ID)
	}
	slices.Sort(leased)
	slices.Sort(queued)
	if !slices.Equal(leased, queued) {
		t.Fatalf("leased %v, want each of %v once", leased, queued)
	}
}

// jobTask returns a single-task job's task.
func jobTask(t *testing.T, s store.Store, jobID string) job.Task {
	t.Helper()
	tasks, err := s.JobTasks(context.Background(), jobID)
	noErr(t, "JobTasks", err)
	if len(tasks) != 1 {
		t.Fatalf("job %s has %d tasks, want 1", jobID, len(tasks))
	}
	return tasks[0]
}
