package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ytcaption/ytcaption/agent/worker"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// TestSSRFRedirectThroughAPI: in server mode, a source that passes the
// submit-time check (here: allow-listed, standing in for a public site —
// nothing outside loopback may be contacted from tests) but redirects to a
// loopback service is refused at connect time by the agent's egress guard.
// The job fails with forbidden_source and the loopback service sees no
// request.
func TestSSRFRedirectThroughAPI(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("internal admin page"))
	}))
	defer internal.Close()
	public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/admin.mp4", http.StatusFound)
	}))
	defer public.Close()
	publicAddr := strings.TrimPrefix(public.URL, "http://")

	cfg := sqliteBackend().cfg(t)
	cfg.AllowPrivateSources = false
	cfg.SourceAllowList = []string{publicAddr}
	r := startReplica(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, err := r.admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(ctx, worker.Config{Server: r.url, Token: e.Token, Name: "guarded", WorkDir: t.TempDir(),
		AllowTargets: []string{publicAddr}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// The loopback service itself is refused at submit time.
	_, err = r.admin.SubmitJob(ctx, api.JobRequest{URL: internal.URL + "/admin.mp4"}, "")
	wantErr(t, err, http.StatusBadRequest, api.CodeForbiddenSource)

	j, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: public.URL + "/video.mp4", Captions: api.CaptionsASROnly}, "")
	if err != nil {
		t.Fatalf("the allow-listed source was refused at submit: %v", err)
	}
	got := waitStatus(t, r.admin, j.ID, api.JobFailed)
	if got.Error == nil || got.Error.Code != api.CodeForbiddenSource || got.Attempts != 1 {
		t.Fatalf("job: %+v error %+v", got, got.Error)
	}
	if hits.Load() != 0 {
		t.Fatalf("the loopback service was reached %d times", hits.Load())
	}
}
