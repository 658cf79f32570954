package job

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// sec is the time n seconds after epoch.
func sec(n int) time.Time { return epoch().Add(time.Duration(n) * time.Second) }

// step is one thing that happens to a job's state at some time: a lease,
// an agent's report, the sweeper, a user's cancel or retry.
type step struct {
	at int // seconds after epoch
	do func(t *testing.T, s *State, now time.Time)
}

// holder is the token and agent of task id's lease.
func holder(t *testing.T, s *State, id string) (int64, string) {
	t.Helper()
	tk, ok := s.task(id)
	if !ok {
		t.Fatalf("no task %s", id)
	}
	return tk.Token, tk.AgentID
}

func must[T any](t *testing.T, what string, v T, err error) T {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

const leaseFor = 30 * time.Second

func leaseBy(id, agent string) func(*testing.T, *State, time.Time) {
	return func(t *testing.T, s *State, now time.Time) {
		got, _, err := s.Lease([]string{id}, agent, api.Capabilities{}, now, now.Add(leaseFor))
		if err != nil || len(got) != 1 {
			t.Fatalf("lease %s: %v, %d leased", id, err, len(got))
		}
	}
}

func beat(id, stage string) func(*testing.T, *State, time.Time) {
	return func(t *testing.T, s *State, now time.Time) {
		tok, ag := holder(t, s, id)
		_, _, err := s.Heartbeat(Heartbeat{TaskID: id, Holder: ag, Token: tok, Stage: stage, Progress: 0.5,
			Now: now, Deadline: now.Add(leaseFor)})
		must(t, "heartbeat "+id, 0, err)
	}
}

func completeWith(id string, chunks int) func(*testing.T, *State, time.Time) {
	return func(t *testing.T, s *State, now time.Time) {
		tok, ag := holder(t, s, id)
		res := api.TaskResult{Key: "results/" + id + ".json"}
		if chunks > 0 {
			res = api.TaskResult{Chunks: prepared(chunks)}
		}
		_, _, err := s.Complete(Completion{TaskID: id, Holder: ag, Token: tok, Result: res, Now: now})
		must(t, "complete "+id, 0, err)
	}
}

func failWith(id, code string, retryable bool) func(*testing.T, *State, time.Time) {
	return func(t *testing.T, s *State, now time.Time) {
		tok, ag := holder(t, s, id)
		_, _, err := s.Fail(Failure{TaskID: id, Holder: ag, Token: tok, Error: api.Error{Code: code, Message: "boom"},
			Retryable: retryable, Policy: policy(), Now: now})
		must(t, "fail "+id, 0, err)
	}
}

func expire(id string) func(*testing.T, *State, time.Time) {
	return func(t *testing.T, s *State, now time.Time) {
		got, _, err := s.Expire([]string{id}, policy(), func() float64 { return 0 }, now)
		if err != nil || len(got) != 1 {
			t.Fatalf("expire %s: %v, %d rescued", id, err, len(got))
		}
	}
}

func release(id string) func(*testing.T, *State, time.Time) {
	return func(t *testing.T, s *State, now time.Time) {
		tok, ag := holder(t, s, id)
		_, _, err := s.Release(id, ag, tok, now)
		must(t, "release "+id, 0, err)
	}
}

func cancelJob(t *testing.T, s *State, now time.Time) {
	_, err := s.Cancel(now)
	must(t, "cancel", 0, err)
}

func retryJob(t *testing.T, s *State, now time.Time) {
	_, err := s.Retry(now)
	must(t, "retry", 0, err)
}

func revoke(agent string) func(*testing.T, *State, time.Time) {
	return func(t *testing.T, s *State, now time.Time) {
		_, err := s.ReleaseAgent(agent, now)
		must(t, "release agent", 0, err)
	}
}

// run is a Run in the tables' shorthand: end < 0 is still running.
func run(attempt int, token int64, agent string, start, end int, o Outcome, e *api.Error, marks ...StageMark) Run {
	r := Run{Attempt: attempt, Token: token, AgentID: agent, StartedAt: sec(start), Outcome: o, Error: e, Stages: marks}
	if end >= 0 {
		r.EndedAt = sec(end)
	}
	return r
}

func mark(stage string, at int) StageMark { return StageMark{Stage: stage, At: sec(at)} }

func boom(code string) *api.Error { return &api.Error{Code: code, Message: "boom"} }

// queuedTask is a caption task t1 of j1 never leased.
func queuedTask() Task {
	t := taskIn(TaskQueued)
	t.Token, t.Attempt, t.AgentID = 0, 0, ""
	return t
}

// splitJob is the state of a new job j1 that splits: its prepare task p.
func splitJob() *State {
	j := jobWith("")
	j.Spec.ChunkSeconds = 120
	p := queuedTask()
	p.ID, p.Kind = "p", KindPrepare
	st := New(j, []Task{p})
	return &st
}

func TestRunHistory(t *testing.T) {
	t.Parallel()
	single := func() *State { st := New(jobWith(""), []Task{queuedTask()}); return &st }
	expired := &api.Error{Code: api.CodeLeaseExpired, Message: "lease expired: agent a1 stopped heartbeating"}
	canceled := &api.Error{Code: api.CodeCanceled, Message: "canceled by request"}
	abandoned := &api.Error{Code: api.CodeCanceled, Message: "canceled: another task of the job failed"}
	// Chunk and merge ids of prepare p split on its first lease (token 1).
	c0, c1, m := "p.1.c0", "p.1.c1", "p.1.m"
	tests := []struct {
		name  string
		state func() *State
		steps []step
		want  map[string][]Run // task id -> its history
	}{
		{"lease, stages, complete", single, []step{
			{0, leaseBy("t1", "a1")}, {1, beat("t1", "resolve")}, {2, beat("t1", "download")},
			{3, beat("t1", "download")}, {4, beat("t1", "")}, {5, beat("t1", "transcribe")}, {9, completeWith("t1", 0)},
		}, map[string][]Run{"t1": {
			run(1, 1, "a1", 0, 9, RunSucceeded, nil, mark("resolve", 1), mark("download", 2), mark("transcribe", 5)),
		}}},
		{"still running", single, []step{
			{0, leaseBy("t1", "a1")}, {2, beat("t1", "download")},
		}, map[string][]Run{"t1": {run(1, 1, "a1", 0, -1, RunRunning, nil, mark("download", 2))}}},
		{"a retryable failure, then success", single, []step{
			{0, leaseBy("t1", "a1")}, {1, beat("t1", "download")}, {2, failWith("t1", api.CodeDownloadFailed, true)},
			{10, leaseBy("t1", "a2")}, {11, beat("t1", "download")}, {15, completeWith("t1", 0)},
		}, map[string][]Run{"t1": {
			run(1, 1, "a1", 0, 2, RunRetried, boom(api.CodeDownloadFailed), mark("download", 1)),
			run(2, 2, "a2", 10, 15, RunSucceeded, nil, mark("download", 11)),
		}}},
		{"a permanent failure", single, []step{
			{0, leaseBy("t1", "a1")}, {3, failWith("t1", api.CodeUndecodable, false)},
		}, map[string][]Run{"t1": {run(1, 1, "a1", 0, 3, RunFailed, boom(api.CodeUndecodable))}}},
		{"attempts used up: the last run keeps the agent's error", single, []step{
			{0, leaseBy("t1", "a1")}, {1, failWith("t1", api.CodeDownloadFailed, true)},
			{10, leaseBy("t1", "a1")}, {11, failWith("t1", api.CodeDownloadFailed, true)},
			{20, leaseBy("t1", "a2")}, {21, failWith("t1", api.CodeDownloadFailed, true)},
		}, map[string][]Run{"t1": {
			run(1, 1, "a1", 0, 1, RunRetried, boom(api.CodeDownloadFailed)),
			run(2, 2, "a1", 10, 11, RunRetried, boom(api.CodeDownloadFailed)),
			run(3, 3, "a2", 20, 21, RunFailed, boom(api.CodeDownloadFailed)),
		}}},
		{"lease expiry, then another agent", single, []step{
			{0, leaseBy("t1", "a1")}, {1, beat("t1", "download")}, {40, expire("t1")},
			{50, leaseBy("t1", "a2")}, {55, completeWith("t1", 0)},
		}, map[string][]Run{"t1": {
			run(1, 1, "a1", 0, 40, RunExpired, expired, mark("download", 1)),
			run(2, 2, "a2", 50, 55, RunSucceeded, nil),
		}}},
		{"a released lease does not count", single, []step{
			{0, leaseBy("t1", "a1")}, {5, release("t1")}, {6, leaseBy("t1", "a2")}, {8, completeWith("t1", 0)},
		}, map[string][]Run{"t1": {
			run(1, 1, "a1", 0, 5, RunReleased, nil),
			run(1, 2, "a2", 6, 8, RunSucceeded, nil),
		}}},
		{"a revoked agent's lease is released", single, []step{
			{0, leaseBy("t1", "a1")}, {5, revoke("a1")},
		}, map[string][]Run{"t1": {run(1, 1, "a1", 0, 5, RunReleased, nil)}}},
		{"cancel while running; the holder's next beat changes nothing", single, []step{
			{0, leaseBy("t1", "a1")}, {1, beat("t1", "download")}, {5, cancelJob}, {6, beat("t1", "transcribe")},
		}, map[string][]Run{"t1": {run(1, 1, "a1", 0, 5, RunCanceled, canceled, mark("download", 1))}}},
		{"cancel while queued adds no run", single, []step{
			{0, leaseBy("t1", "a1")}, {1, failWith("t1", api.CodeDownloadFailed, true)}, {5, cancelJob},
		}, map[string][]Run{"t1": {run(1, 1, "a1", 0, 1, RunRetried, boom(api.CodeDownloadFailed))}}},
		{"a job retry keeps the history; attempts count again from 1", single, []step{
			{0, leaseBy("t1", "a1")}, {1, failWith("t1", api.CodeUndecodable, false)}, {5, retryJob}, {6, leaseBy("t1", "a2")},
		}, map[string][]Run{"t1": {
			run(1, 1, "a1", 0, 1, RunFailed, boom(api.CodeUndecodable)),
			run(1, 2, "a2", 6, -1, RunRunning, nil),
		}}},
		{"graph: prepare splits; a chunk fails for good and its sibling is abandoned", splitJob, []step{
			{0, leaseBy("p", "a1")}, {1, beat("p", "download")}, {5, completeWith("p", 2)},
			{6, leaseBy(c0, "a1")}, {6, leaseBy(c1, "a2")}, {7, beat(c0, "transcribe")},
			{8, failWith(c1, api.CodeUndecodable, false)},
		}, map[string][]Run{
			"p": {run(1, 1, "a1", 0, 5, RunSucceeded, nil, mark("download", 1))},
			c0:  {run(1, 1, "a1", 6, 8, RunCanceled, abandoned, mark("transcribe", 7))},
			c1:  {run(1, 1, "a2", 6, 8, RunFailed, boom(api.CodeUndecodable))},
			m:   nil,
		}},
		{"graph: a missing chunk prepares again", splitJob, []step{
			{0, leaseBy("p", "a1")}, {5, completeWith("p", 2)}, {6, leaseBy(c0, "a1")},
			{7, failWith(c0, api.CodeChunkMissing, true)}, {8, leaseBy("p", "a2")},
		}, map[string][]Run{"p": {
			run(1, 1, "a1", 0, 5, RunSucceeded, nil),
			run(2, 2, "a2", 8, -1, RunRunning, nil),
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.state()
			for _, st := range tt.steps {
				st.do(t, s, sec(st.at))
			}
			for id, want := range tt.want {
				got := taskByID(t, s.Tasks, id).History()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("runs of %s:\ngot  %+v\nwant %+v", id, got, want)
				}
			}
		})
	}
}

// TestRunHistoryLegacy: a task leased before runs were recorded shows its
// current attempt from its lease fields, and writes that run once touched.
func TestRunHistoryLegacy(t *testing.T) {
	t.Parallel()
	leased := taskIn(TaskLeased) // token 7, attempt 1, by a1, no runs
	leased.StartedAt = sec(-30)
	if got, want := leased.History(), []Run{run(1, 7, "a1", -30, -1, RunRunning, nil)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("History = %+v, want %+v", got, want)
	}
	if leased.Runs != nil {
		t.Fatalf("History wrote the task's runs: %+v", leased.Runs)
	}
	s := stateOf([]Task{leased})
	beat("t1", "download")(t, s, sec(1))
	completeWith("t1", 0)(t, s, sec(2))
	got := taskByID(t, s.Tasks, "t1").Runs
	want := []Run{run(1, 7, "a1", -30, 2, RunSucceeded, nil, mark("download", 1))}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("runs:\ngot  %+v\nwant %+v", got, want)
	}
	for _, st := range []TaskState{TaskQueued, TaskSucceeded, TaskFailed, TaskCanceled} {
		if h := taskIn(st).History(); h != nil {
			t.Errorf("%s task without runs has history %+v", st, h)
		}
	}
}

