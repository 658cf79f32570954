package job

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// prepared are n chunks of 120 s, as a prepare task reports them.
func prepared(n int) []api.PreparedChunk {
	out := make([]api.PreparedChunk, n)
	for i := range out {
		out[i] = api.PreparedChunk{Chunk: api.Chunk{Index: i, Start: 120 * float64(i), End: 120 * float64(i+1)},
			Key: "chunks/j1/c" + string(rune('0'+i)) + ".wav", Size: 100, SHA256: "ab"}
	}
	return out
}

// chunkIDs are the ids expand gives the chunks of prepare "p" leased with
// token 7.
func chunkIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "p.7.c" + string(rune('0'+i))
	}
	return out
}

const mergeID = "p.7.m"

// splitTasks are the tasks of job j1 split by prepare "p" (token 7): p in
// state prep, its chunks in the states chunks, then the merge in state
// merge. Leased tasks are held by a1 with token 7.
func splitTasks(prep TaskState, chunks []TaskState, merge TaskState) []Task {
	p := taskIn(prep)
	p.ID, p.Kind = "p", KindPrepare
	if prep == TaskSucceeded {
		p.Result = &api.TaskResult{Chunks: prepared(len(chunks)), Result: api.Result{Title: "Talk", Timings: map[string]float64{"download": 2}}}
		p.Progress = 1
	}
	out := []Task{p}
	ids := chunkIDs(len(chunks))
	for i, st := range chunks {
		c := taskIn(st)
		c.ID, c.Kind, c.Parents = ids[i], KindTranscribe, []string{"p"}
		c.Chunk = &Chunk{Index: i, Start: 120 * float64(i), End: 120 * float64(i+1), Key: prepared(len(chunks))[i].Key}
		c.Progress = 0
		if st == TaskSucceeded {
			c.Progress = 1
			c.Result = &api.TaskResult{Key: "parts/" + c.ID + ".json", Result: api.Result{Timings: map[string]float64{"transcribe": 3}}}
		}
		out = append(out, c)
	}
	m := taskIn(merge)
	m.ID, m.Kind, m.Parents, m.Progress = mergeID, KindMerge, ids, 0
	return append(out, m)
}

// stateOf is job j1's state with tasks, settled, with a last event that
// matches it.
func stateOf(tasks []Task) *State {
	j := jobWith("")
	j.Spec.ChunkSeconds = 120
	j = settle(j, tasks, epoch())
	return &State{Job: j, Tasks: tasks,
		Last: &Event{JobID: j.ID, Seq: 3, Status: j.Status, Stage: j.Stage, Progress: j.Progress}}
}

func taskByID(t *testing.T, ts []Task, id string) Task {
	t.Helper()
	for _, tk := range ts {
		if tk.ID == id {
			return tk
		}
	}
	t.Fatalf("no task %s in %v", id, idsOf(ts))
	return Task{}
}

