package runner_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/agent/internal/runner"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/server"
)

const adminKey = "runner-test-admin-key"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// controlPlane runs a real in-process control plane on SQLite.
func controlPlane(t *testing.T, lease time.Duration) *api.Client {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: dir, DatabaseURL: filepath.Join(dir, "db"),
		AdminKey: adminKey, AllowPrivateSources: true, LeaseDuration: lease, SweepInterval: 50 * time.Millisecond}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return api.NewClient(srv.URL(), adminKey, nil)
}

// agentClient enrolls an agent and returns its protocol client.
func agentClient(t *testing.T, admin *api.Client) *api.Client {
	t.Helper()
	ctx := context.Background()
	e, err := admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := api.NewClient(admin.BaseURL(), "", nil).Register(ctx, api.RegisterRequest{EnrollmentToken: e.Token, Name: "t",
		Capabilities: api.Capabilities{Engines: []api.EngineCapability{{Name: "test"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return api.NewClient(admin.BaseURL(), reg.Token, nil)
}

// execFunc adapts a function to runner.Executor: the tests script what the
// work does (finish, fail, block until canceled) to drive the runner.
type execFunc func(ctx context.Context, l api.Lease, progress func(string, float64)) (runner.Output, error)

func (f execFunc) Execute(ctx context.Context, l api.Lease, p func(string, float64)) (runner.Output, error) {
	return f(ctx, l, p)
}

func transcript() runner.Output {
	return runner.Output{Transcript: api.Transcript{Language: "en", Duration: 2, Text: "hi there",
		Segments: []api.Segment{{Start: 0, End: 1, Text: "hi there", Words: []api.Word{{Word: "hi", Start: 0, End: 0.4}, {Word: "there", Start: 0.5, End: 1}}}},
		Engine:   api.EngineInfo{Name: "test"}},
		Result: api.Result{Language: "en", Duration: 2, Engine: "test", Origin: "asr", Segments: 1, Words: 2,
			Timings: map[string]float64{"transcribe": 0.1}}}
}

func cfg() runner.Config {
	return runner.Config{Slots: 1, LeaseWait: 2 * time.Second, HeartbeatInterval: 50 * time.Millisecond, Grace: 5 * time.Second}
}

func waitJob(t *testing.T, c *api.Client, id string, ok func(api.Job) bool) api.Job {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := c.GetJob(context.Background(), id)
		if err == nil && ok(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s never reached the wanted state: %+v (err %v)", id, j, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func start(t *testing.T, r *runner.Runner) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestCompletesWithProgress(t *testing.T) {
	t.Parallel()
	admin := controlPlane(t, 10*time.Second)
	release := make(chan struct{})
	r := runner.New(agentClient(t, admin), execFunc(func(ctx context.Context, l api.Lease, p func(string, float64)) (runner.Output, error) {
		p("transcribe", 0.6)
		<-release
		return transcript(), nil
	}), cfg(), quiet())
	start(t, r)
	j, _ := admin.SubmitJob(context.Background(), api.JobRequest{URL: "https://example.com/a"}, "")
	waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Stage == "transcribe" && j.Progress == 0.6 })
	close(release)
	done := waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Status == api.JobSucceeded })
	if done.Result.Words != 2 || done.Result.Origin != "asr" || done.Result.Timings["transcribe"] != 0.1 {
		t.Fatalf("result: %+v", done.Result)
	}
}

func TestFailureClassification(t *testing.T) {
	t.Parallel()
	admin := controlPlane(t, 10*time.Second)
	var calls atomic.Int32
	r := runner.New(agentClient(t, admin), execFunc(func(ctx context.Context, l api.Lease, _ func(string, float64)) (runner.Output, error) {
		calls.Add(1)
		if l.Spec.URL == "https://example.com/silent" {
			return runner.Output{}, failure.Permanent(api.CodeNoAudio, "the media has no audio stream")
		}
		if l.Attempt == 1 {
			return runner.Output{}, failure.Transient(api.CodeDownloadFailed, "HTTP 503")
		}
		return transcript(), nil
	}), cfg(), quiet())
	start(t, r)
	ctx := context.Background()
	silent, _ := admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/silent"}, "")
	flaky, _ := admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/flaky"}, "")
	s := waitJob(t, admin, silent.ID, func(j api.Job) bool { return j.Status.Final() })
	if s.Status != api.JobFailed || s.Error.Code != api.CodeNoAudio || s.Attempts != 1 {
		t.Fatalf("permanent failure: %+v %+v", s, s.Error)
	}
	f := waitJob(t, admin, flaky.ID, func(j api.Job) bool { return j.Status.Final() })
	if f.Status != api.JobSucceeded || f.Attempts != 2 {
		t.Fatalf("transient failure then success: %+v %+v", f, f.Error)
	}
}

func TestCancelStopsWork(t *testing.T) {
	t.Parallel()
	admin := controlPlane(t, 10*time.Second)
	stopped := make(chan error, 1)
	r := runner.New(agentClient(t, admin), execFunc(func(ctx context.Context, l api.Lease, p func(string, float64)) (runner.Output, error) {
		p("download", 0.1)
		<-ctx.Done()
		stopped <- ctx.Err()
		return runner.Output{}, ctx.Err()
	}), cfg(), quiet())
	start(t, r)
	ctx := context.Background()
	j, _ := admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/long"}, "")
	waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Stage == "download" })
	if _, err := admin.CancelJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-stopped:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("work stopped with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not reach the running work")
	}
	for deadline := time.Now().Add(10 * time.Second); r.Active() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d tasks still active after the cancel", r.Active())
		}
	}
	if got, _ := admin.GetJob(ctx, j.ID); got.Status != api.JobCanceled {
		t.Fatalf("job %s", got.Status)
	}
}

