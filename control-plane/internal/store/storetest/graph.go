package storetest

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// Task graphs: a job with ChunkSeconds is planned as one prepare task,
// whose completion with chunks expands it into one transcribe task per
// chunk and a merge waiting for them; the store writes the graph's growth,
// shrinking and unblocking in the transaction of the report that causes it.

func graphTests() []struct {
	name string
	fn   func(t *testing.T, s store.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"GraphExpand", testGraphExpand},
		{"GraphDependency", testGraphDependency},
		{"GraphCancel", testGraphCancel},
		{"GraphRetryOneChunk", testGraphRetryOneChunk},
		{"GraphMissingChunk", testGraphMissingChunk},
		{"GraphConcurrentChunks", testGraphConcurrentChunks},
	}
}

const graphChunks = 3

// split is a job expanded by its prepare task: prepare, the chunks'
// transcribe tasks in index order, and merge.
type split struct {
	job     job.Job
	prepare job.Task
	chunks  []job.Task
	merge   job.Task
}

// createSplit creates a job that splits, leases its prepare task at at and
// completes it with graphChunks chunks at at+1s.
func createSplit(t *testing.T, s store.Store, at time.Time) split {
	t.Helper()
	ctx := context.Background()
	j, planned := create(t, s, at, spec{ChunkSeconds: 120})
	if planned.Kind != job.KindPrepare {
		t.Fatalf("a job with chunk_seconds is planned as %s, want %s", planned.Kind, job.KindPrepare)
	}
	prep := leaseOne(t, s, at, planned.ID)
	chunks := make([]api.PreparedChunk, graphChunks)
	for i := range chunks {
		chunks[i] = api.PreparedChunk{Chunk: api.Chunk{Index: i, Start: 120 * float64(i), End: 120 * float64(i+1)},
			Key: fmt.Sprintf("chunks/%s/c%d.wav", j.ID, i), Size: 1000, SHA256: "ab"}
	}
	out, err := s.CompleteTask(ctx, store.Completion{TaskID: prep.ID, Token: prep.Token,
		Result: api.TaskResult{Chunks: chunks}, Now: at.Add(time.Second)})
	noErr(t, "CompleteTask prepare", err)
	if out.Status != api.JobRunning || out.ChunksTotal != graphChunks || out.ChunksDone != 0 {
		t.Fatalf("job after prepare split it: status %s chunks %d/%d, want running 0/%d", out.Status, out.ChunksDone, out.ChunksTotal, graphChunks)
	}
	tasks, err := s.JobTasks(ctx, j.ID)
	noErr(t, "JobTasks", err)
	if len(tasks) != graphChunks+2 {
		t.Fatalf("job has %d tasks after the split, want %d", len(tasks), graphChunks+2)
	}
	sp := split{job: out, prepare: tasks[0], chunks: tasks[1 : 1+graphChunks], merge: tasks[len(tasks)-1]}
	if sp.prepare.ID != prep.ID || sp.prepare.State != job.TaskSucceeded || sp.prepare.Result == nil || len(sp.prepare.Result.Chunks) != graphChunks {
		t.Fatalf("prepare after the split: %s %s result %+v, want %s succeeded with its chunks", sp.prepare.ID, sp.prepare.State, sp.prepare.Result, prep.ID)
	}
	ids := make([]string, graphChunks)
	for i, c := range sp.chunks {
		ids[i] = c.ID
		want := &job.Chunk{Index: i, Start: chunks[i].Start, End: chunks[i].End, Key: chunks[i].Key}
		if c.Kind != job.KindTranscribe || c.State != job.TaskQueued || !reflect.DeepEqual(c.Chunk, want) ||
			!reflect.DeepEqual(c.Parents, []string{prep.ID}) {
			t.Fatalf("task %d after the split: %s %s chunk %+v parents %v, want a queued transcribe of %+v after %s",
				i+1, c.Kind, c.State, c.Chunk, c.Parents, want, prep.ID)
		}
	}
	if m := sp.merge; m.Kind != job.KindMerge || m.State != job.TaskWaiting || m.Chunk != nil || !reflect.DeepEqual(m.Parents, ids) {
		t.Fatalf("last task after the split: %s %s parents %v, want a waiting merge after %v", m.Kind, m.State, m.Parents, ids)
	}
	return sp
}

