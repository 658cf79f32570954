package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// Task runs: the attempt history written with each task row (tasks.runs).

func runsTests() []struct {
	name string
	fn   func(t *testing.T, s store.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"TaskRunsRoundTrip", testTaskRunsRoundTrip},
		{"TaskRunsCancelLeased", testTaskRunsCancelLeased},
	}
}

// runsText renders runs one per line with their times relative to epoch,
// so a mismatch reads as the story it tells.
func runsText(runs []job.Run) string {
	rel := func(at time.Time) string {
		if at.IsZero() {
			return "-"
		}
		return at.Sub(epoch()).String()
	}
	var b strings.Builder
	for _, r := range runs {
		fmt.Fprintf(&b, "#%d token %d %s %s..%s %s", r.Attempt, r.Token, r.AgentID, rel(r.StartedAt), rel(r.EndedAt), r.Outcome)
		if r.Error != nil {
			fmt.Fprintf(&b, " %s", r.Error.Code)
		}
		for _, m := range r.Stages {
			fmt.Fprintf(&b, " %s@%s", m.Stage, rel(m.At))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func wantRuns(t *testing.T, what string, got []job.Run, want string) {
	t.Helper()
	if g := runsText(got); g != want {
		t.Fatalf("%s runs:\n%s\nwant\n%s", what, g, want)
	}
}

// testTaskRunsRoundTrip: a task leased, beating with stages, failing, lost
// to the sweeper and finally completed keeps one run per lease, read back
// the same by GetTask and JobTasks.
func testTaskRunsRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	_, tk := create(t, s, at, spec{})
	beatAt := func(l job.Task, stage string, now time.Time) {
		t.Helper()
		_, err := s.Heartbeat(ctx, store.Heartbeat{TaskID: l.ID, Holder: l.AgentID, Token: l.Token, Stage: stage,
			Progress: 0.5, Now: now, Deadline: now.Add(time.Minute)})
		noErr(t, "Heartbeat", err)
	}

	first := leaseAs(t, s, "agent-a", at, 1, defaultCaps())[0]
	wantRuns(t, "just leased", getTask(t, s, tk.ID).Runs, fmt.Sprintf("#1 token %d agent-a 0s..- running\n", first.Token))
	beatAt(first, "download", at.Add(time.Second))
	beatAt(first, "download", at.Add(2*time.Second)) // same stage: no new mark
	beatAt(first, "", at.Add(3*time.Second))
	beatAt(first, "transcribe", at.Add(4*time.Second))
	_, err := s.FailTask(ctx, store.Failure{TaskID: tk.ID, Holder: "agent-a", Token: first.Token,
		Error: api.Error{Code: api.CodeTranscribeFailed, Message: "engine crashed"}, Retryable: true,
		Policy: defaultPolicy(), Now: at.Add(5 * time.Second)})
	noErr(t, "FailTask", err)
	want := fmt.Sprintf("#1 token %d agent-a 0s..5s retried transcription_failed download@1s transcribe@4s\n", first.Token)
	wantRuns(t, "after a retryable failure", getTask(t, s, tk.ID).Runs, want)

	// The second holder goes silent; the sweeper rescues its lease.
	second := leaseAs(t, s, "agent-b", at.Add(time.Minute), 1, defaultCaps())[0]
	beatAt(second, "download", at.Add(61*time.Second))
	rescued, err := s.RescueExpired(ctx, at.Add(3*time.Minute), defaultPolicy(), func() float64 { return 0 }, 10)
	noErr(t, "RescueExpired", err)
	if len(rescued) != 1 || rescued[0].ID != tk.ID {
		t.Fatalf("rescued %v, want %s", taskIDs(rescued), tk.ID)
	}
	want += fmt.Sprintf("#2 token %d agent-b 1m0s..3m0s expired lease_expired download@1m1s\n", second.Token)
	wantRuns(t, "rescued task as returned", rescued[0].Runs, want)
	wantRuns(t, "after the sweeper", getTask(t, s, tk.ID).Runs, want)

	third := leaseAs(t, s, "agent-c", rescued[0].RunAt, 1, defaultCaps())[0]
	wantRuns(t, "leased task as returned", third.Runs, want+fmt.Sprintf("#3 token %d agent-c %s..- running\n",
		third.Token, rescued[0].RunAt.Sub(at)))
	done := rescued[0].RunAt.Add(time.Second)
	_, err = s.CompleteTask(ctx, store.Completion{TaskID: tk.ID, Holder: "agent-c", Token: third.Token,
		Result: api.TaskResult{Key: "results/k.json"}, Now: done})
	noErr(t, "CompleteTask", err)
	want += fmt.Sprintf("#3 token %d agent-c %s..%s succeeded\n", third.Token, rescued[0].RunAt.Sub(at), done.Sub(at))
	wantRuns(t, "after success", getTask(t, s, tk.ID).Runs, want)
	tasks, err := s.JobTasks(ctx, tk.JobID)
	noErr(t, "JobTasks", err)
	wantRuns(t, "JobTasks", tasks[0].Runs, want)
}

// testTaskRunsCancelLeased: canceling a job closes its running lease's run.
func testTaskRunsCancelLeased(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	j, tk := create(t, s, at, spec{})
	l := leaseOne(t, s, at, tk.ID)
	_, err := s.Heartbeat(ctx, store.Heartbeat{TaskID: tk.ID, Token: l.Token, Stage: "download", Now: at.Add(time.Second),
		Deadline: at.Add(time.Minute)})
	noErr(t, "Heartbeat", err)
	_, err = s.CancelJob(ctx, "", j.ID, at.Add(2*time.Second))
	noErr(t, "CancelJob", err)
	wantRuns(t, "canceled", getTask(t, s, tk.ID).Runs,
		fmt.Sprintf("#1 token %d %s 0s..2s canceled canceled download@1s\n", l.Token, agentID))
}
