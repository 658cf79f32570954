package job

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// stateWith is job j1's state with tasks in the given states, settled, and
// with a last event matching it.
func stateWith(states ...TaskState) *State {
	tasks := tasksIn(states...)
	j := settle(jobWith(""), tasks, epoch())
	return &State{Job: j, Tasks: tasks, CacheKey: "ck",
		Last: &Event{JobID: j.ID, Seq: 3, Status: j.Status, Stage: j.Stage, Progress: j.Progress}}
}

// TestReports: the changes agents report, each refused for a task that is
// not the caller's or a lease that is not current, and a refused one
// leaves the state as it was.
func TestReports(t *testing.T) {
	t.Parallel()
	now := epoch().Add(10 * time.Second)
	deadline := now.Add(time.Minute)
	res := api.TaskResult{Key: "results/t1.json", Result: api.Result{Language: "en"}}
	errCheck := errors.New("wrong object")
	heartbeat := func(task, holder string, token int64) func(*State) (Task, *Change, error) {
		return func(s *State) (Task, *Change, error) {
			return s.Heartbeat(Heartbeat{TaskID: task, Holder: holder, Token: token, Stage: "transcribe", Progress: 1.5, Now: now, Deadline: deadline})
		}
	}
	complete := func(token int64, check func(Task, api.TaskResult) error) func(*State) (Task, *Change, error) {
		return func(s *State) (Task, *Change, error) {
			return s.Complete(Completion{TaskID: "t1", Holder: "a1", Token: token, Result: res, Now: now, Check: check})
		}
	}
	fail := func(retryable bool) func(*State) (Task, *Change, error) {
		return func(s *State) (Task, *Change, error) {
			return s.Fail(Failure{TaskID: "t1", Holder: "a1", Token: 7, Error: api.Error{Code: "download_failed"},
				Retryable: retryable, Policy: policy(), Jitter: 0, Now: now})
		}
	}
	release := func(s *State) (Task, *Change, error) { return s.Release("t1", "a1", 7, now) }
	tests := []struct {
		name      string
		state     *State
		report    func(*State) (Task, *Change, error)
		wantErr   error
		wantState TaskState // of t1 after
		wantJob   Status
		wantWrite bool
		check     func(t *testing.T, s *State, ch *Change)
	}{
		{"heartbeat", stateWith(TaskLeased), heartbeat("t1", "a1", 7), nil, TaskLeased, api.JobRunning, true,
			func(t *testing.T, s *State, ch *Change) {
				if tk := ch.Tasks[0]; !tk.LeaseDeadline.Equal(deadline) || tk.Progress != 1 || tk.Stage != "transcribe" {
					t.Errorf("task %+v", tk)
				}
				if s.Job.Stage != "transcribe" || ch.Event == nil || ch.Event.Seq != 4 {
					t.Errorf("job stage %q, event %+v", s.Job.Stage, ch.Event)
				}
			}},
		{"heartbeat, any holder", stateWith(TaskLeased), heartbeat("t1", "", 7), nil, TaskLeased, api.JobRunning, true, nil},
		{"heartbeat of a canceled task", stateWith(TaskCanceled), heartbeat("t1", "a1", 7), nil, TaskCanceled, api.JobCanceled, false, nil},
		{"heartbeat, stale token", stateWith(TaskLeased), heartbeat("t1", "a1", 6), ErrStaleLease, TaskLeased, api.JobRunning, false, nil},
		{"heartbeat, other holder", stateWith(TaskLeased), heartbeat("t1", "a2", 7), ErrStaleLease, TaskLeased, api.JobRunning, false, nil},
		{"heartbeat, unknown task", stateWith(TaskLeased), heartbeat("t9", "a1", 7), ErrUnknownTask, TaskLeased, api.JobRunning, false, nil},
		{"complete", stateWith(TaskLeased), complete(7, nil), nil, TaskSucceeded, api.JobSucceeded, true,
			func(t *testing.T, s *State, ch *Change) {
				if s.Job.Result == nil || s.Job.Result.Cached || s.Job.Result.Language != "en" || s.Job.ResultKey != res.Key || ch.CacheKey != "ck" {
					t.Errorf("job %+v, cache key %q", s.Job, ch.CacheKey)
				}
			}},
		{"complete, stale token", stateWith(TaskLeased), complete(8, nil), ErrStaleLease, TaskLeased, api.JobRunning, false, nil},
		{"complete, result refused", stateWith(TaskLeased), complete(7, func(Task, api.TaskResult) error { return errCheck }),
			errCheck, TaskLeased, api.JobRunning, false, nil},
		{"fail, retried", stateWith(TaskLeased), fail(true), nil, TaskQueued, api.JobQueued, true,
			func(t *testing.T, s *State, ch *Change) {
				if !ch.Tasks[0].RunAt.Equal(now.Add(time.Second)) {
					t.Errorf("run at %v", ch.Tasks[0].RunAt)
				}
			}},
		{"fail, permanent: siblings abandoned", stateWith(TaskLeased, TaskQueued), fail(false), nil, TaskFailed, api.JobFailed, true,
			func(t *testing.T, s *State, ch *Change) {
				if len(ch.Tasks) != 2 || ch.Tasks[1].State != TaskCanceled || s.Job.Error.Code != "download_failed" {
					t.Errorf("tasks %+v, job error %+v", ch.Tasks, s.Job.Error)
				}
			}},
		{"release", stateWith(TaskLeased), release, nil, TaskQueued, api.JobQueued, true,
			func(t *testing.T, s *State, ch *Change) {
				if ch.Tasks[0].Attempt != 0 || s.Job.Attempts != 0 {
					t.Errorf("attempt %d, job attempts %d", ch.Tasks[0].Attempt, s.Job.Attempts)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := *tt.state
			before.Tasks = append([]Task(nil), tt.state.Tasks...)
			task, ch, err := tt.report(tt.state)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if tt.wantWrite != (ch != nil) {
				t.Fatalf("change %+v, want one: %v", ch, tt.wantWrite)
			}
			if err != nil || ch == nil {
				if !reflect.DeepEqual(*tt.state, before) {
					t.Errorf("a report that writes nothing changed the state:\n%+v\n%+v", *tt.state, before)
				}
			}
			if err == nil && task.ID == "t1" && task.State != tt.wantState {
				t.Errorf("task is %s, want %s", task.State, tt.wantState)
			}
			if tt.state.Tasks[0].State != tt.wantState || tt.state.Job.Status != tt.wantJob {
				t.Errorf("state: task %s job %s, want %s %s", tt.state.Tasks[0].State, tt.state.Job.Status, tt.wantState, tt.wantJob)
			}
			if ch != nil {
				if !reflect.DeepEqual(ch.Job, tt.state.Job) {
					t.Error("the change's job is not the state's")
				}
				if tt.check != nil {
					tt.check(t, tt.state, ch)
				}
			}
		})
	}
}

// TestJobDecisions: the decisions on a whole job (cancel, retry, lease,
// rescue, an agent's revocation).
func TestJobDecisions(t *testing.T) {
	t.Parallel()
	now := epoch().Add(2 * time.Minute) // past the leases' deadline
	jitter := func() float64 { return 0 }
	expired := func(s *State) (Change, error) {
		_, ch, err := s.Expire([]string{"t1", "t2", "t9"}, policy(), jitter, now)
		return ch, err
	}
	lease := func(s *State) (Change, error) {
		_, ch, err := s.Lease([]string{"t2", "t3", "t4", "t9"}, "a2", api.Capabilities{Engines: []api.EngineCapability{{Name: "pocketsphinx"}}}, now, now.Add(time.Minute))
		return ch, err
	}
	otherAgent := func() *State {
		s := stateWith(TaskLeased, TaskLeased, TaskQueued)
		s.Tasks[1].AgentID = "a2"
		return s
	}
	tests := []struct {
		name    string
		state   *State
		decide  func(*State) (Change, error)
		wantErr error
		want    []TaskState
		wantJob Status
	}{
		{"cancel", stateWith(TaskLeased, TaskQueued, TaskSucceeded), func(s *State) (Change, error) { return s.Cancel(now) },
			nil, []TaskState{TaskCanceled, TaskCanceled, TaskSucceeded}, api.JobCanceled},
		{"cancel a final job", stateWith(TaskSucceeded), func(s *State) (Change, error) { return s.Cancel(now) },
			ErrInvalidState, []TaskState{TaskSucceeded}, api.JobSucceeded},
		{"retry", stateWith(TaskFailed, TaskCanceled, TaskSucceeded), func(s *State) (Change, error) { return s.Retry(now) },
			nil, []TaskState{TaskQueued, TaskQueued, TaskSucceeded}, api.JobRunning},
		{"retry a running job", stateWith(TaskLeased), func(s *State) (Change, error) { return s.Retry(now) },
			ErrInvalidState, []TaskState{TaskLeased}, api.JobRunning},
		{"lease the named queued tasks the agent can run", func() *State {
			s := stateWith(TaskQueued, TaskLeased, TaskQueued, TaskQueued)
			s.Tasks[3].Requires.Engine = "whisper-cpp"
			return s
		}(), lease, nil, []TaskState{TaskQueued, TaskLeased, TaskLeased, TaskQueued}, api.JobRunning},
		{"rescue the named expired leases", stateWith(TaskLeased, TaskQueued, TaskLeased), expired,
			nil, []TaskState{TaskQueued, TaskQueued, TaskLeased}, api.JobRunning},
		{"release a revoked agent's tasks", otherAgent(), func(s *State) (Change, error) { return s.ReleaseAgent("a1", now) },
			nil, []TaskState{TaskQueued, TaskLeased, TaskQueued}, api.JobRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ch, err := tt.decide(tt.state)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			for i, s := range tt.want {
				if tt.state.Tasks[i].State != s {
					t.Errorf("task %d is %s, want %s", i+1, tt.state.Tasks[i].State, s)
				}
			}
			if tt.state.Job.Status != tt.wantJob {
				t.Errorf("job is %s, want %s", tt.state.Job.Status, tt.wantJob)
			}
			if err == nil && !reflect.DeepEqual(ch.Job, tt.state.Job) {
				t.Errorf("the change's job is not the state's: %+v", ch.Job)
			}
		})
	}
}
