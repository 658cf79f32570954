package job

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

func epoch() time.Time { return time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC) }

// taskIn is a task in state s as the store would hold it: a leased task has
// a live lease by agent "a1" with token 7 on its first attempt.
func taskIn(s TaskState) Task {
	t0 := epoch()
	t := Task{
		ID: "t1", JobID: "j1", Tenant: "acme", Kind: KindCaption, State: s, Priority: 5,
		MaxAttempts: 3, RunAt: t0, CreatedAt: t0, UpdatedAt: t0,
	}
	switch s {
	case TaskLeased:
		t.Token, t.Attempt, t.AgentID = 7, 1, "a1"
		t.LeaseDeadline = t0.Add(time.Minute)
		t.Stage, t.Progress = "download", 0.3
	case TaskSucceeded, TaskFailed, TaskCanceled:
		t.Token, t.Attempt, t.AgentID = 7, 1, "a1"
	}
	return t
}

// withoutRuns is t without its run history, which runs_test.go checks:
// the transition tables here are about the other fields.
func withoutRuns(t Task) Task {
	t.Runs = nil
	return t
}

func allTaskStates() []TaskState {
	return []TaskState{TaskQueued, TaskLeased, TaskSucceeded, TaskFailed, TaskCanceled}
}

func policy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 3, BaseDelay: 2 * time.Second, MaxDelay: time.Minute}
}

// unchanged fails the test unless a rejected transition returned its input.
func unchanged(t *testing.T, got, in Task) {
	t.Helper()
	if !reflect.DeepEqual(got, in) {
		t.Errorf("rejected transition changed the task:\ngot  %+v\nwant %+v", got, in)
	}
}

func TestTaskStateFinal(t *testing.T) {
	t.Parallel()
	want := map[TaskState]bool{TaskQueued: false, TaskLeased: false, TaskSucceeded: true, TaskFailed: true, TaskCanceled: true}
	for s, final := range want {
		if s.Final() != final {
			t.Errorf("%s.Final() = %v", s, s.Final())
		}
	}
}

func TestCheckToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		task  Task
		token int64
		want  error
	}{
		{"current lease", taskIn(TaskLeased), 7, nil},
		{"older token", taskIn(TaskLeased), 6, ErrStaleLease},
		{"newer token", taskIn(TaskLeased), 8, ErrStaleLease},
		{"zero token", taskIn(TaskLeased), 0, ErrStaleLease},
		{"queued with the last token", taskIn(TaskSucceeded), 7, ErrStaleLease},
		{"canceled with the last token", taskIn(TaskCanceled), 7, ErrStaleLease},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := CheckToken(tt.task, tt.token); !errors.Is(err, tt.want) {
				t.Errorf("CheckToken = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLease(t *testing.T) {
	t.Parallel()
	now := epoch().Add(10 * time.Second)
	deadline := now.Add(time.Minute)
	future := taskIn(TaskQueued)
	future.RunAt = now.Add(time.Millisecond)
	due := taskIn(TaskQueued)
	due.RunAt = now
	retried := taskIn(TaskQueued) // waiting for its second attempt
	retried.Token, retried.Attempt, retried.AgentID, retried.Stage, retried.Progress = 4, 1, "old", "extract", 0.6
	tests := []struct {
		name string
		in   Task
		want error
	}{
		{"queued", taskIn(TaskQueued), nil},
		{"queued, due exactly now", due, nil},
		{"queued for a retry", retried, nil},
		{"queued, backing off", future, ErrInvalidState},
		{"leased", taskIn(TaskLeased), ErrInvalidState},
		{"succeeded", taskIn(TaskSucceeded), ErrInvalidState},
		{"failed", taskIn(TaskFailed), ErrInvalidState},
		{"canceled", taskIn(TaskCanceled), ErrInvalidState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Lease(tt.in, "a2", now, deadline)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Lease = %v, want %v", err, tt.want)
			}
			if err != nil {
				unchanged(t, got, tt.in)
				return
			}
			want := tt.in
			want.State, want.AgentID, want.LeaseDeadline, want.UpdatedAt, want.StartedAt = TaskLeased, "a2", deadline, now, now
			want.Token, want.Attempt = tt.in.Token+1, tt.in.Attempt+1
			want.Stage, want.Progress = "", 0
			if !reflect.DeepEqual(withoutRuns(got), withoutRuns(want)) {
				t.Errorf("Lease:\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestExtend(t *testing.T) {
	t.Parallel()
	now := epoch().Add(30 * time.Second)
	in := taskIn(TaskLeased)
	tests := []struct {
		name         string
		in           Task
		token        int64
		deadline     time.Time
		want         error
		wantDeadline time.Time
	}{
		{"pushes the deadline", in, 7, in.LeaseDeadline.Add(time.Minute), nil, in.LeaseDeadline.Add(time.Minute)},
		{"never shortens it", in, 7, in.LeaseDeadline.Add(-time.Second), nil, in.LeaseDeadline},
		{"stale token", in, 6, in.LeaseDeadline.Add(time.Minute), ErrStaleLease, time.Time{}},
		{"after cancel", taskIn(TaskCanceled), 7, in.LeaseDeadline.Add(time.Minute), ErrStaleLease, time.Time{}},
		{"after completion", taskIn(TaskSucceeded), 7, in.LeaseDeadline.Add(time.Minute), ErrStaleLease, time.Time{}},
		{"queued", taskIn(TaskQueued), 0, in.LeaseDeadline.Add(time.Minute), ErrStaleLease, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Extend(tt.in, tt.token, now, tt.deadline)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Extend = %v, want %v", err, tt.want)
			}
			if err != nil {
				unchanged(t, got, tt.in)
				return
			}
			want := tt.in
			want.LeaseDeadline, want.UpdatedAt = tt.wantDeadline, now
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Extend:\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestComplete(t *testing.T) {
	t.Parallel()
	now := epoch().Add(40 * time.Second)
	res := api.TaskResult{Key: "results/j1.json", Size: 123, Result: api.Result{Segments: 4, Words: 20}}
	withErr := taskIn(TaskLeased)
	withErr.LastError = &api.Error{Code: api.CodeLeaseExpired, Message: "earlier attempt"}
	tests := []struct {
		name  string
		in    Task
		token int64
		want  error
	}{
		{"current lease", taskIn(TaskLeased), 7, nil},
		{"clears an earlier attempt's error", withErr, 7, nil},
		{"stale token", taskIn(TaskLeased), 6, ErrStaleLease},
		{"twice", taskIn(TaskSucceeded), 7, ErrStaleLease},
		{"after cancel", taskIn(TaskCanceled), 7, ErrStaleLease},
		{"after failure", taskIn(TaskFailed), 7, ErrStaleLease},
		{"queued", taskIn(TaskQueued), 0, ErrStaleLease},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Complete(tt.in, tt.token, res, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Complete = %v, want %v", err, tt.want)
			}
			if err != nil {
				unchanged(t, got, tt.in)
				return
			}
			want := tt.in
			want.State, want.Result, want.LastError, want.Progress, want.UpdatedAt = TaskSucceeded, &res, nil, 1, now
			if !reflect.DeepEqual(withoutRuns(got), withoutRuns(want)) {
				t.Errorf("Complete:\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestFail(t *testing.T) {
	t.Parallel()
	now := epoch().Add(50 * time.Second)
	e := api.Error{Code: api.CodeDownloadFailed, Message: "HTTP 403"}
	atAttempt := func(n, max int) Task {
		t := taskIn(TaskLeased)
		t.Attempt, t.MaxAttempts = n, max
		return t
	}
	gaveUp := func(n int) *api.Error {
		return &api.Error{Code: api.CodeMaxAttempts, Message: fmt.Sprintf("gave up after %d attempts; last error: download_failed: HTTP 403", n)}
	}
	tests := []struct {
		name      string
		in        Task
		token     int64
		retryable bool
		policy    RetryPolicy
		want      error
		wantState TaskState
		wantErr   *api.Error
	}{
		{"retryable, attempts left", atAttempt(1, 3), 7, true, policy(), nil, TaskQueued, &e},
		{"retryable, second of three", atAttempt(2, 3), 7, true, policy(), nil, TaskQueued, &e},
		{"retryable, last attempt", atAttempt(3, 3), 7, true, policy(), nil, TaskFailed, gaveUp(3)},
		{"retryable, beyond the limit", atAttempt(5, 3), 7, true, policy(), nil, TaskFailed, gaveUp(5)},
		{"permanent, attempts left", atAttempt(1, 3), 7, false, policy(), nil, TaskFailed, &e},
		{"permanent, last attempt", atAttempt(3, 3), 7, false, policy(), nil, TaskFailed, &e},
		{"task limit wins over the policy", atAttempt(3, 5), 7, true, policy(), nil, TaskQueued, &e},
		{"task limit lower than the policy", atAttempt(1, 1), 7, true, policy(), nil, TaskFailed, gaveUp(1)},
		{"policy limit when the task has none", atAttempt(3, 0), 7, true, policy(), nil, TaskFailed, gaveUp(3)},
		{"policy allows more", atAttempt(3, 0), 7, true, RetryPolicy{MaxAttempts: 4, BaseDelay: time.Second, MaxDelay: time.Minute}, nil, TaskQueued, &e},
		{"stale token", atAttempt(1, 3), 6, true, policy(), ErrStaleLease, "", nil},
		{"not leased", taskIn(TaskSucceeded), 7, true, policy(), ErrStaleLease, "", nil},
		{"canceled", taskIn(TaskCanceled), 7, false, policy(), ErrStaleLease, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const jitter = 0.25
			got, err := Fail(tt.in, tt.token, e, tt.retryable, tt.policy, now, jitter)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Fail = %v, want %v", err, tt.want)
			}
			if err != nil {
				unchanged(t, got, tt.in)
				return
			}
			want := tt.in
			want.State, want.LastError, want.UpdatedAt = tt.wantState, tt.wantErr, now
			if tt.wantState == TaskQueued {
				want.RunAt = now.Add(tt.policy.Delay(tt.in.Attempt, jitter))
			}
			if !reflect.DeepEqual(withoutRuns(got), withoutRuns(want)) {
				t.Errorf("Fail:\ngot  %+v\nwant %+v", got, want)
			}
			if got.Attempt != tt.in.Attempt || got.Token != tt.in.Token {
				t.Errorf("Fail changed attempt or token: %d/%d", got.Attempt, got.Token)
			}
		})
	}
}

func TestExpire(t *testing.T) {
	t.Parallel()
	in := taskIn(TaskLeased)
	after := in.LeaseDeadline.Add(time.Millisecond)
	last := taskIn(TaskLeased)
	last.Attempt = 3
	tests := []struct {
		name      string
		in        Task
		now       time.Time
		want      error
		wantState TaskState
		wantCode  string
	}{
		{"deadline passed", in, after, nil, TaskQueued, api.CodeLeaseExpired},
		{"deadline passed on the last attempt", last, after, nil, TaskFailed, api.CodeMaxAttempts},
		{"deadline is now", in, in.LeaseDeadline, ErrInvalidState, "", ""},
		{"deadline ahead", in, in.LeaseDeadline.Add(-time.Second), ErrInvalidState, "", ""},
		{"queued", taskIn(TaskQueued), after, ErrInvalidState, "", ""},
		{"succeeded", taskIn(TaskSucceeded), after, ErrInvalidState, "", ""},
		{"canceled", taskIn(TaskCanceled), after, ErrInvalidState, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Expire(tt.in, policy(), tt.now, 0.5)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Expire = %v, want %v", err, tt.want)
			}
			if err != nil {
				unchanged(t, got, tt.in)
				return
			}
			if got.State != tt.wantState || got.LastError == nil || got.LastError.Code != tt.wantCode {
				t.Fatalf("Expire: state %s error %+v, want %s %s", got.State, got.LastError, tt.wantState, tt.wantCode)
			}
			if !strings.Contains(got.LastError.Message, "agent a1") {
				t.Errorf("error message %q does not name the agent", got.LastError.Message)
			}
			if tt.wantState == TaskQueued && !got.RunAt.Equal(tt.now.Add(policy().Delay(tt.in.Attempt, 0.5))) {
				t.Errorf("RunAt %v, want backoff from %v", got.RunAt, tt.now)
			}
			if tt.wantState == TaskFailed && !strings.Contains(got.LastError.Message, api.CodeLeaseExpired) {
				t.Errorf("max-attempts message %q lacks the last error", got.LastError.Message)
			}
		})
	}
}

func TestRelease(t *testing.T) {
	t.Parallel()
	now := epoch().Add(20 * time.Second)
	second := taskIn(TaskLeased)
	second.Attempt = 2
	odd := taskIn(TaskLeased) // a leased task always has Attempt >= 1; guard anyway
	odd.Attempt = 0
	tests := []struct {
		name        string
		in          Task
		token       int64
		want        error
		wantAttempt int
	}{
		{"first attempt", taskIn(TaskLeased), 7, nil, 0},
		{"second attempt", second, 7, nil, 1},
		{"attempt never below zero", odd, 7, nil, 0},
		{"stale token", taskIn(TaskLeased), 3, ErrStaleLease, 0},
		{"queued", taskIn(TaskQueued), 0, ErrStaleLease, 0},
		{"canceled", taskIn(TaskCanceled), 7, ErrStaleLease, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Release(tt.in, tt.token, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Release = %v, want %v", err, tt.want)
			}
			if err != nil {
				unchanged(t, got, tt.in)
				return
			}
			want := tt.in
			want.State, want.RunAt, want.Attempt, want.UpdatedAt = TaskQueued, now, tt.wantAttempt, now
			if !reflect.DeepEqual(withoutRuns(got), withoutRuns(want)) {
				t.Errorf("Release:\ngot  %+v\nwant %+v", got, want)
			}
			// Leasable again at once, with a newer token.
			again, err := Lease(got, "a2", now, now.Add(time.Minute))
			if err != nil || again.Token <= tt.in.Token {
				t.Errorf("lease after release: token %d, err %v", again.Token, err)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	now := epoch().Add(time.Hour)
	canceled := &api.Error{Code: api.CodeCanceled, Message: "canceled by request"}
	for _, s := range allTaskStates() {
		t.Run(string(s), func(t *testing.T) {
			t.Parallel()
			in := taskIn(s)
			got, err := Cancel(in, now)
			if s.Final() {
				if !errors.Is(err, ErrInvalidState) {
					t.Fatalf("Cancel(%s) = %v, want ErrInvalidState", s, err)
				}
				unchanged(t, got, in)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := in
			want.State, want.LastError, want.UpdatedAt = TaskCanceled, canceled, now
			if !reflect.DeepEqual(withoutRuns(got), withoutRuns(want)) {
				t.Errorf("Cancel:\ngot  %+v\nwant %+v", got, want)
			}
			// The holder keeps its token: the store tells it "canceled" rather than "stale".
			if got.Token != in.Token || got.AgentID != in.AgentID {
				t.Errorf("Cancel dropped the lease holder: token %d agent %q", got.Token, got.AgentID)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	t.Parallel()
	now := epoch().Add(2 * time.Hour)
	for _, s := range allTaskStates() {
		t.Run(string(s), func(t *testing.T) {
			t.Parallel()
			in := taskIn(s)
			in.Attempt = 3
			in.LastError = &api.Error{Code: api.CodeMaxAttempts, Message: "x"}
			in.Result = &api.TaskResult{Key: "k"}
			in.Stage, in.Progress = "transcribe", 0.8
			got, err := Retry(in, now)
			if s != TaskFailed && s != TaskCanceled {
				if !errors.Is(err, ErrInvalidState) {
					t.Fatalf("Retry(%s) = %v, want ErrInvalidState", s, err)
				}
				unchanged(t, got, in)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := in
			want.State, want.Attempt, want.RunAt, want.UpdatedAt = TaskQueued, 0, now, now
			want.LastError, want.Result, want.Stage, want.Progress = nil, nil, "", 0
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Retry:\ngot  %+v\nwant %+v", got, want)
			}
			again, err := Lease(got, "a9", now, now.Add(time.Minute))
			if err != nil || again.Attempt != 1 || again.Token <= in.Token {
				t.Errorf("lease after retry: attempt %d token %d err %v", again.Attempt, again.Token, err)
			}
		})
	}
}

// TestLifecycle walks one task through the states a real run takes and
// checks the fencing token and attempt counter at every step.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	p := policy()
	now := epoch()
	tk := taskIn(TaskQueued)
	step := func(name string, f func() (Task, error)) {
		t.Helper()
		next, err := f()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tk = next
	}
	var tokens []int64
	lease := func(agent string) {
		t.Helper()
		step("lease by "+agent, func() (Task, error) { return Lease(tk, agent, now, now.Add(time.Minute)) })
		tokens = append(tokens, tk.Token)
	}
	lease("a1")
	step("release", func() (Task, error) { return Release(tk, tk.Token, now) })
	lease("a2")
	if tk.Attempt != 1 {
		t.Fatalf("attempt %d after a release and a lease, want 1", tk.Attempt)
	}
	stale := tk.Token
	now = tk.LeaseDeadline.Add(time.Second)
	step("expire", func() (Task, error) { return Expire(tk, p, now, 0) })
	now = tk.RunAt
	lease("a3")
	if _, err := Complete(tk, stale, api.TaskResult{}, now); !errors.Is(err, ErrStaleLease) {
		t.Fatalf("completion by the rescued agent: %v, want ErrStaleLease", err)
	}
	step("fail", func() (Task, error) {
		return Fail(tk, tk.Token, api.Error{Code: api.CodeDownloadFailed, Message: "503"}, true, p, now, 0)
	})
	now = tk.RunAt
	lease("a4")
	step("fail for good", func() (Task, error) {
		return Fail(tk, tk.Token, api.Error{Code: api.CodeDownloadFailed, Message: "503"}, true, p, now, 0)
	})
	if tk.State != TaskFailed || tk.LastError.Code != api.CodeMaxAttempts || tk.Attempt != 3 {
		t.Fatalf("after three attempts: %+v", tk)
	}
	step("retry", func() (Task, error) { return Retry(tk, now) })
	lease("a5")
	step("complete", func() (Task, error) { return Complete(tk, tk.Token, api.TaskResult{Key: "k"}, now) })
	if tk.State != TaskSucceeded || tk.Attempt != 1 {
		t.Fatalf("final: %+v", tk)
	}
	for i := 1; i < len(tokens); i++ {
		if tokens[i] <= tokens[i-1] {
			t.Fatalf("tokens not increasing: %v", tokens)
		}
	}
}

func TestRetryPolicyDelay(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{MaxAttempts: 5, BaseDelay: 2 * time.Second, MaxDelay: 5 * time.Minute}
	tests := []struct {
		name    string
		p       RetryPolicy
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{"first, no jitter", p, 1, 0, time.Second},
		{"first, half jitter", p, 1, 0.5, 1500 * time.Millisecond},
		{"second", p, 2, 0, 2 * time.Second},
		{"third", p, 3, 0, 4 * time.Second},
		{"attempt 0 counts as 1", p, 0, 0, time.Second},
		{"negative attempt counts as 1", p, -4, 0, time.Second},
		{"capped", p, 20, 0, 150 * time.Second},
		{"capped, full jitter", p, 20, 1, 5 * time.Minute},
		{"overflowing exponent is capped", p, 5000, 0.5, 225 * time.Second},
		{"jitter below 0 is clamped", p, 2, -3, 2 * time.Second},
		{"jitter above 1 is clamped", p, 2, 7, 4 * time.Second},
		{"zero base", RetryPolicy{MaxDelay: time.Minute}, 3, 0.5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.Delay(tt.attempt, tt.jitter); got != tt.want {
				t.Errorf("Delay(%d, %v) = %v, want %v", tt.attempt, tt.jitter, got, tt.want)
			}
		})
	}
}

func TestRetryPolicyDelayProperties(t *testing.T) {
	t.Parallel()
	policies := []RetryPolicy{
		DefaultRetryPolicy(),
		{MaxAttempts: 10, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
		{MaxAttempts: 10, BaseDelay: 3 * time.Second, MaxDelay: time.Hour},
		{MaxAttempts: 10, BaseDelay: time.Minute, MaxDelay: time.Second}, // base above the cap
	}
	for _, p := range policies {
		for _, jitter := range []float64{0, 0.1, 0.5, 0.999} {
			prev := time.Duration(0)
			for attempt := 1; attempt <= 200; attempt++ {
				got := p.Delay(attempt, jitter)
				d := min(float64(p.BaseDelay)*float64(uint64(1)<<min(attempt-1, 62)), float64(p.MaxDelay))
				if got < prev {
					t.Fatalf("%+v jitter %v: Delay(%d) = %v, below Delay(%d) = %v", p, jitter, attempt, got, attempt-1, prev)
				}
				if got > p.MaxDelay {
					t.Fatalf("%+v: Delay(%d) = %v above MaxDelay", p, attempt, got)
				}
				if float64(got) < d/2-1 || float64(got) > d+1 {
					t.Fatalf("%+v jitter %v: Delay(%d) = %v, want within [%v, %v]", p, jitter, attempt, got, time.Duration(d/2), time.Duration(d))
				}
				prev = got
			}
		}
	}
}

func TestDefaultRetryPolicy(t *testing.T) {
	t.Parallel()
	p := DefaultRetryPolicy()
	if p.MaxAttempts < 1 || p.BaseDelay <= 0 || p.MaxDelay < p.BaseDelay {
		t.Errorf("DefaultRetryPolicy() = %+v is not usable", p)
	}
}

func TestJobStatusChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s                 Status
		canRetry, canStop bool
	}{
		{api.JobQueued, false, true},
		{api.JobRunning, false, true},
		{api.JobSucceeded, false, false},
		{api.JobFailed, true, false},
		{api.JobCanceled, true, false},
	}
	for _, tt := range tests {
		if got := CanRetryJob(tt.s); got != tt.canRetry {
			t.Errorf("CanRetryJob(%s) = %v", tt.s, got)
		}
		if got := CanCancelJob(tt.s); got != tt.canStop {
			t.Errorf("CanCancelJob(%s) = %v", tt.s, got)
		}
	}
}