// complete completes a leased task and returns its job.
func complete(t *testing.T, s store.Store, tk job.Task, key string, now time.Time) job.Job {
	t.Helper()
	out, err := s.CompleteTask(context.Background(), store.Completion{TaskID: tk.ID, Token: tk.Token,
		Result: api.TaskResult{Key: key, Result: api.Result{Language: "en", Words: 7}}, Now: now})
	noErr(t, "CompleteTask "+tk.ID, err)
	return out
}

// wantStates checks the states of a job's tasks, in creation order.
func wantStates(t *testing.T, s store.Store, jobID string, want ...job.TaskState) []job.Task {
	t.Helper()
	tasks, err := s.JobTasks(context.Background(), jobID)
	noErr(t, "JobTasks", err)
	got := make([]job.TaskState, len(tasks))
	for i, tk := range tasks {
		got[i] = tk.State
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("task states %v, want %v", got, want)
	}
	return tasks
}

func testGraphExpand(t *testing.T, s store.Store) {
	sp := createSplit(t, s, epoch())
	// The graph survives a reread of the job as well.
	if got := getJob(t, s, sp.job.ID); got.ChunksTotal != graphChunks || got.Spec.ChunkSeconds != 120 || got.Stage != job.KindTranscribe {
		t.Fatalf("job read back: chunks %d, chunk_seconds %v, stage %q", got.ChunksTotal, got.Spec.ChunkSeconds, got.Stage)
	}
}

func testGraphDependency(t *testing.T, s store.Store) {
	at := epoch()
	sp := createSplit(t, s, at)
	now := at.Add(2 * time.Second)
	held := lease(t, s, now, 10, defaultCaps())
	if !reflect.DeepEqual(taskIDs(held), taskIDs(sp.chunks)) {
		t.Fatalf("leased %v, want the chunks %v (merge waits)", taskIDs(held), taskIDs(sp.chunks))
	}
	for i, h := range held {
		sameTime(t, fmt.Sprintf("chunk %d started at", i), getTask(t, s, h.ID).StartedAt, now)
	}
	for i, h := range held[:graphChunks-1] {
		out := complete(t, s, h, fmt.Sprintf("parts/c%d.json", i), now.Add(time.Second))
		if out.ChunksDone != i+1 || out.Status != api.JobRunning {
			t.Fatalf("job after chunk %d: status %s chunks done %d", i, out.Status, out.ChunksDone)
		}
		if got := lease(t, s, now.Add(time.Hour), 10, defaultCaps()); len(got) != 0 {
			t.Fatalf("leased %v with a chunk unfinished, want nothing", taskIDs(got))
		}
	}
	out := complete(t, s, held[graphChunks-1], "parts/last.json", now.Add(2*time.Second))
	if out.ChunksDone != graphChunks || out.Stage != job.KindMerge {
		t.Fatalf("job after the last chunk: chunks done %d stage %q, want %d and merge", out.ChunksDone, out.Stage, graphChunks)
	}
	if m := getTask(t, s, sp.merge.ID); m.State != job.TaskQueued {
		t.Fatalf("merge after the last chunk is %s, want queued", m.State)
	}
	m := leaseOne(t, s, now.Add(2*time.Second), sp.merge.ID)
	out, err := s.CompleteTask(context.Background(), store.Completion{TaskID: m.ID, Token: m.Token,
		Result: api.TaskResult{Key: "results/merged.json", Result: api.Result{Language: "en", Words: 21}}, Now: now.Add(3 * time.Second)})
	noErr(t, "CompleteTask merge", err)
	if out.Status != api.JobSucceeded || out.ChunksTotal != graphChunks || out.ChunksDone != graphChunks ||
		out.ResultKey != "results/merged.json" || out.Result == nil || out.Result.Words != 21 || out.Progress != 1 {
		t.Fatalf("job after merge: %+v", out)
	}
	if got := getJob(t, s, sp.job.ID); got.ChunksDone != graphChunks || got.ResultKey != "results/merged.json" || got.Status != api.JobSucceeded {
		t.Fatalf("job read back after merge: status %s chunks done %d result key %q", got.Status, got.ChunksDone, got.ResultKey)
	}
}

