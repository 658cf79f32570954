package fleet

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	p := Policy{Min: 1, Max: 8, UpPerAgent: 4, DownPerAgent: 1, MaxQueueAge: 2 * time.Minute,
		UpCooldown: time.Minute, DownCooldown: 5 * time.Minute, MaxStep: 3}
	long := now.Add(-time.Hour)
	tests := []struct {
		name       string
		o          Observation
		to         int
		reasonPart string
	}{
		{"below min ignores cooldown", Observation{Current: 0, LastChange: now}, 1, "below minimum"},
		{"above max", Observation{Current: 12, LastChange: now}, 8, "above maximum"},
		{"queue long scales up", Observation{Current: 2, Queued: 12, LastChange: long}, 3, "per agent > 4.0"},
		{"step is bounded", Observation{Current: 2, Queued: 40, LastChange: long}, 5, "queued"},
		{"max bounds scale-up", Observation{Current: 7, Queued: 100, LastChange: long}, 8, "queued"},
		{"at max holds", Observation{Current: 8, Queued: 100, LastChange: long}, 8, "at maximum"},
		{"up cooldown holds", Observation{Current: 2, Queued: 12, LastChange: now.Add(-30 * time.Second)}, 2, "scale-up cooling down"},
		{"up cooldown over", Observation{Current: 2, Queued: 12, LastChange: now.Add(-61 * time.Second)}, 3, "queued"},
		{"old job scales up a short queue", Observation{Current: 2, Queued: 1, OldestAge: 3 * time.Minute, LastChange: long}, 3, "oldest queued job waited 3m0s"},
		{"hysteresis band holds", Observation{Current: 4, Queued: 10, LastChange: long}, 4, "within band"},
		{"just above down threshold holds", Observation{Current: 4, Queued: 5, LastChange: long}, 4, "within band"},
		{"idle scales down one step", Observation{Current: 4, Queued: 0, LastChange: long}, 3, "0 queued"},
		{"down cooldown holds", Observation{Current: 4, Queued: 0, LastChange: now.Add(-4 * time.Minute)}, 4, "scale-down cooling down"},
		{"min holds", Observation{Current: 1, Queued: 0, LastChange: long}, 1, "within band"},
		{"never scaled: no cooldown", Observation{Current: 2, Queued: 9}, 3, "queued"},
		{"zero agents with work", Observation{Current: 0, Queued: 1}, 1, "below minimum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.o.Now = now
			d := Decide(p, tt.o)
			if d.To != tt.to || d.From != tt.o.Current || !strings.Contains(d.Reason, tt.reasonPart) {
				t.Fatalf("Decide = %+v, want to=%d reason ~%q", d, tt.to, tt.reasonPart)
			}
		})
	}
}

func TestDecideZeroMin(t *testing.T) {
	t.Parallel()
	p := Policy{Min: 0, Max: 3, UpPerAgent: 2, DownPerAgent: 0.5}
	d := Decide(p, Observation{Current: 0, Queued: 1, Now: time.Now()})
	if d.To != 1 {
		t.Fatalf("scale from zero: %+v", d)
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p  Policy
		ok bool
	}{
		{DefaultPolicy(), true},
		{Policy{Min: 3, Max: 2, UpPerAgent: 2, DownPerAgent: 1}, false},
		{Policy{Min: 0, Max: 2, UpPerAgent: 1, DownPerAgent: 1}, false},
		{Policy{Min: -1, Max: 2, UpPerAgent: 2}, false},
	}
	for _, tt := range tests {
		if err := tt.p.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v", tt.p, err)
		}
	}
}

type fakeQueue struct {
	n   int
	age time.Duration
}

func (q *fakeQueue) QueueStats(context.Context, time.Time) (int, time.Duration, error) {
	return q.n, q.age, nil
}

type fakeLeader struct{ leader bool }

func (l fakeLeader) AcquireLeadership(context.Context, string, string, time.Time, time.Duration) (bool, error) {
	return l.leader, nil
}

