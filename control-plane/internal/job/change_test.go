package job

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// jobWith is a job "j1" of tenant "acme" created at epoch.
func jobWith(status Status) Job {
	return Job{ID: "j1", Tenant: "acme", Status: status, Spec: Spec{URL: "https://media.example.com/a.mp4"},
		CreatedAt: epoch(), UpdatedAt: epoch()}
}

// tasksIn are tasks t1, t2, ... of job j1 in the given states.
func tasksIn(states ...TaskState) []Task {
	out := make([]Task, len(states))
	for i, s := range states {
		out[i] = taskIn(s)
		out[i].ID = "t" + string(rune('1'+i))
	}
	return out
}

func TestSettle(t *testing.T) {
	t.Parallel()
	now := epoch().Add(time.Minute)
	earlier := epoch()
	failedErr := &api.Error{Code: "download_failed", Message: "403"}
	tests := []struct {
		name         string
		tasks        []Task
		finishedAt   *time.Time
		wantStatus   Status
		wantProgress float64
		wantAttempts int
		wantErr      string
		wantFinished *time.Time
	}{
		{"no tasks", nil, nil, api.JobQueued, 0, 0, "", nil},
		{"queued", tasksIn(TaskQueued), nil, api.JobQueued, 0, 0, "", nil},
		{"leased at 0.3", tasksIn(TaskLeased), nil, api.JobRunning, 0.3, 1, "", nil},
		{"one of two done", tasksIn(TaskSucceeded, TaskQueued), nil, api.JobRunning, 0.5, 1, "", nil},
		{"all done", tasksIn(TaskSucceeded, TaskSucceeded), nil, api.JobSucceeded, 1, 2, "", &now},
		{"failed keeps the task's error", func() []Task {
			ts := tasksIn(TaskFailed, TaskSucceeded)
			ts[0].LastError = failedErr
			return ts
		}(), nil, api.JobFailed, 0.5, 2, "download_failed", &now},
		{"canceled", func() []Task {
			ts := tasksIn(TaskCanceled)
			ts[0].LastError = &api.Error{Code: api.CodeCanceled}
			return ts
		}(), nil, api.JobCanceled, 0, 1, api.CodeCanceled, &now},
		{"final keeps its first finish time", tasksIn(TaskSucceeded), &earlier, api.JobSucceeded, 1, 1, "", &earlier},
		{"requeued clears the finish time", tasksIn(TaskQueued), &earlier, api.JobQueued, 0, 0, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := jobWith(api.JobQueued)
			j.FinishedAt = tt.finishedAt
			j.Error = &api.Error{Code: "stale"}
			got := settle(j, tt.tasks, now)
			if got.Status != tt.wantStatus || got.Progress != tt.wantProgress || got.Attempts != tt.wantAttempts {
				t.Errorf("status %s progress %v attempts %d, want %s %v %d", got.Status, got.Progress, got.Attempts,
					tt.wantStatus, tt.wantProgress, tt.wantAttempts)
			}
			gotErr := ""
			if got.Error != nil {
				gotErr = got.Error.Code
			}
			if gotErr != tt.wantErr {
				t.Errorf("error %q, want %q", gotErr, tt.wantErr)
			}
			if (got.FinishedAt == nil) != (tt.wantFinished == nil) || (got.FinishedAt != nil && !got.FinishedAt.Equal(*tt.wantFinished)) {
				t.Errorf("finished at %v, want %v", got.FinishedAt, tt.wantFinished)
			}
			if !got.UpdatedAt.Equal(now) {
				t.Errorf("updated at %v, want %v", got.UpdatedAt, now)
			}
		})
	}
}

func TestAbandonSiblings(t *testing.T) {
	t.Parallel()
	now := epoch().Add(time.Minute)
	tests := []struct {
		name  string
		tasks []Task
		want  []TaskState // after
		n     int         // changed
	}{
		{"no failure", tasksIn(TaskQueued, TaskLeased, TaskSucceeded), []TaskState{TaskQueued, TaskLeased, TaskSucceeded}, 0},
		{"failure cancels the unfinished", tasksIn(TaskFailed, TaskQueued, TaskLeased, TaskSucceeded),
			[]TaskState{TaskFailed, TaskCanceled, TaskCanceled, TaskSucceeded}, 2},
		{"nothing left to cancel", tasksIn(TaskFailed, TaskCanceled), []TaskState{TaskFailed, TaskCanceled}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			changed := abandonSiblings(tt.tasks, now)
			if len(changed) != tt.n {
				t.Errorf("changed %d tasks, want %d", len(changed), tt.n)
			}
			for i, s := range tt.want {
				if tt.tasks[i].State != s {
					t.Errorf("task %d is %s, want %s", i, tt.tasks[i].State, s)
				}
			}
			for _, c := range changed {
				if c.LastError == nil || c.LastError.Code != api.CodeCanceled {
					t.Errorf("abandoned task %s has error %+v", c.ID, c.LastError)
				}
			}
		})
	}
}