// TestRunHistoryShared: deciding on a copy of a task never changes the
// runs of the task it was copied from (the state's tasks share slices with
// the changes the store writes).
func TestRunHistoryShared(t *testing.T) {
	t.Parallel()
	in, err := Lease(queuedTask(), "a1", sec(0), sec(30))
	if err != nil {
		t.Fatal(err)
	}
	in = markStage(in, "download", sec(1))
	var before []Run
	for _, r := range in.Runs {
		r.Stages = append([]StageMark(nil), r.Stages...)
		before = append(before, r)
	}
	_ = markStage(in, "transcribe", sec(2))
	_, _ = Complete(in, in.Token, api.TaskResult{}, sec(3))
	_, _ = Fail(in, in.Token, api.Error{Code: "x"}, true, policy(), sec(3), 0)
	if !reflect.DeepEqual(in.Runs, before) {
		t.Errorf("runs changed under a decision:\ngot  %+v\nwant %+v", in.Runs, before)
	}
}

func TestRunBounds(t *testing.T) {
	t.Parallel()
	tk := queuedTask()
	var err error
	for i := range MaxRuns + 5 {
		if tk, err = Lease(tk, "a1", sec(2*i), sec(2*i+30)); err != nil {
			t.Fatal(err)
		}
		if tk, err = Release(tk, tk.Token, sec(2*i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if len(tk.Runs) != MaxRuns || tk.Runs[0].Token != 6 || tk.Runs[MaxRuns-1].Token != MaxRuns+5 {
		t.Errorf("%d runs from token %d to %d, want %d from 6 to %d", len(tk.Runs), tk.Runs[0].Token,
			tk.Runs[len(tk.Runs)-1].Token, MaxRuns, MaxRuns+5)
	}

	if tk, err = Lease(tk, "a1", sec(100), sec(130)); err != nil {
		t.Fatal(err)
	}
	for i := range MaxStageMarks + 4 {
		tk = markStage(tk, "stage"+string(rune('a'+i)), sec(101+i))
	}
	marks := tk.Runs[len(tk.Runs)-1].Stages
	last := "stage" + string(rune('a'+MaxStageMarks+3))
	if len(marks) != MaxStageMarks || marks[0].Stage != "stagea" || marks[MaxStageMarks-1].Stage != last {
		t.Errorf("%d marks %+v, want %d from stagea to %s", len(marks), marks, MaxStageMarks, last)
	}

	long := strings.Repeat("é", maxRunMessage) // two bytes each
	if tk, err = Fail(tk, tk.Token, api.Error{Code: "x", Message: long}, true, policy(), sec(200), 0); err != nil {
		t.Fatal(err)
	}
	msg := tk.Runs[len(tk.Runs)-1].Error.Message
	if len(msg) > maxRunMessage+len("…") || !strings.HasSuffix(msg, "…") || !strings.HasPrefix(long, strings.TrimSuffix(msg, "…")) {
		t.Errorf("run error message of %d bytes: %q…", len(msg), msg[:20])
	}
	if tk.LastError.Message != long {
		t.Error("the task's last error was cut too")
	}
}

func TestTaskRunsToAPI(t *testing.T) {
	t.Parallel()
	tk := queuedTask()
	tk.Runs = []Run{
		run(1, 1, "a1", 0, 2, RunRetried, boom(api.CodeDownloadFailed), mark("download", 1)),
		run(2, 2, "a2", 10, -1, RunRunning, nil),
	}
	tk.State, tk.Token, tk.Attempt, tk.AgentID = TaskLeased, 2, 2, "a2"
	b, err := json.Marshal(tk.ToAPI().Runs)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"attempt":1,"agent_id":"a1","started_at":"2025-03-04T05:06:07Z","ended_at":"2025-03-04T05:06:09Z","outcome":"retried","error":{"code":"download_failed","message":"boom"},"stages":[{"stage":"download","at":"2025-03-04T05:06:08Z"}]},` +
		`{"attempt":2,"agent_id":"a2","started_at":"2025-03-04T05:06:17Z","outcome":"running","stages":[]}]`
	if string(b) != want {
		t.Errorf("runs JSON\n got %s\nwant %s", b, want)
	}
	if b, _ := json.Marshal(queuedTask().ToAPI()); !strings.Contains(string(b), `"runs":[]`) {
		t.Errorf("a task never leased: %s, want runs []", b)
	}
}