// TestShutdownHandsBack: work that cannot finish within the grace period is
// released and completed by another agent; the attempt is not counted.
func TestShutdownHandsBack(t *testing.T) {
	t.Parallel()
	admin := controlPlane(t, 30*time.Second)
	c := cfg()
	c.Grace = 200 * time.Millisecond
	first := runner.New(agentClient(t, admin), execFunc(func(ctx context.Context, l api.Lease, p func(string, float64)) (runner.Output, error) {
		p("transcribe", 0.3)
		<-ctx.Done()
		return runner.Output{}, ctx.Err()
	}), c, quiet())
	stopFirst := start(t, first)
	ctx := context.Background()
	j, _ := admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/handback"}, "")
	waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Stage == "transcribe" })
	if err := stopFirst(); err != nil {
		t.Fatalf("runner stop: %v", err)
	}
	// Requeued at once: far sooner than the 30 s lease.
	waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Status == api.JobQueued })
	second := runner.New(agentClient(t, admin), execFunc(func(context.Context, api.Lease, func(string, float64)) (runner.Output, error) {
		return transcript(), nil
	}), cfg(), quiet())
	start(t, second)
	done := waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Status == api.JobSucceeded })
	if done.Attempts != 1 {
		t.Fatalf("attempts %d: a handed-back attempt must not count", done.Attempts)
	}
}

// TestShutdownLetsWorkFinish: work that finishes within the grace period is
// completed, not handed back. The work ends only once shutdown has begun.
func TestShutdownLetsWorkFinish(t *testing.T) {
	t.Parallel()
	admin := controlPlane(t, 30*time.Second)
	started := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := runner.New(agentClient(t, admin), execFunc(func(context.Context, api.Lease, func(string, float64)) (runner.Output, error) {
		started <- struct{}{}
		<-ctx.Done() // the runner is shutting down
		return transcript(), nil
	}), cfg(), quiet())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	j, _ := admin.SubmitJob(context.Background(), api.JobRequest{URL: "https://example.com/finish"}, "")
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, _ := admin.GetJob(context.Background(), j.ID); got.Status != api.JobSucceeded {
		t.Fatalf("job %s after graceful stop", got.Status)
	}
}

// TestKillHandsBack: Kill stops work at once and hands it back.
func TestKillHandsBack(t *testing.T) {
	t.Parallel()
	admin := controlPlane(t, 30*time.Second)
	r := runner.New(agentClient(t, admin), execFunc(func(ctx context.Context, l api.Lease, p func(string, float64)) (runner.Output, error) {
		p("extract", 0.2)
		<-ctx.Done()
		return runner.Output{}, ctx.Err()
	}), cfg(), quiet())
	stop := start(t, r)
	j, _ := admin.SubmitJob(context.Background(), api.JobRequest{URL: "https://example.com/kill"}, "")
	waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Stage == "extract" })
	r.Kill()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Status == api.JobQueued })
}