func TestAutoscalerTickScalesThroughNomad(t *testing.T) {
	t.Parallel()
	f, srv := newFakeNomad(t)
	n, err := NewNomad(NomadConfig{Addr: srv.URL, Token: "nomad-token"})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q := &fakeQueue{n: 20}
	a, err := NewAutoscaler(AutoscalerConfig{Job: "ytcaption-agent-cpu", Group: "agent", Policy: DefaultPolicy(), Holder: "r1"},
		q, n, fakeLeader{true}, func() time.Time { return clock }, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := a.Tick(ctx)
	if err != nil || d.From != 2 || d.To != 5 {
		t.Fatalf("first tick %+v %v", d, err)
	}
	// Within the cooldown nothing changes even though the queue is still long.
	clock = clock.Add(10 * time.Second)
	if d, _ := a.Tick(ctx); d.To != 5 || d.From != 5 {
		t.Fatalf("cooldown tick %+v", d)
	}
	// Queue drained and the down cooldown passed: one step down.
	q.n = 0
	clock = clock.Add(10 * time.Minute)
	if d, _ := a.Tick(ctx); d.To != 4 {
		t.Fatalf("down tick %+v", d)
	}
	decs := a.Decisions()
	if len(decs) != 2 || decs[0].From != 2 || decs[0].To != 5 || !decs[0].Applied || decs[1].To != 4 {
		t.Fatalf("decisions %+v", decs)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.scales) != 2 || !strings.HasPrefix(f.scales[0]["Message"].(string), "ytcaption autoscaler: ") {
		t.Fatalf("scaling requests %v", f.scales)
	}
	if m := f.scales[0]["Meta"].(map[string]any); m["from"].(float64) != 2 || m["to"].(float64) != 5 {
		t.Fatalf("meta %v", m)
	}
}

func TestAutoscalerFollowerDoesNothing(t *testing.T) {
	t.Parallel()
	f, srv := newFakeNomad(t)
	n, _ := NewNomad(NomadConfig{Addr: srv.URL, Token: "nomad-token"})
	a, err := NewAutoscaler(AutoscalerConfig{Job: "ytcaption-agent-cpu", Group: "agent", Policy: DefaultPolicy()},
		&fakeQueue{n: 100}, n, fakeLeader{false}, time.Now, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if d, err := a.Tick(context.Background()); err != nil || d.Reason != "not the leader" {
		t.Fatalf("%+v %v", d, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.scales) != 0 {
		t.Fatal("a follower scaled")
	}
}

type pagedJobs struct {
	pages [][]job.Job
	err   error
}

func (p pagedJobs) ListJobs(_ context.Context, f store.JobFilter) ([]job.Job, string, error) {
	if p.err != nil {
		return nil, "", p.err
	}
	i := 0
	if f.Cursor != "" {
		i = int(f.Cursor[0] - '0')
	}
	next := ""
	if i+1 < len(p.pages) {
		next = string(rune('0' + i + 1))
	}
	return p.pages[i], next, nil
}

func TestStoreQueue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 10, 0, 0, time.UTC)
	at := func(m int) job.Job { return job.Job{CreatedAt: now.Add(-time.Duration(m) * time.Minute)} }
	tests := []struct {
		name   string
		jobs   pagedJobs
		n      int
		oldest time.Duration
		err    bool
	}{
		{"empty", pagedJobs{pages: [][]job.Job{nil}}, 0, 0, false},
		{"two pages", pagedJobs{pages: [][]job.Job{{at(1), at(2)}, {at(7)}}}, 3, 7 * time.Minute, false},
		{"error", pagedJobs{err: errors.New("db down")}, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, oldest, err := StoreQueue{Jobs: tt.jobs}.QueueStats(context.Background(), now)
			if (err != nil) != tt.err || n != tt.n || oldest != tt.oldest {
				t.Fatalf("got %d %s %v", n, oldest, err)
			}
		})
	}
}

type refusingScaler struct{ calls int }

func (r *refusingScaler) GroupCount(context.Context, string, string) (int, error) { return 1, nil }
func (r *refusingScaler) Scale(context.Context, string, string, int, string, map[string]any) error {
	r.calls++
	return errors.New("job scaling blocked due to active deployment")
}

func TestAutoscalerRecordsRepeatedFailureOnce(t *testing.T) {
	t.Parallel()
	s := &refusingScaler{}
	a, err := NewAutoscaler(AutoscalerConfig{Job: "j", Group: "g", Policy: Policy{Min: 2, Max: 3, UpPerAgent: 2, DownPerAgent: 1}},
		&fakeQueue{}, s, nil, time.Now, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := a.Tick(context.Background()); err == nil {
			t.Fatal("refused scale not reported")
		}
	}
	if d := a.Decisions(); len(d) != 1 || d[0].Applied || d[0].Error == "" || s.calls != 3 {
		t.Fatalf("decisions %+v calls %d", d, s.calls)
	}
}
