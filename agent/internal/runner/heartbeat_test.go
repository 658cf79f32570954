package runner_test

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/runner"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// beatLog records the heartbeats the runner sends (and how many are in
// flight at once); gate, when set, holds each one until it is closed.
type beatLog struct {
	runner.Protocol
	gate     chan struct{}
	mu       sync.Mutex
	stages   []string
	sent     chan struct{} // a heartbeat went out
	inFlight atomic.Int32
	peak     atomic.Int32
}

func newBeatLog(p runner.Protocol) *beatLog {
	return &beatLog{Protocol: p, sent: make(chan struct{}, 100)}
}

func (b *beatLog) Heartbeat(ctx context.Context, taskID string, req api.HeartbeatRequest) (api.HeartbeatResponse, error) {
	n := b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	for p := b.peak.Load(); n > p && !b.peak.CompareAndSwap(p, n); p = b.peak.Load() {
	}
	b.mu.Lock()
	b.stages = append(b.stages, req.Stage)
	gate := b.gate
	b.mu.Unlock()
	b.sent <- struct{}{}
	if gate != nil {
		<-gate
	}
	return b.Protocol.Heartbeat(ctx, taskID, req)
}

func (b *beatLog) sentStages() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.stages...)
}

// waitBeat waits for the next heartbeat to go out. It is called from the
// executor's goroutine, so it reports rather than stops the test.
func waitBeat(t *testing.T, b *beatLog) {
	t.Helper()
	select {
	case <-b.sent:
	case <-time.After(20 * time.Second):
		t.Errorf("no heartbeat; sent so far: %v", b.sentStages())
	}
}

// slowBeats is a config whose periodic heartbeat never comes during a test
// (with a lease long enough not to shorten it): every heartbeat seen is one
// a stage change sent.
func slowBeats() runner.Config {
	c := cfg()
	c.HeartbeatInterval = time.Hour
	return c
}

// TestStageChangeHeartbeats: a new stage reaches the control plane at once,
// not at the next periodic heartbeat, and the task's run marks it; progress
// within a stage sends nothing extra.
func TestStageChangeHeartbeats(t *testing.T) {
	t.Parallel()
	admin := controlPlane(t, 10*time.Minute)
	beats := newBeatLog(agentClient(t, admin))
	next := make(chan struct{})
	r := runner.New(beats, execFunc(func(ctx context.Context, l api.Lease, p func(string, float64)) (runner.Output, error) {
		p("download", 0.1)
		<-next
		for i := 2; i < 10; i++ {
			p("download", float64(i)/20)
		}
		p("transcribe", 0.6)
		<-next
		return transcript(), nil
	}), slowBeats(), quiet())
	start(t, r)
	j, _ := admin.SubmitJob(context.Background(), api.JobRequest{URL: "https://example.com/stages"}, "")
	waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Stage == "download" })
	next <- struct{}{}
	waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Stage == "transcribe" && j.Progress == 0.6 })
	if got := beats.sentStages(); !reflect.DeepEqual(got, []string{"download", "transcribe"}) {
		t.Errorf("heartbeats sent for stages %v, want one per stage change", got)
	}
	close(next)
	waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Status == api.JobSucceeded })

	tasks, err := admin.JobTasks(context.Background(), j.ID)
	if err != nil || len(tasks.Tasks) != 1 || len(tasks.Tasks[0].Runs) != 1 {
		t.Fatalf("tasks: %+v %v", tasks, err)
	}
	run := tasks.Tasks[0].Runs[0]
	var marks []string
	for _, m := range run.Stages {
		marks = append(marks, m.Stage)
	}
	if run.Outcome != api.RunSucceeded || !reflect.DeepEqual(marks, []string{"download", "transcribe"}) {
		t.Errorf("run: %s with stages %v", run.Outcome, marks)
	}
}

// TestStageChangeHeartbeatsCoalesce: stage changes made while a heartbeat
// is in flight wait for it and go out as one heartbeat with the latest
// stage; never two at once.
func TestStageChangeHeartbeatsCoalesce(t *testing.T) {
	t.Parallel()
	admin := controlPlane(t, 10*time.Minute)
	beats := newBeatLog(agentClient(t, admin))
	gate := make(chan struct{})
	beats.gate = gate
	r := runner.New(beats, execFunc(func(ctx context.Context, l api.Lease, p func(string, float64)) (runner.Output, error) {
		p("resolve", 0)
		waitBeat(t, beats) // held at the gate
		p("download", 0.1)
		p("extract", 0.3)
		close(gate)
		waitBeat(t, beats)
		return transcript(), nil
	}), slowBeats(), quiet())
	start(t, r)
	j, _ := admin.SubmitJob(context.Background(), api.JobRequest{URL: "https://example.com/coalesce"}, "")
	waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Status == api.JobSucceeded })
	if got := beats.sentStages(); !reflect.DeepEqual(got, []string{"resolve", "extract"}) {
		t.Errorf("heartbeats sent for stages %v, want resolve then extract", got)
	}
	if p := beats.peak.Load(); p != 1 {
		t.Errorf("%d heartbeats in flight at once, want 1", p)
	}
}