func TestClamp01(t *testing.T) {
	t.Parallel()
	nan := 0.0
	nan /= nan
	for in, want := range map[float64]float64{-1: 0, 0: 0, 0.25: 0.25, 1: 1, 7: 1, nan: 0} {
		if got := clamp01(in); got != want {
			t.Errorf("clamp01(%v) = %v, want %v", in, got, want)
		}
	}
}

// TestPlanEvent: which event a change of a job records, which webhook
// deliveries it causes, and when the result is cached.
func TestPlanEvent(t *testing.T) {
	t.Parallel()
	now := epoch().Add(time.Minute)
	all := Endpoint{ID: "ep_final", URL: "https://hooks.example.com/final"}
	progress := Endpoint{ID: "ep_progress", URL: "https://hooks.example.com/progress", Events: []string{api.EventJobProgress}}
	failedOnly := Endpoint{ID: "ep_failed", URL: "https://hooks.example.com/failed", Events: []string{api.EventJobFailed}}
	endpoints := []Endpoint{all, progress, failedOnly}
	last := func(status Status, progress float64) *Event {
		return &Event{JobID: "j1", Seq: 4, Status: status, Progress: progress}
	}
	own := "https://client.example.com/hook"
	succeeded := func(result *api.JobResult, key string) Job {
		j := jobWith(api.JobSucceeded)
		j.Progress, j.Result, j.ResultKey, j.Spec.WebhookURL = 1, result, key, own
		return j
	}
	tests := []struct {
		name      string
		last      *Event
		job       Job
		cacheKey  string
		wantSeq   int64 // 0: no event
		wantType  string
		wantURLs  []string
		wantCache string
	}{
		{"first event of a new job", nil, jobWith(api.JobQueued), "", 1, "", nil, ""},
		{"nothing changed", last(api.JobRunning, 0.5), func() Job { j := jobWith(api.JobRunning); j.Progress = 0.5; return j }(), "", 0, "", nil, ""},
		{"progress", last(api.JobRunning, 0.2), func() Job {
			j := jobWith(api.JobRunning)
			j.Progress, j.Spec.WebhookURL = 0.5, own
			return j
		}(), "", 5, api.EventJobProgress, []string{progress.URL}, ""},
		{"started", last(api.JobQueued, 0), func() Job { j := jobWith(api.JobRunning); j.Progress = 0.1; return j }(), "",
			5, api.EventJobProgress, []string{progress.URL}, ""},
		{"succeeded with a result of its own", last(api.JobRunning, 0.5), succeeded(&api.JobResult{}, "r/k"), "ck",
			5, api.EventJobSucceeded, []string{own, all.URL}, "ck"},
		{"succeeded, not cacheable", last(api.JobRunning, 0.5), succeeded(&api.JobResult{}, "r/k"), "",
			5, api.EventJobSucceeded, []string{own, all.URL}, ""},
		{"succeeded from the cache", last(api.JobRunning, 0.5), succeeded(&api.JobResult{Cached: true}, "r/k"), "ck",
			5, api.EventJobSucceeded, []string{own, all.URL}, ""},
		{"succeeded without a transcript", last(api.JobRunning, 0.5), succeeded(nil, ""), "ck",
			5, api.EventJobSucceeded, []string{own, all.URL}, ""},
		{"succeeded already", last(api.JobSucceeded, 0.9), succeeded(&api.JobResult{}, "r/k"), "ck", 5, "", nil, ""},
		{"failed", last(api.JobRunning, 0), jobWith(api.JobFailed), "", 5, api.EventJobFailed, []string{all.URL, failedOnly.URL}, ""},
		{"born succeeded", nil, succeeded(&api.JobResult{Cached: true}, "r/k"), "ck", 1, api.EventJobSucceeded, []string{own, all.URL}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := State{Job: tt.job, Last: tt.last, Endpoints: endpoints, CacheKey: tt.cacheKey}
			var ch Change
			if err := st.planEvent(&ch, now); err != nil {
				t.Fatal(err)
			}
			if tt.wantSeq == 0 {
				if ch.Event != nil || len(ch.Deliveries) > 0 || ch.CacheKey != "" || st.Last != tt.last {
					t.Fatalf("planned %+v for an unchanged job", ch)
				}
				return
			}
			if ch.Event == nil || ch.Event.Seq != tt.wantSeq || ch.Event.Status != tt.job.Status || !ch.Event.At.Equal(now) {
				t.Fatalf("event %+v, want seq %d status %s", ch.Event, tt.wantSeq, tt.job.Status)
			}
			if st.Last != ch.Event {
				t.Error("the state's last event is not the one planned")
			}
			if ch.CacheKey != tt.wantCache {
				t.Errorf("cache key %q, want %q", ch.CacheKey, tt.wantCache)
			}
			if len(ch.Deliveries) != len(tt.wantURLs) {
				t.Fatalf("%d deliveries, want %v", len(ch.Deliveries), tt.wantURLs)
			}
			ids := map[string]bool{}
			for i, d := range ch.Deliveries {
				if d.URL != tt.wantURLs[i] || d.EventType != tt.wantType || d.Tenant != "acme" || d.JobID != "j1" || !d.At.Equal(now) {
					t.Errorf("delivery %d = %+v, want %s to %s", i, d, tt.wantType, tt.wantURLs[i])
				}
				ids[d.ID] = true
				var body api.WebhookEvent
				if err := json.Unmarshal(d.Payload, &body); err != nil || body.ID != d.EventID || body.Type != tt.wantType || body.Data.Job.ID != "j1" {
					t.Errorf("payload %s (%v)", d.Payload, err)
				}
			}
			if len(ids) != len(ch.Deliveries) {
				t.Errorf("delivery ids not unique: %v", ids)
			}
		})
	}
}

