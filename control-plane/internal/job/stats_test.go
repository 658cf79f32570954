package job

import (
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// TestChangeStats follows one job through its life and checks what each
// change adds to the statistics.
func TestChangeStats(t *testing.T) {
	t.Parallel()
	t0 := epoch()
	dur := func(d time.Duration) *time.Duration { return &d }
	st := New(Job{ID: "j1", Tenant: "acme", CreatedAt: t0}, []Task{{ID: "t1", Kind: KindCaption, MaxAttempts: 3}})
	caps := api.Capabilities{}
	policy := RetryPolicy{MaxAttempts: 3, BaseDelay: time.Second, MaxDelay: time.Second}
	res := api.TaskResult{Key: "r", Result: api.Result{Duration: 60}}

	steps := []struct {
		name string
		do   func() (Change, error)
		want StatsDelta
	}{
		{"submitted", func() (Change, error) { return st.Create() },
			StatsDelta{Tenant: "acme", At: t0, From: "", To: api.JobQueued}},
		{"first lease: queue wait", func() (Change, error) {
			_, ch, err := st.Lease([]string{"t1"}, "a1", caps, t0.Add(5*time.Second), t0.Add(time.Minute))
			return ch, err
		}, StatsDelta{Tenant: "acme", At: t0.Add(5 * time.Second), From: api.JobQueued, To: api.JobRunning, QueueWait: dur(5 * time.Second)}},
		{"retryable failure: the agent's failed lease", func() (Change, error) {
			_, ch, err := st.Fail(Failure{TaskID: "t1", Holder: "a1", Token: st.Tasks[0].Token, Retryable: true, Policy: policy,
				Error: api.Error{Code: api.CodeDownloadFailed}, Now: t0.Add(10 * time.Second)})
			return *ch, err
		}, StatsDelta{Tenant: "acme", At: t0.Add(10 * time.Second), From: api.JobRunning, To: api.JobQueued,
			Agents: []AgentDelta{{AgentID: "a1", Failed: 1}}}},
		{"second lease: no second queue wait", func() (Change, error) {
			_, ch, err := st.Lease([]string{"t1"}, "a2", caps, t0.Add(20*time.Second), t0.Add(time.Minute))
			return ch, err
		}, StatsDelta{Tenant: "acme", At: t0.Add(20 * time.Second), From: api.JobQueued, To: api.JobRunning}},
		{"succeeded: processing from the last attempt's lease, audio", func() (Change, error) {
			_, ch, err := st.Complete(Completion{TaskID: "t1", Holder: "a2", Token: st.Tasks[0].Token, Result: res, Now: t0.Add(65 * time.Second)})
			return *ch, err
		}, StatsDelta{Tenant: "acme", At: t0.Add(65 * time.Second), From: api.JobRunning, To: api.JobSucceeded,
			Processing: dur(45 * time.Second), AudioSeconds: 60, RunSeconds: 45, Agents: []AgentDelta{{AgentID: "a2", Succeeded: 1}}}},
	}
	for _, s := range steps {
		ch, err := s.do()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !sameDelta(ch.Stats, s.want) {
			t.Fatalf("%s: stats = %s, want %s", s.name, fmtDelta(ch.Stats), fmtDelta(s.want))
		}
	}

	// Canceled while queued: finished, never ran.
	q := New(Job{ID: "j2", Tenant: "acme", CreatedAt: t0}, []Task{{ID: "t2", Kind: KindCaption}})
	if _, err := q.Create(); err != nil {
		t.Fatal(err)
	}
	ch, err := q.Cancel(t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := StatsDelta{Tenant: "acme", At: t0.Add(time.Second), From: api.JobQueued, To: api.JobCanceled}
	if !sameDelta(ch.Stats, want) {
		t.Fatalf("cancel queued: stats = %s, want %s", fmtDelta(ch.Stats), fmtDelta(want))
	}

	// Failed for good: the job's error code counts; a retryable failure
	// above (the job requeued) did not.
	f := New(Job{ID: "j3", Tenant: "acme", CreatedAt: t0}, []Task{{ID: "t3", Kind: KindCaption, MaxAttempts: 1}})
	if _, err := f.Create(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Lease([]string{"t3"}, "a1", caps, t0, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, fch, err := f.Fail(Failure{TaskID: "t3", Holder: "a1", Token: f.Tasks[0].Token, Policy: policy,
		Error: api.Error{Code: api.CodeUndecodable}, Now: t0.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if fch.Stats.To != api.JobFailed || fch.Stats.ErrorCode != api.CodeUndecodable {
		t.Fatalf("failed for good: stats = %s, error code %q; want failed with %q", fmtDelta(fch.Stats), fch.Stats.ErrorCode, api.CodeUndecodable)
	}
}

func TestFleet(t *testing.T) {
	t.Parallel()
	now := epoch()
	tests := []struct {
		name   string
		agents []AgentLoad
		want   FleetLoad
	}{
		{"none", nil, FleetLoad{}},
		{"online agents count their tasks and slots", []AgentLoad{
			{Slots: 4, ActiveTasks: 3, LastSeen: now},
			{Slots: 2, ActiveTasks: 0, LastSeen: now.Add(-OfflineAfter)},
		}, FleetLoad{Agents: 2, Online: 2, Busy: 3, Slots: 6}},
		{"offline agents count as agents only", []AgentLoad{
			{Slots: 4, ActiveTasks: 1, LastSeen: now.Add(-OfflineAfter - time.Second)},
			{Slots: 1, ActiveTasks: 1, LastSeen: now},
		}, FleetLoad{Agents: 2, Online: 1, Busy: 1, Slots: 1}},
		{"revoked agents not at all", []AgentLoad{{Slots: 4, ActiveTasks: 1, LastSeen: now, Revoked: true}}, FleetLoad{}},
	}
	for _, tt := range tests {
		if got := Fleet(tt.agents, now); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func sameDelta(a, b StatsDelta) bool {
	eqDur := func(x, y *time.Duration) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	if a.Tenant != b.Tenant || !a.At.Equal(b.At) || a.From != b.From || a.To != b.To || !eqDur(a.QueueWait, b.QueueWait) ||
		!eqDur(a.Processing, b.Processing) || a.AudioSeconds != b.AudioSeconds || a.RunSeconds != b.RunSeconds || len(a.Agents) != len(b.Agents) ||
		a.ErrorCode != b.ErrorCode {
		return false
	}
	for i := range a.Agents {
		if a.Agents[i] != b.Agents[i] {
			return false
		}
	}
	return true
}

func fmtDelta(d StatsDelta) string {
	s := func(p *time.Duration) string {
		if p == nil {
			return "-"
		}
		return p.String()
	}
	return "{" + string(d.From) + "→" + string(d.To) + " at " + d.At.Format(time.TimeOnly) + " wait " + s(d.QueueWait) +
		" proc " + s(d.Processing) + " audio " + time.Duration(d.AudioSeconds*float64(time.Second)).String() +
		" agents " + func() string {
		out := ""
		for _, a := range d.Agents {
			out += a.AgentID + "+" + string(rune('0'+a.Succeeded)) + "/-" + string(rune('0'+a.Failed)) + " "
		}
		return out
	}() + "}"
}

func TestHistQuantile(t *testing.T) {
	t.Parallel()
	h := make([]int64, HistBins)
	h[HistBin(10*time.Second)] = 100 // bin 7: (6.4, 12.8]
	tests := []struct {
		q    float64
		want float64
	}{
		{0.5, 9.6}, {1, 12.8}, {0.01, 6.464},
	}
	for _, tt := range tests {
		if got := HistQuantile(h, tt.q); got < tt.want-1e-9 || got > tt.want+1e-9 {
			t.Errorf("q%.2f = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := HistQuantile(make([]int64, HistBins), 0.5); got != 0 {
		t.Errorf("empty histogram: %v, want 0", got)
	}
	if HistBin(0) != 0 || HistBin(100*time.Hour) != HistBins-1 {
		t.Errorf("bins of 0 and 100 h: %d, %d", HistBin(0), HistBin(100*time.Hour))
	}
}