func testGraphCancel(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	sp := createSplit(t, s, at)
	now := at.Add(2 * time.Second)
	held := leaseOne(t, s, now, sp.chunks[0].ID)
	out, err := s.CancelJob(ctx, "", sp.job.ID, now.Add(time.Second))
	noErr(t, "CancelJob", err)
	if out.Status != api.JobCanceled {
		t.Fatalf("job after cancel is %s", out.Status)
	}
	wantStates(t, s, sp.job.ID, job.TaskSucceeded, job.TaskCanceled, job.TaskCanceled, job.TaskCanceled, job.TaskCanceled)
	if got := lease(t, s, now.Add(time.Hour), 10, defaultCaps()); len(got) != 0 {
		t.Fatalf("leased %v of a canceled job", taskIDs(got))
	}
	hb, err := s.Heartbeat(ctx, store.Heartbeat{TaskID: held.ID, Holder: agentID, Token: held.Token,
		Now: now.Add(2 * time.Second), Deadline: now.Add(time.Minute)})
	noErr(t, "Heartbeat of a canceled chunk", err)
	if hb.State != job.TaskCanceled {
		t.Fatalf("heartbeat of a chunk of a canceled job reports %s, want canceled", hb.State)
	}
}

func testGraphRetryOneChunk(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	sp := createSplit(t, s, at)
	now := at.Add(2 * time.Second)
	held := lease(t, s, now, 10, defaultCaps())
	if len(held) != graphChunks {
		t.Fatalf("leased %d chunks, want %d", len(held), graphChunks)
	}
	_, err := s.FailTask(ctx, store.Failure{TaskID: held[1].ID, Token: held[1].Token, Retryable: true,
		Error: api.Error{Code: "engine_failed", Message: "engine crashed"}, Policy: defaultPolicy(), Now: now.Add(time.Second)})
	noErr(t, "FailTask retryable", err)
	again := leaseOne(t, s, now.Add(time.Hour), held[1].ID)
	if again.Attempt != 2 {
		t.Fatalf("the retried chunk is leased at attempt %d, want 2", again.Attempt)
	}
	for _, h := range []job.Task{held[0], held[2]} {
		if got := getTask(t, s, h.ID); got.Attempt != 1 || got.State != job.TaskLeased {
			t.Fatalf("other chunk %s: %s at attempt %d, want leased at 1", h.ID, got.State, got.Attempt)
		}
	}

	later := now.Add(time.Hour)
	complete(t, s, held[0], "parts/c0.json", later)
	permanent := api.Error{Code: api.CodeUndecodable, Message: "chunk 2 is not audio"}
	out, err := s.FailTask(ctx, store.Failure{TaskID: held[2].ID, Token: held[2].Token, Error: permanent,
		Policy: defaultPolicy(), Now: later.Add(time.Second)})
	noErr(t, "FailTask permanent", err)
	if out.Status != api.JobFailed || out.Error == nil || out.Error.Code != api.CodeUndecodable {
		t.Fatalf("job after a chunk failed for good: status %s error %+v", out.Status, out.Error)
	}
	wantStates(t, s, sp.job.ID, job.TaskSucceeded, job.TaskSucceeded, job.TaskCanceled, job.TaskFailed, job.TaskCanceled)

	out, err = s.RetryJob(ctx, "", sp.job.ID, later.Add(time.Minute))
	noErr(t, "RetryJob", err)
	if out.Status != api.JobRunning || out.ChunksDone != 1 {
		t.Fatalf("job after retry: status %s chunks done %d, want running with 1", out.Status, out.ChunksDone)
	}
	tasks := wantStates(t, s, sp.job.ID, job.TaskSucceeded, job.TaskSucceeded, job.TaskQueued, job.TaskQueued, job.TaskWaiting)
	if r := tasks[1].Result; r == nil || r.Key != "parts/c0.json" {
		t.Fatalf("the succeeded chunk lost its result on retry: %+v", r)
	}
	relay := lease(t, s, later.Add(2*time.Minute), 10, defaultCaps())
	if !reflect.DeepEqual(taskIDs(relay), []string{held[1].ID, held[2].ID}) {
		t.Fatalf("leased %v after retry, want the unfinished chunks", taskIDs(relay))
	}
	for i, r := range relay {
		complete(t, s, r, fmt.Sprintf("parts/r%d.json", i), later.Add(3*time.Minute))
	}
	m := leaseOne(t, s, later.Add(3*time.Minute), sp.merge.ID)
	out = complete(t, s, m, "results/merged.json", later.Add(4*time.Minute))
	if out.Status != api.JobSucceeded || out.ChunksDone != graphChunks || out.Error != nil {
		t.Fatalf("retried job after merge: status %s chunks done %d error %+v", out.Status, out.ChunksDone, out.Error)
	}
}