// TestNewAndCreate: a new job's tasks inherit from it, the job is settled
// from them, and its creation records the first event.
func TestNewAndCreate(t *testing.T) {
	t.Parallel()
	j := jobWith("")
	j.UpdatedAt = time.Time{}
	j.Spec.Priority = 4
	st := New(j, []Task{{ID: "t1", Kind: KindCaption}, {ID: "t2", Kind: KindCaption, Tenant: "other", State: TaskSucceeded}})
	if st.Job.Status != api.JobRunning || st.Job.Progress != 0.5 || !st.Job.UpdatedAt.Equal(j.CreatedAt) {
		t.Fatalf("new job %+v", st.Job)
	}
	t1 := st.Tasks[0]
	if t1.JobID != "j1" || t1.Tenant != "acme" || t1.State != TaskQueued || !t1.RunAt.Equal(j.CreatedAt) || !t1.UpdatedAt.Equal(j.CreatedAt) {
		t.Errorf("task 1 %+v", t1)
	}
	if st.Tasks[1].Tenant != "other" || st.Tasks[1].State != TaskSucceeded {
		t.Errorf("task 2 lost what it set: %+v", st.Tasks[1])
	}
	st.Endpoints = []Endpoint{{ID: "ep", URL: "https://hooks.example.com", Events: []string{api.EventJobProgress}}}
	ch, err := st.Create()
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Added) != 2 || len(ch.Tasks) != 0 || ch.Event == nil || ch.Event.Seq != 1 || len(ch.Deliveries) != 0 || ch.Job.Status != api.JobRunning {
		t.Fatalf("create %+v; want both tasks, event 1 and no delivery (progress goes out from the second event on)", ch)
	}
}

// CreateNeedsEndpoints says exactly when the tenant's endpoints change what
// Create records: a queued job's first event reaches none, a job born
// finished from the cache reaches them.
func TestCreateNeedsEndpoints(t *testing.T) {
	n := 0
	newID := func() string { n++; return "t" + string(rune('0'+n)) }
	eps := []Endpoint{{ID: "ep", URL: "https://hooks.example.com", Events: []string{api.EventJobSucceeded}}}
	queued := jobWith(api.JobQueued)
	cj, ct := AnswerFromCache(queued, Plan(queued, newID, 3), "results/r.json", api.Result{Language: "en"})
	for _, c := range []struct {
		name  string
		st    State
		needs bool
	}{{"queued", New(queued, Plan(queued, newID, 3)), false}, {"born finished", New(cj, ct), true}} {
		if got := c.st.CreateNeedsEndpoints(); got != c.needs {
			t.Fatalf("%s: CreateNeedsEndpoints = %v, want %v", c.name, got, c.needs)
		}
		without, with := c.st, c.st
		with.Endpoints = eps
		a, errA := without.Create()
		b, errB := with.Create()
		if errA != nil || errB != nil {
			t.Fatalf("%s: Create: %v, %v", c.name, errA, errB)
		}
		if differ := len(a.Deliveries) != len(b.Deliveries); differ != c.needs {
			t.Fatalf("%s: deliveries without endpoints %d, with %d; needs endpoints %v",
				c.name, len(a.Deliveries), len(b.Deliveries), c.needs)
		}
	}
}