// TestRevokedAgentStops: a revoked agent drops its work and Run reports why.
func TestRevokedAgentStops(t *testing.T) {
	t.Parallel()
	admin := controlPlane(t, 30*time.Second)
	proto := agentClient(t, admin)
	r := runner.New(proto, execFunc(func(ctx context.Context, l api.Lease, p func(string, float64)) (runner.Output, error) {
		p("download", 0.1)
		<-ctx.Done()
		return runner.Output{}, ctx.Err()
	}), cfg(), quiet())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	j, _ := admin.SubmitJob(context.Background(), api.JobRequest{URL: "https://example.com/revoke"}, "")
	waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Stage == "download" })
	agents, _ := admin.ListAgents(context.Background())
	if _, err := admin.AgentAction(context.Background(), agents.Agents[0].ID, "revoke"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, runner.ErrUnauthorized) {
			t.Fatalf("Run returned %v, want ErrUnauthorized", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("revoked runner kept running")
	}
}

// TestSlots: a runner with three slots runs three tasks at once.
func TestSlots(t *testing.T) {
	t.Parallel()
	admin := controlPlane(t, 30*time.Second)
	var running, peak atomic.Int32
	gate := make(chan struct{})
	c := cfg()
	c.Slots = 3
	r := runner.New(agentClient(t, admin), execFunc(func(ctx context.Context, l api.Lease, _ func(string, float64)) (runner.Output, error) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-gate
		running.Add(-1)
		return transcript(), nil
	}), c, quiet())
	start(t, r)
	var ids []string
	for range 3 {
		j, _ := admin.SubmitJob(context.Background(), api.JobRequest{URL: "https://example.com/s"}, "")
		ids = append(ids, j.ID)
	}
	deadline := time.Now().Add(15 * time.Second)
	for peak.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(gate)
	if peak.Load() != 3 {
		t.Fatalf("peak concurrency %d, want 3", peak.Load())
	}
	for _, id := range ids {
		waitJob(t, admin, id, func(j api.Job) bool { return j.Status == api.JobSucceeded })
	}
}

// outageProxy forwards presigned uploads to the real store, answering 503
// while down, as an object store in an outage would.
type outageProxy struct {
	down  atomic.Bool
	tried atomic.Int32
	srv   *httptest.Server
}

func newOutageProxy(t *testing.T, target string) *outageProxy {
	u, _ := url.Parse(target)
	p := &outageProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.tried.Add(1)
		if p.down.Load() {
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// viaProxy sends a lease's upload through the proxy.
type viaProxy struct {
	runner.Protocol
	proxy string
}

func (v viaProxy) Lease(ctx context.Context, req api.LeaseRequest) (api.LeaseResponse, error) {
	resp, err := v.Protocol.Lease(ctx, req)
	for i := range resp.Tasks {
		u, _ := url.Parse(resp.Tasks[i].Upload.URL)
		p, _ := url.Parse(v.proxy)
		u.Host = p.Host
		resp.Tasks[i].Upload.URL = u.String()
	}
	return resp, err
}

// TestStorageOutage: a result finished while the object store is down waits
// on disk and is uploaded when it returns; the job does not fail.
func TestStorageOutage(t *testing.T) {
	t.Parallel()
	admin := controlPlane(t, 2*time.Second)
	proxy := newOutageProxy(t, admin.BaseURL())
	proxy.down.Store(true)
	c := cfg()
	c.SpoolDir = t.TempDir()
	c.UploadPatience = time.Minute
	r := runner.New(viaProxy{agentClient(t, admin), proxy.srv.URL}, execFunc(func(context.Context, api.Lease, func(string, float64)) (runner.Output, error) {
		return transcript(), nil
	}), c, quiet())
	start(t, r)
	j, _ := admin.SubmitJob(context.Background(), api.JobRequest{URL: "https://example.com/outage"}, "")
	for proxy.tried.Load() < 3 {
		time.Sleep(20 * time.Millisecond)
	}
	if files, _ := os.ReadDir(c.SpoolDir); len(files) != 1 {
		t.Fatalf("spooled results during the outage: %d, want 1", len(files))
	}
	// The outage outlasts the 2 s lease: heartbeats must keep it alive.
	time.Sleep(3 * time.Second)
	proxy.down.Store(false)
	done := waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Status.Final() })
	if done.Status != api.JobSucceeded || done.Attempts != 1 {
		t.Fatalf("after the outage: %s attempts %d %+v", done.Status, done.Attempts, done.Error)
	}
	if files, _ := os.ReadDir(c.SpoolDir); len(files) != 0 {
		t.Fatalf("spool not cleaned: %d files", len(files))
	}
}