func testGraphMissingChunk(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	sp := createSplit(t, s, at)
	now := at.Add(2 * time.Second)
	held := lease(t, s, now, 10, defaultCaps())
	if len(held) != graphChunks {
		t.Fatalf("leased %d chunks, want %d", len(held), graphChunks)
	}
	out, err := s.FailTask(ctx, store.Failure{TaskID: held[1].ID, Token: held[1].Token, Retryable: true,
		Error: api.Error{Code: api.CodeChunkMissing, Message: "chunk 1 is gone"}, Policy: defaultPolicy(), Now: now.Add(time.Second)})
	noErr(t, "FailTask chunk missing", err)
	if out.Status != api.JobQueued || out.ChunksTotal != 0 {
		t.Fatalf("job after a missing chunk: status %s chunks %d, want queued with none", out.Status, out.ChunksTotal)
	}
	tasks := wantStates(t, s, sp.job.ID, job.TaskQueued)
	if tasks[0].ID != sp.prepare.ID || tasks[0].Result != nil {
		t.Fatalf("the job's only task is %s with result %+v, want prepare %s, run again", tasks[0].ID, tasks[0].Result, sp.prepare.ID)
	}
	for _, h := range held {
		_, err := s.GetTask(ctx, h.ID)
		wantErr(t, "GetTask of a dropped chunk", err, store.ErrNotFound)
	}
	prep := leaseOne(t, s, now.Add(2*time.Second), sp.prepare.ID)
	if prep.Attempt != 2 {
		t.Fatalf("prepare run again at attempt %d, want 2", prep.Attempt)
	}
}

// testGraphConcurrentChunks completes every chunk of several jobs at once,
// so that completions of one job share a write batch: each job must count
// all its chunks and queue its merge (a batch writes a job's last version).
func testGraphConcurrentChunks(t *testing.T, s store.Store) {
	const jobs = 6
	var splits []split
	for k := range jobs {
		// Each job is older than the last one's chunks, so its prepare
		// task is the next one leased.
		splits = append(splits, createSplit(t, s, epoch().Add(-time.Duration(k)*time.Hour)))
	}
	now := epoch().Add(time.Hour)
	held := lease(t, s, now, 100, defaultCaps())
	if len(held) != jobs*graphChunks {
		t.Fatalf("leased %d chunks, want %d", len(held), jobs*graphChunks)
	}
	var wg sync.WaitGroup
	for i, h := range held {
		wg.Go(func() {
			_, err := s.CompleteTask(context.Background(), store.Completion{TaskID: h.ID, Token: h.Token,
				Result: api.TaskResult{Key: fmt.Sprintf("parts/%d.json", i), Result: api.Result{Language: "en", Words: 7}},
				Now:    now.Add(time.Second)})
			if err != nil {
				t.Errorf("CompleteTask %s: %v", h.ID, err)
			}
		})
	}
	wg.Wait()
	for _, sp := range splits {
		got := getJob(t, s, sp.job.ID)
		if got.ChunksDone != graphChunks || got.Stage != job.KindMerge || got.Status != api.JobRunning {
			t.Errorf("job %s after all its chunks: %s stage %q chunks done %d, want running, merge, %d",
				got.ID, got.Status, got.Stage, got.ChunksDone, graphChunks)
		}
		wantStates(t, s, sp.job.ID, job.TaskSucceeded, job.TaskSucceeded, job.TaskSucceeded, job.TaskSucceeded, job.TaskQueued)
	}
}
