package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/server"
	"github.com/ytcaption/ytcaption/test/testenv"
)

const adminKey = "test-admin-key-0123456789"

// replica is one control plane running in-process on a loopback port.
type replica struct {
	srv    *server.Server
	url    string
	admin  *api.Client
	cancel context.CancelFunc
	done   chan error
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("YTCAPTION_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startReplica runs a replica until the test ends (or stop is called).
func startReplica(t *testing.T, cfg server.Config) *replica {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.AdminKey = adminKey
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, testLogger(t))
	if err != nil {
		cancel()
		t.Fatalf("start replica: %v", err)
	}
	r := &replica{srv: srv, url: srv.URL(), cancel: cancel, done: make(chan error, 1)}
	r.admin = api.NewClient(r.url, adminKey, validatingClient())
	go func() { r.done <- srv.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func (r *replica) stop() {
	r.cancel()
	<-r.done
	r.done <- nil // later stops return at once
}

// backend names a store/blob/wake-up combination the tests run on.
type backend struct {
	name string
	cfg  func(t *testing.T) server.Config
}

func sqliteBackend() backend {
	return backend{"sqlite", func(t *testing.T) server.Config {
		return server.Config{DatabaseURL: filepath.Join(t.TempDir(), "yt.db"), AllowPrivateSources: true}
	}}
}

func postgresBackend() backend {
	return backend{"postgres+redis+minio", func(t *testing.T) server.Config {
		redisURL, prefix := testenv.Redis(t)
		s3 := testenv.MinIO(t)
		return server.Config{
			DatabaseURL: testenv.Postgres(t), RedisURL: redisURL, RedisPrefix: prefix,
			S3:                  server.S3Config{Endpoint: s3.Endpoint, Bucket: s3.Bucket, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey},
			AllowPrivateSources: true,
		}
	}}
}

func backends() []backend { return []backend{sqliteBackend(), postgresBackend()} }

// simAgent speaks the agent protocol like a real agent, without media work.
type simAgent struct {
	t     *testing.T
	c     *api.Client
	id    string
	token string
}

func enrollAgent(t *testing.T, r *replica, name string, caps api.Capabilities) *simAgent {
	t.Helper()
	ctx := context.Background()
	e, err := r.admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	if caps.Slots == 0 {
		caps.Slots = 1
	}
	if caps.Engines == nil {
		caps.Engines = []api.EngineCapability{{Name: "test"}}
	}
	reg, err := api.NewClient(r.url, "", validatingClient()).Register(ctx, api.RegisterRequest{EnrollmentToken: e.Token, Name: name, Capabilities: caps})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return &simAgent{t: t, c: api.NewClient(r.url, reg.Token, validatingClient()), id: reg.AgentID, token: reg.Token}
}

// on returns the same agent talking to another replica.
func (a *simAgent) on(r *replica) *simAgent {
	return &simAgent{t: a.t, c: api.NewClient(r.url, a.token, validatingClient()), id: a.id, token: a.token}
}

func (a *simAgent) lease(wait time.Duration) []api.Lease {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait+10*time.Second)
	defer cancel()
	resp, err := a.c.Lease(ctx, api.LeaseRequest{Max: 1, WaitSeconds: wait.Seconds()})
	if err != nil {
		a.t.Fatalf("lease: %v", err)
	}
	return resp.Tasks
}

func (a *simAgent) leaseOne(wait time.Duration) api.Lease {
	a.t.Helper()
	ls := a.lease(wait)
	if len(ls) != 1 {
		a.t.Fatalf("lease: got %d tasks, want 1", len(ls))
	}
	return ls[0]
}

// keepAlive heartbeats l every interval until the returned stop is called
// (which waits for the last heartbeat to end).
func (a *simAgent) keepAlive(l api.Lease, every time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_, _ = a.c.Heartbeat(ctx, l.TaskID, api.HeartbeatRequest{Token: l.Token})
			}
		}
	}()
	return func() { cancel(); <-done }
}

// upload writes a transcript through the lease's presigned URL and returns
// the result to report.
func (a *simAgent) upload(l api.Lease, tr api.Transcript) api.TaskResult {
	a.t.Helper()
	b, _ := json.Marshal(tr)
	req, _ := http.NewRequest(l.Upload.Method, l.Upload.URL, bytes.NewReader(b))
	for k, v := range l.Upload.Headers {
		req.Header.Set(k, v)
	}
	req.ContentLength = int64(len(b))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("upload: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		a.t.Fatalf("upload: HTTP %d: %s", resp.StatusCode, body)
	}
	sum := sha256.Sum256(b)
	words := 0
	for _, s := range tr.Segments {
		words += len(s.Words)
	}
	return api.TaskResult{Key: l.Upload.Key, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:]),
		Result: api.Result{Language: tr.Language, Duration: tr.Duration, Engine: tr.Engine.Name, Segments: len(tr.Segments), Words: words,
			Timings: map[string]float64{"transcribe": 0.5}}}
}

func (a *simAgent) complete(l api.Lease) error {
	res := a.upload(l, sampleTranscript())
	_, err := a.c.Complete(context.Background(), l.TaskID, api.CompleteRequest{Token: l.Token, Result: res})
	return err
}

func sampleTranscript() api.Transcript {
	return api.Transcript{
		Language: "en", Duration: 4.2, Text: "Hello world. This is a test.",
		Segments: []api.Segment{
			{Start: 0.2, End: 1.4, Text: "Hello world.", Words: []api.Word{
				{Word: "Hello", Start: 0.2, End: 0.7, Confidence: 0.9}, {Word: "world.", Start: 0.8, End: 1.4, Confidence: 0.8}}},
			{Start: 1.9, End: 4.0, Text: "This is a test.", Words: []api.Word{
				{Word: "This", Start: 1.9, End: 2.3, Confidence: 0.9}, {Word: "is", Start: 2.4, End: 2.6, Confidence: 0.9},
				{Word: "a", Start: 2.7, End: 2.8, Confidence: 0.9}, {Word: "test.", Start: 2.9, End: 4.0, Confidence: 0.9}}},
		},
		Engine: api.EngineInfo{Name: "test", Origin: "asr"},
	}
}

// apiErr returns the status and code of an error from the client.
func apiErr(err error) (int, string) {
	var se *api.StatusError
	if errors.As(err, &se) {
		return se.Status, se.Err.Code
	}
	return 0, fmt.Sprint(err)
}

func wantErr(t *testing.T, err error, status int, code string) {
	t.Helper()
	if s, c := apiErr(err); s != status || c != code {
		t.Fatalf("got %d %q (%v), want %d %q", s, c, err, status, code)
	}
}

func waitStatus(t *testing.T, c *api.Client, id string, want api.JobStatus) api.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		j, err := c.GetJob(ctx, id)
		if err != nil {
			t.Fatalf("get job: %v", err)
		}
		if j.Status == want {
			return j
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s stayed %s (want %s): %+v", id, j.Status, want, j.Error)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func intp(n int) *int { return &n }