func idsOf(ts []Task) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func statesOf(ts []Task) []TaskState {
	out := make([]TaskState, len(ts))
	for i, t := range ts {
		out[i] = t.State
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestExpand: a prepare task that reports chunks grows the graph in the
// change that records its success; one that reports none finishes the job.
func TestExpand(t *testing.T) {
	t.Parallel()
	now := epoch().Add(time.Minute)
	leasedPrepare := func() *State {
		p := taskIn(TaskLeased)
		p.ID, p.Kind = "p", KindPrepare
		return stateOf([]Task{p})
	}

	t.Run("chunks", func(t *testing.T) {
		t.Parallel()
		s := leasedPrepare()
		_, ch, err := s.Complete(Completion{TaskID: "p", Holder: "a1", Token: 7, Result: api.TaskResult{Chunks: prepared(3)}, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Tasks) != 1 || ch.Tasks[0].ID != "p" || ch.Tasks[0].State != TaskSucceeded {
			t.Fatalf("changed %v, want prepare succeeded", idsOf(ch.Tasks))
		}
		wantIDs := append(chunkIDs(3), mergeID)
		if !reflect.DeepEqual(idsOf(ch.Added), wantIDs) {
			t.Fatalf("added %v, want %v", idsOf(ch.Added), wantIDs)
		}
		if got := statesOf(ch.Added); !reflect.DeepEqual(got, []TaskState{TaskQueued, TaskQueued, TaskQueued, TaskWaiting}) {
			t.Fatalf("added in states %v: chunks queued in the same change, merge waiting", got)
		}
		for i, c := range ch.Added[:3] {
			want := &Chunk{Index: i, Start: 120 * float64(i), End: 120 * float64(i+1), Key: prepared(3)[i].Key}
			if c.Kind != KindTranscribe || !reflect.DeepEqual(c.Chunk, want) || !reflect.DeepEqual(c.Parents, []string{"p"}) ||
				!c.RunAt.Equal(now) || c.MaxAttempts != 3 || c.JobID != "j1" || c.Tenant != "acme" {
				t.Errorf("chunk %d: %+v", i, c)
			}
		}
		if m := ch.Added[3]; m.Kind != KindMerge || !reflect.DeepEqual(m.Parents, chunkIDs(3)) || m.Chunk != nil {
			t.Errorf("merge: %+v", m)
		}
		j := ch.Job
		if j.Status != api.JobRunning || j.ChunksTotal != 3 || j.ChunksDone != 0 || j.Stage != KindTranscribe ||
			!near(j.Progress, prepareShare) || j.Result != nil || j.ResultKey != "" {
			t.Fatalf("job after the split: %+v", j)
		}
		if len(s.Tasks) != 5 {
			t.Fatalf("state holds %d tasks, want 5", len(s.Tasks))
		}
	})

	t.Run("no chunks", func(t *testing.T) {
		t.Parallel()
		s := leasedPrepare()
		res := api.TaskResult{Key: "results/j1.json", Result: api.Result{Language: "en", Origin: "captions"}}
		_, ch, err := s.Complete(Completion{TaskID: "p", Holder: "a1", Token: 7, Result: res, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Added) != 0 || ch.Job.Status != api.JobSucceeded || ch.Job.ResultKey != res.Key ||
			ch.Job.Result == nil || ch.Job.Result.Origin != "captions" || ch.Job.ChunksTotal != 0 {
			t.Fatalf("prepare without chunks: added %v job %+v", idsOf(ch.Added), ch.Job)
		}
	})
}

// TestCheckChunks: the chunks a prepare task reports are refused unless
// numbered from 0, contiguous, non-empty, keyed and at most MaxChunks; a
// refusal leaves the state as it was.
func TestCheckChunks(t *testing.T) {
	t.Parallel()
	edit := func(f func(cs []api.PreparedChunk) []api.PreparedChunk) []api.PreparedChunk { return f(prepared(3)) }
	tests := []struct {
		name   string
		chunks []api.PreparedChunk
		ok     bool
	}{
		{"valid", prepared(3), true},
		{"one chunk", prepared(1), true},
		{"within rounding of contiguous", edit(func(cs []api.PreparedChunk) []api.PreparedChunk { cs[1].Start += 0.001; return cs }), true},
		{"at most MaxChunks", prepared(api.MaxChunks), true},
		{"too many", prepared(api.MaxChunks + 1), false},
		{"not from 0", edit(func(cs []api.PreparedChunk) []api.PreparedChunk { return cs[1:] }), false},
		{"out of order", edit(func(cs []api.PreparedChunk) []api.PreparedChunk { cs[1], cs[2] = cs[2], cs[1]; return cs }), false},
		{"gap", edit(func(cs []api.PreparedChunk) []api.PreparedChunk { cs[2].Start += 1; return cs }), false},
		{"overlap", edit(func(cs []api.PreparedChunk) []api.PreparedChunk { cs[1].Start -= 1; return cs }), false},
		{"empty span", edit(func(cs []api.PreparedChunk) []api.PreparedChunk { cs[2].End = cs[2].Start; return cs }), false},
		{"negative start", edit(func(cs []api.PreparedChunk) []api.PreparedChunk { cs[0].Start = -1; return cs[:1] }), false},
		{"no key", edit(func(cs []api.PreparedChunk) []api.PreparedChunk { cs[1].Key = ""; return cs }), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := checkChunks(tc.chunks)
			if (err == nil) != tc.ok {
				t.Fatalf("checkChunks: %v, want ok %v", err, tc.ok)
			}
			if tc.ok {
				return
			}
			p := taskIn(TaskLeased)
			p.ID, p.Kind = "p", KindPrepare
			s := stateOf([]Task{p})
			before := *s
			_, ch, err := s.Complete(Completion{TaskID: "p", Holder: "a1", Token: 7, Result: api.TaskResult{Chunks: tc.chunks}, Now: epoch()})
			if err == nil || ch != nil {
				t.Fatalf("Complete with bad chunks: change %v, err %v", ch, err)
			}
			if !reflect.DeepEqual(*s, before) {
				t.Fatalf("a refused completion changed the state")
			}
		})
	}
}

// TestUnblock: a waiting task is queued once all its parents succeeded.
func TestUnblock(t *testing.T) {
	t.Parallel()
	now := epoch().Add(time.Hour)
	task := func(id string, s TaskState, parents ...string) Task {
		tk := taskIn(s)
		tk.ID, tk.Parents = id, parents
		return tk
	}
	tests := []struct {
		name  string
		tasks []Task
		want  []string // ids queued
	}{
		{"all parents succeeded", []Task{task("a", TaskSucceeded), task("b", TaskSucceeded), task("w", TaskWaiting, "a", "b")}, []string{"w"}},
		{"a parent leased", []Task{task("a", TaskSucceeded), task("b", TaskLeased), task("w", TaskWaiting, "a", "b")}, nil},
		{"a parent queued", []Task{task("a", TaskQueued), task("w", TaskWaiting, "a")}, nil},
		{"a parent failed", []Task{task("a", TaskFailed), task("w", TaskWaiting, "a")}, nil},
		{"a parent canceled", []Task{task("a", TaskCanceled), task("w", TaskWaiting, "a")}, nil},
		{"a parent unknown", []Task{task("a", TaskSucceeded), task("w", TaskWaiting, "a", "gone")}, nil},
		{"no parents", []Task{task("w", TaskWaiting)}, []string{"w"}},
		{"only waiting tasks", []Task{task("a", TaskSucceeded), task("q", TaskQueued, "a"), task("c", TaskCanceled, "a")}, nil},
		{"two at once", []Task{task("a", TaskSucceeded), task("w1", TaskWaiting, "a"), task("w2", TaskWaiting, "a")}, []string{"w1", "w2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tasks := slices.Clone(tc.tasks)
			got := unblock(tasks, now)
			if !reflect.DeepEqual(idsOf(got), idsOf(tasksNamed(tc.tasks, tc.want))) {
				t.Fatalf("unblocked %v, want %v", idsOf(got), tc.want)
			}
			for _, g := range got {
				if g.State != TaskQueued || !g.RunAt.Equal(now) || !g.UpdatedAt.Equal(now) {
					t.Errorf("unblocked %s: %s run at %v", g.ID, g.State, g.RunAt)
				}
				if in := taskByID(t, tasks, g.ID); !reflect.DeepEqual(in, g) {
					t.Errorf("task %s not updated in place", g.ID)
				}
			}
		})
	}
}

func tasksNamed(ts []Task, ids []string) []Task {
	var out []Task
	for _, t := range ts {
		if slices.Contains(ids, t.ID) {
			out = append(out, t)
		}
	}
	return out
}

// TestGraphReports: the reports of a split job's tasks and what they do
// to the rest of its graph.
func TestGraphReports(t *testing.T) {
	t.Parallel()
	now := epoch().Add(time.Minute)
	L, Q, S, W := TaskLeased, TaskQueued, TaskSucceeded, TaskWaiting
	ids := chunkIDs(3)
	complete := func(id string) func(*State) (Task, *Change, error) {
		return func(s *State) (Task, *Change, error) {
			return s.Complete(Completion{TaskID: id, Holder: "a1", Token: 7, Now: now,
				Result: api.TaskResult{Key: "results/" + id + ".json", Result: api.Result{Language: "en", Words: 9, Timings: map[string]float64{"merge": 1}}}})
		}
	}
	fail := func(id, code string, retryable bool) func(*State) (Task, *Change, error) {
		return func(s *State) (Task, *Change, error) {
			return s.Fail(Failure{TaskID: id, Holder: "a1", Token: 7, Error: api.Error{Code: code, Message: "x"},
				Retryable: retryable, Policy: policy(), Now: now})
		}
	}
	prepAt := func(attempt int) func([]Task) []Task {
		return func(ts []Task) []Task { ts[0].Attempt = attempt; return ts }
	}
	tests := []struct {
		name      string
		tasks     []Task
		report    func(*State) (Task, *Change, error)
		wantJob   Status
		wantTasks []TaskState // of the state's tasks after, in order
		check     func(t *testing.T, s *State, ch *Change)
	}{
		{"a chunk before the last leaves merge waiting", splitTasks(S, []TaskState{S, L, L}, W), complete(ids[1]),
			api.JobRunning, []TaskState{S, S, S, L, W}, func(t *testing.T, s *State, ch *Change) {
				if !reflect.DeepEqual(idsOf(ch.Tasks), []string{ids[1]}) || ch.Job.ChunksDone != 2 || ch.Job.Stage != KindTranscribe {
					t.Errorf("changed %v, chunks done %d, stage %q", idsOf(ch.Tasks), ch.Job.ChunksDone, ch.Job.Stage)
				}
			}},
		{"the last chunk queues merge", splitTasks(S, []TaskState{S, S, L}, W), complete(ids[2]),
			api.JobRunning, []TaskState{S, S, S, S, Q}, func(t *testing.T, s *State, ch *Change) {
				if !reflect.DeepEqual(idsOf(ch.Tasks), []string{ids[2], mergeID}) || !ch.Tasks[1].RunAt.Equal(now) {
					t.Errorf("changed %v, want the chunk and merge queued now", idsOf(ch.Tasks))
				}
				if ch.Job.ChunksDone != 3 || ch.Job.Stage != KindMerge || ch.Job.Result != nil {
					t.Errorf("job %+v", ch.Job)
				}
			}},
		{"merge succeeds the job", splitTasks(S, []TaskState{S, S, S}, L), complete(mergeID),
			api.JobSucceeded, []TaskState{S, S, S, S, S}, func(t *testing.T, s *State, ch *Change) {
				j := ch.Job
				want := api.Result{Language: "en", Words: 9, Title: "Talk", Timings: map[string]float64{"download": 2, "transcribe": 9, "merge": 1}}
				if j.ResultKey != "results/"+mergeID+".json" || j.Result == nil || !reflect.DeepEqual(j.Result.Result, want) ||
					j.Progress != 1 || j.ChunksDone != 3 {
					t.Errorf("job %+v result %+v", j, j.Result)
				}
			}},
		{"a retryable chunk failure requeues only it", splitTasks(S, []TaskState{L, L, L}, W), fail(ids[1], "engine_failed", true),
			api.JobRunning, []TaskState{S, L, Q, L, W}, func(t *testing.T, s *State, ch *Change) {
				if !reflect.DeepEqual(idsOf(ch.Tasks), []string{ids[1]}) || ch.Tasks[0].Attempt != 1 || !ch.Tasks[0].RunAt.After(now) {
					t.Errorf("changed %+v", ch.Tasks)
				}
			}},
		{"a permanent chunk failure fails the job", splitTasks(S, []TaskState{S, L, L}, W), fail(ids[1], api.CodeUndecodable, false),
			api.JobFailed, []TaskState{S, S, TaskFailed, TaskCanceled, TaskCanceled}, func(t *testing.T, s *State, ch *Change) {
				if ch.Job.Error == nil || ch.Job.Error.Code != api.CodeUndecodable {
					t.Errorf("job error %+v", ch.Job.Error)
				}
			}},
		{"a missing chunk prepares again", splitTasks(S, []TaskState{S, L, L}, W), fail(ids[1], api.CodeChunkMissing, true),
			api.JobQueued, []TaskState{Q}, func(t *testing.T, s *State, ch *Change) {
				if !reflect.DeepEqual(ch.Removed, append(chunkIDs(3), mergeID)) {
					t.Errorf("removed %v", ch.Removed)
				}
				if len(ch.Tasks) != 1 || ch.Tasks[0].ID != "p" || ch.Tasks[0].Result != nil || !ch.Tasks[0].RunAt.Equal(now) {
					t.Errorf("changed %+v, want only prepare requeued now", ch.Tasks)
				}
				if len(ch.Added) != 0 || ch.Job.ChunksTotal != 0 || ch.Job.ChunksDone != 0 {
					t.Errorf("added %v, job chunks %d/%d", idsOf(ch.Added), ch.Job.ChunksDone, ch.Job.ChunksTotal)
				}
			}},
		{"a missing chunk with prepare out of attempts retries the chunk", prepAt(3)(splitTasks(S, []TaskState{S, L, L}, W)),
			fail(ids[1], api.CodeChunkMissing, true), api.JobRunning, []TaskState{S, S, Q, L, W},
			func(t *testing.T, s *State, ch *Change) {
				if len(ch.Removed) != 0 || !reflect.DeepEqual(idsOf(ch.Tasks), []string{ids[1]}) {
					t.Errorf("removed %v changed %v", ch.Removed, idsOf(ch.Tasks))
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := stateOf(tc.tasks)
			_, ch, err := tc.report(s)
			if err != nil {
				t.Fatal(err)
			}
			if ch.Job.Status != tc.wantJob || s.Job.Status != tc.wantJob {
				t.Fatalf("job %s (state %s), want %s", ch.Job.Status, s.Job.Status, tc.wantJob)
			}
			if got := statesOf(s.Tasks); !reflect.DeepEqual(got, tc.wantTasks) {
				t.Fatalf("task states %v, want %v", got, tc.wantTasks)
			}
			tc.check(t, s, ch)
		})
	}
}

// TestGraphRetry: a retry reruns what did not succeed, on the chunks
// already prepared; merge waits again for them.
func TestGraphRetry(t *testing.T) {
	t.Parallel()
	now := epoch().Add(time.Hour)
	S, Q, W, F, C := TaskSucceeded, TaskQueued, TaskWaiting, TaskFailed, TaskCanceled
	missing := func(ts []Task) []Task {
		ts[2].LastError = &api.Error{Code: api.CodeChunkMissing, Message: "gone"}
		return ts
	}
	tests := []struct {
		name        string
		tasks       []Task
		wantStates  []TaskState
		wantChanged []string
		wantRemoved []string
	}{
		{"failed chunk", splitTasks(S, []TaskState{S, C, F}, C), []TaskState{S, S, Q, Q, W},
			[]string{chunkIDs(3)[1], chunkIDs(3)[2], mergeID}, nil},
		{"canceled before merge", splitTasks(S, []TaskState{S, S, S}, C), []TaskState{S, S, S, S, Q},
			[]string{mergeID}, nil},
		{"canceled before the split", []Task{func() Task { p := taskIn(C); p.ID, p.Kind = "p", KindPrepare; return p }()},
			[]TaskState{Q}, []string{"p"}, nil},
		{"a chunk was missing", missing(splitTasks(S, []TaskState{S, F, C}, C)), []TaskState{Q},
			[]string{"p"}, append(chunkIDs(3), mergeID)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := stateOf(tc.tasks)
			ch, err := s.Retry(now)
			if err != nil {
				t.Fatal(err)
			}
			if got := statesOf(s.Tasks); !reflect.DeepEqual(got, tc.wantStates) {
				t.Fatalf("task states %v, want %v", got, tc.wantStates)
			}
			if !reflect.DeepEqual(idsOf(ch.Tasks), tc.wantChanged) || !reflect.DeepEqual(ch.Removed, tc.wantRemoved) {
				t.Fatalf("changed %v removed %v, want %v and %v", idsOf(ch.Tasks), ch.Removed, tc.wantChanged, tc.wantRemoved)
			}
			for _, tk := range s.Tasks {
				switch {
				case tk.State == S && tk.Kind == KindTranscribe && tk.Result == nil:
					t.Errorf("succeeded chunk %s lost its result", tk.ID)
				case tk.State != S && (tk.Attempt != 0 || tk.LastError != nil || !tk.RunAt.Equal(now)):
					t.Errorf("rerun task %s: attempt %d error %+v run at %v", tk.ID, tk.Attempt, tk.LastError, tk.RunAt)
				}
			}
			if ch.Job.Status.Final() || ch.Job.Error != nil || ch.Job.FinishedAt != nil {
				t.Fatalf("job after retry: %+v", ch.Job)
			}
		})
	}
}

// TestSettleGraph: a split job's progress, stage and chunk counts.
func TestSettleGraph(t *testing.T) {
	t.Parallel()
	S, Q, L, W := TaskSucceeded, TaskQueued, TaskLeased, TaskWaiting
	withProgress := func(i int, p float64) func([]Task) []Task {
		return func(ts []Task) []Task { ts[i].Progress = p; return ts }
	}
	tests := []struct {
		name        string
		tasks       []Task
		status      Status
		stage       string
		progress    float64
		total, done int
	}{
		{"just split", splitTasks(S, []TaskState{Q, Q, Q}, W), api.JobRunning, KindTranscribe, 0.5, 3, 0},
		{"chunks under way", withProgress(2, 0.5)(splitTasks(S, []TaskState{S, L, Q}, W)), api.JobRunning, KindTranscribe, 0.5 + 0.45*1.5/3, 3, 1},
		{"merge queued", splitTasks(S, []TaskState{S, S, S}, Q), api.JobRunning, KindMerge, 0.95, 3, 3},
		{"merge under way", withProgress(4, 0.4)(splitTasks(S, []TaskState{S, S, S}, L)), api.JobRunning, KindMerge, 0.97, 3, 3},
		{"done", splitTasks(S, []TaskState{S, S, S}, S), api.JobSucceeded, "", 1, 3, 3},
		{"not split", []Task{taskIn(L)}, api.JobRunning, "", 0.3, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := settle(jobWith(""), tc.tasks, epoch())
			if j.Status != tc.status || j.Stage != tc.stage || !near(j.Progress, tc.progress) || j.ChunksTotal != tc.total || j.ChunksDone != tc.done {
				t.Fatalf("settled to %s stage %q progress %v chunks %d/%d, want %s %q %v %d/%d",
					j.Status, j.Stage, j.Progress, j.ChunksDone, j.ChunksTotal, tc.status, tc.stage, tc.progress, tc.done, tc.total)
			}
		})
	}
}
