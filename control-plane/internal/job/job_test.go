package job

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

func TestAggregate(t *testing.T) {
	t.Parallel()
	task := func(s TaskState, attempt int) Task { return Task{State: s, Attempt: attempt} }
	tests := []struct {
		name  string
		tasks []Task
		want  Status
	}{
		{"no tasks", nil, api.JobQueued},
		{"queued", []Task{task(TaskQueued, 0)}, api.JobQueued},
		{"queued for a retry", []Task{task(TaskQueued, 1)}, api.JobQueued},
		{"leased", []Task{task(TaskLeased, 1)}, api.JobRunning},
		{"succeeded", []Task{task(TaskSucceeded, 1)}, api.JobSucceeded},
		{"failed", []Task{task(TaskFailed, 3)}, api.JobFailed},
		{"canceled", []Task{task(TaskCanceled, 0)}, api.JobCanceled},
		{"all succeeded", []Task{task(TaskSucceeded, 1), task(TaskSucceeded, 2)}, api.JobSucceeded},
		{"some succeeded, rest queued", []Task{task(TaskSucceeded, 1), task(TaskQueued, 0)}, api.JobRunning},
		{"one leased, rest queued", []Task{task(TaskQueued, 0), task(TaskLeased, 1)}, api.JobRunning},
		{"a failure wins over running work", []Task{task(TaskLeased, 1), task(TaskFailed, 1), task(TaskSucceeded, 1)}, api.JobFailed},
		{"a failure wins over a cancel", []Task{task(TaskCanceled, 1), task(TaskFailed, 1)}, api.JobFailed},
		{"a cancel wins over success", []Task{task(TaskSucceeded, 1), task(TaskCanceled, 0)}, api.JobCanceled},
		{"a cancel wins over running work", []Task{task(TaskLeased, 1), task(TaskCanceled, 0)}, api.JobCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Aggregate(tt.tasks); got != tt.want {
				t.Errorf("Aggregate = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRequirementsSatisfiedBy(t *testing.T) {
	t.Parallel()
	caps := api.Capabilities{
		Engines: []api.EngineCapability{{Name: "pocketsphinx"}, {Name: "whisper-cpp", Models: []string{"base.en"}}},
		Labels:  map[string]string{"region": "eu", "gpu": "yes"},
	}
	onlyFetch := caps
	onlyFetch.Kinds = []string{"fetch"}
	withCaption := caps
	withCaption.Kinds = []string{"fetch", KindCaption}
	tests := []struct {
		name string
		req  Requirements
		kind string
		caps api.Capabilities
		want bool
	}{
		{"nothing required", Requirements{}, KindCaption, api.Capabilities{}, true},
		{"engine offered", Requirements{Engine: "whisper-cpp"}, KindCaption, caps, true},
		{"engine missing", Requirements{Engine: "openai"}, KindCaption, caps, false},
		{"engine required, none offered", Requirements{Engine: "pocketsphinx"}, KindCaption, api.Capabilities{}, false},
		{"labels match", Requirements{Labels: map[string]string{"region": "eu"}}, KindCaption, caps, true},
		{"all labels match", Requirements{Labels: map[string]string{"region": "eu", "gpu": "yes"}}, KindCaption, caps, true},
		{"label value differs", Requirements{Labels: map[string]string{"region": "us"}}, KindCaption, caps, false},
		{"label missing", Requirements{Labels: map[string]string{"rack": "a"}}, KindCaption, caps, false},
		{"empty label value needs no label", Requirements{Labels: map[string]string{"rack": ""}}, KindCaption, caps, true},
		{"kind not offered", Requirements{}, KindCaption, onlyFetch, false},
		{"kind offered", Requirements{Engine: "pocketsphinx"}, KindCaption, withCaption, true},
		{"empty kinds mean all", Requirements{}, "anything", caps, true},
		{"engine and label, label fails", Requirements{Engine: "pocketsphinx", Labels: map[string]string{"gpu": "no"}}, KindCaption, caps, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.req.SatisfiedBy(tt.kind, tt.caps); got != tt.want {
				t.Errorf("SatisfiedBy = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	created := epoch()
	j := Job{ID: "j1", Tenant: "acme", CreatedAt: created, Spec: Spec{Priority: 8, Labels: map[string]string{"gpu": "yes"}}}
	tasks := Plan(j, func() string { return "t1" }, 4)
	want := []Task{{
		ID: "t1", JobID: "j1", Tenant: "acme", Kind: KindCaption, State: TaskQueued, Priority: 8,
		Requires: Requirements{Labels: map[string]string{"gpu": "yes"}}, MaxAttempts: 4,
		RunAt: created, CreatedAt: created, UpdatedAt: created,
	}}
	if !reflect.DeepEqual(tasks, want) {
		t.Errorf("Plan:\ngot  %+v\nwant %+v", tasks, want)
	}
	if got := Aggregate(tasks); got != api.JobQueued {
		t.Errorf("planned job is %s, want queued", got)
	}
}

func TestToAPI(t *testing.T) {
	t.Parallel()
	loc := time.FixedZone("X", 3600)
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, loc)
	finished := created.Add(time.Minute)
	j := Job{
		ID: "j1", Tenant: "acme", Status: api.JobSucceeded, Stage: "done", Progress: 1, Attempts: 2,
		Spec: Spec{
			URL: "https://example.com/v", Filename: "v.mp4", Size: 10, Language: "en", Task: api.TaskTranscribe,
			Model: "base", Priority: 3, Captions: api.CaptionsASROnly, Cache: true, WebhookURL: "https://hook.example.com",
			Metadata: map[string]any{"k": "v"}, UploadKey: "secret/key",
		},
		Result:    &api.JobResult{Result: api.Result{Segments: 3}},
		CreatedAt: created, UpdatedAt: finished, FinishedAt: &finished,
	}
	got := j.ToAPI()
	f := finished.UTC()
	want := api.Job{
		ID: "j1", Tenant: "acme", Status: api.JobSucceeded, Stage: "done", Progress: 1,
		Source:   api.Source{URL: "https://example.com/v", Filename: "v.mp4", Size: 10},
		Language: "en", Task: api.TaskTranscribe, Model: "base", Priority: 3, Captions: api.CaptionsASROnly,
		Cache: true, WebhookURL: "https://hook.example.com", Metadata: map[string]any{"k": "v"}, Attempts: 2,
		CreatedAt: created.UTC(), UpdatedAt: finished.UTC(), FinishedAt: &f, Result: &api.JobResult{Result: api.Result{Segments: 3}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ToAPI:\ngot  %+v\nwant %+v", got, want)
	}
	if got.CreatedAt.Location() != time.UTC || got.FinishedAt.Location() != time.UTC {
		t.Error("ToAPI times are not UTC")
	}
	if unfinished := (Job{}).ToAPI(); unfinished.FinishedAt != nil {
		t.Error("FinishedAt set for an unfinished job")
	}
}

func TestAnswerFromCache(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	j := Job{ID: "j1", Tenant: "acme", CreatedAt: now, Spec: Spec{URL: "https://example.com/a.mp4", Cache: true}}
	n := 0
	planned := Plan(j, func() string { n++; return fmt.Sprintf("t%d", n) }, 3)
	res := api.Result{Language: "en", Words: 21, Timings: map[string]float64{"transcribe": 2.5}}

	cj, tasks := AnswerFromCache(j, planned, "results/r.json", res)
	if planned[0].State != TaskQueued {
		t.Fatal("the planned tasks were changed in place")
	}
	st := New(cj, tasks)
	if st.Job.Status != api.JobSucceeded || st.Job.Progress != 1 || st.Job.Stage != "cache" || st.Job.FinishedAt == nil {
		t.Fatalf("job %+v", st.Job)
	}
	if r := st.Job.Result; r == nil || !r.Cached || r.Timings["transcribe"] != 2.5 || r.Words != 21 || st.Job.ResultKey != "results/r.json" {
		t.Fatalf("job result %+v key %q", st.Job.Result, st.Job.ResultKey)
	}
	for _, tk := range st.Tasks {
		if tk.State != TaskSucceeded || tk.Result == nil || tk.Result.Key != "results/r.json" || tk.Result.Language != "en" {
			t.Fatalf("task %+v", tk)
		}
	}
	st.CacheKey = "ck"
	ch, err := st.Create()
	if err != nil || ch.Event == nil || ch.Event.Status != api.JobSucceeded {
		t.Fatalf("first event %+v, %v", ch.Event, err)
	}
	if ch.CacheKey != "" {
		t.Fatalf("a cached answer is cached again under %q", ch.CacheKey)
	}
}
