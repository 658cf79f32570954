package server_test

import (
	"context"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// TestJobTaskRuns: GET /v1/jobs/{id}/tasks tells a task's story: an agent
// leases it, heartbeats through stages, fails once (retryable), and a
// second lease succeeds; each attempt is a run with its stage marks.
func TestJobTaskRuns(t *testing.T) {
	t.Parallel()
	cfg := sqliteBackend().cfg(t)
	cfg.RetryPolicy = job.RetryPolicy{MaxAttempts: 3, BaseDelay: 50 * time.Millisecond, MaxDelay: time.Second}
	r := startReplica(t, cfg)
	ctx := context.Background()
	ag := enrollAgent(t, r, "storyteller", api.Capabilities{})
	j, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/story", ChunkSeconds: floatp(0)}, "")
	if err != nil {
		t.Fatal(err)
	}
	beat := func(l api.Lease, stage string) {
		t.Helper()
		if _, err := ag.c.Heartbeat(ctx, l.TaskID, api.HeartbeatRequest{Token: l.Token, Stage: stage, Progress: 0.5}); err != nil {
			t.Fatalf("heartbeat %s: %v", stage, err)
		}
	}
	runs := func() []api.TaskRun {
		t.Helper()
		l, err := r.admin.JobTasks(ctx, j.ID) // validated against the OpenAPI document
		if err != nil || len(l.Tasks) != 1 {
			t.Fatalf("tasks: %+v %v", l, err)
		}
		return l.Tasks[0].Runs
	}

	first := ag.leaseOne(10 * time.Second)
	beat(first, "resolve")
	beat(first, "download")
	beat(first, "download") // the same stage again: no new mark
	// While running the run has no ended_at, in the JSON itself.
	resp := rawGet(t, r, api.PathJobs+"/"+j.ID+"/tasks", adminKey)
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `"outcome":"running"`) || strings.Contains(string(body), "ended_at") {
		t.Fatalf("running task: %s", body)
	}
	if got := runs(); len(got) != 1 || got[0].Outcome != api.RunRunning || got[0].EndedAt != nil {
		t.Fatalf("running: %s", show(got))
	}
	err = ag.c.Fail(ctx, first.TaskID, api.FailRequest{Token: first.Token, Retryable: true,
		Error: api.Error{Code: api.CodeDownloadFailed, Message: "HTTP 503"}})
	if err != nil {
		t.Fatalf("fail: %v", err)
	}

	second := ag.leaseOne(10 * time.Second) // after the retry's backoff
	beat(second, "download")
	beat(second, "transcribe")
	if err := ag.complete(second); err != nil {
		t.Fatalf("complete: %v", err)
	}
	waitStatus(t, r.admin, j.ID, api.JobSucceeded)

	got := runs()
	if len(got) != 2 {
		t.Fatalf("runs: %s", show(got))
	}
	stages := func(r api.TaskRun) []string {
		var out []string
		for _, m := range r.Stages {
			out = append(out, m.Stage)
		}
		return out
	}
	r1, r2 := got[0], got[1]
	if r1.Attempt != 1 || r1.AgentID != ag.id || r1.Outcome != api.RunRetried || r1.EndedAt == nil ||
		r1.Error == nil || r1.Error.Code != api.CodeDownloadFailed || r1.Error.Message != "HTTP 503" ||
		!reflect.DeepEqual(stages(r1), []string{"resolve", "download"}) {
		t.Errorf("first run: %s", show(got[:1]))
	}
	if r2.Attempt != 2 || r2.AgentID != ag.id || r2.Outcome != api.RunSucceeded || r2.EndedAt == nil || r2.Error != nil ||
		!reflect.DeepEqual(stages(r2), []string{"download", "transcribe"}) {
		t.Errorf("second run: %s", show(got[1:]))
	}
	// The story is in order: each run's marks fall within it, and the
	// second run starts after the first ended.
	for _, run := range got {
		at := run.StartedAt
		for _, m := range append(run.Stages, api.StageMark{Stage: "end", At: *run.EndedAt}) {
			if m.At.Before(at) {
				t.Errorf("attempt %d: %s at %s, before %s", run.Attempt, m.Stage, m.At, at)
			}
			at = m.At
		}
	}
	if r2.StartedAt.Before(*r1.EndedAt) {
		t.Errorf("second run started %s, before the first ended %s", r2.StartedAt, *r1.EndedAt)
	}
}

func show(runs []api.TaskRun) string {
	b, _ := json.Marshal(runs)
	return string(b)
}
