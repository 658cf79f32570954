package submit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/internal/store/sqlite"
	"github.com/ytcaption/ytcaption/control-plane/internal/submit"
)

// world is a service over a real SQLite store and local blob store.
type world struct {
	st    store.Store
	blobs *blob.Local
	svc   *submit.Service
	wakes int
	ids   int
}

func (w *world) Notify(context.Context) { w.wakes++ }

func newWorld(t *testing.T, allowPrivate bool) *world {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "d.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.NewLocal(t.TempDir(), bytes.Repeat([]byte("s"), blob.MinSecretLen), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	if err := st.CreateAPIKey(ctx, store.APIKey{ID: "k", Tenant: "acme", Role: store.RoleAdmin, Hash: "h", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	w := &world{st: st, blobs: blobs}
	w.svc = submit.New(submit.Config{AllowPrivateSources: allowPrivate, MaxAttempts: 3}, submit.Deps{
		Store: st, Blobs: blobs, Notifier: w, Now: time.Now, Log: log,
		NewID: func() string { w.ids++; return fmt.Sprintf("id-%03d", w.ids) },
	})
	return w
}

// runTask leases the one queued task as agent "ag", stores a result for it
// and completes it with res; it returns the result's key.
func (w *world) runTask(t *testing.T, res api.Result) string {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	leased, err := w.st.LeaseTasks(ctx, store.LeaseParams{AgentID: "ag", Max: 1, Now: now, Deadline: now.Add(time.Minute)})
	if err != nil || len(leased) != 1 {
		t.Fatalf("lease: %d tasks, %v", len(leased), err)
	}
	l := leased[0]
	key := blob.ResultKey(l.JobID, l.ID, l.Attempt)
	if err := w.blobs.Put(ctx, key, strings.NewReader("{}"), 2, "application/json"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.CompleteTask(ctx, store.Completion{TaskID: l.ID, Holder: "ag", Token: l.Token, Now: now,
		Result: api.TaskResult{Key: key, Result: res}}); err != nil {
		t.Fatal(err)
	}
	return key
}

func spec(t *testing.T, req api.JobRequest, upload bool) job.Spec {
	t.Helper()
	s, err := job.Normalize(req, upload)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCachedAnswer: a direct media URL is keyed by its normalized spelling
// and the ETag a HEAD request returns; once a job with that key succeeded,
// the same media, spelled otherwise, is answered from the cache: the job is
// born succeeded, nobody is woken, and no task of it can be leased.
func TestCachedAnswer(t *testing.T) {
	t.Parallel()
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
	}))
	t.Cleanup(media.Close)
	w := newWorld(t, true)
	ctx := context.Background()

	first, created, err := w.svc.Submit(ctx, submit.Request{Tenant: "acme", Spec: spec(t, api.JobRequest{URL: media.URL + "/a.mp4?b=2&a=1"}, false)})
	if err != nil || !created || first.Status != api.JobQueued || w.wakes != 1 {
		t.Fatalf("first submission: %+v created=%v wakes=%d err=%v", first, created, w.wakes, err)
	}
	key := w.runTask(t, api.Result{Language: "en", Engine: "pocketsphinx", Timings: map[string]float64{"transcribe": 1.5}})

	spelled := media.URL + "/a.mp4?a=1&b=2#t=3"
	second, created, err := w.svc.Submit(ctx, submit.Request{Tenant: "acme", Spec: spec(t, api.JobRequest{URL: spelled}, false)})
	if err != nil || !created {
		t.Fatalf("second submission: created=%v err=%v", created, err)
	}
	if second.Status != api.JobSucceeded || second.Result == nil || !second.Result.Cached || second.ResultKey != key ||
		second.Result.Language != "en" || second.Result.Timings["transcribe"] != 1.5 {
		t.Fatalf("not answered from the cache: %+v", second)
	}
	if w.wakes != 1 {
		t.Fatalf("a cached answer woke the dispatchers (%d wakes)", w.wakes)
	}
	now := time.Now()
	if again, err := w.st.LeaseTasks(ctx, store.LeaseParams{AgentID: "ag", Max: 5, Now: now, Deadline: now.Add(time.Minute)}); err != nil || len(again) != 0 {
		t.Fatalf("a cached job's task was leased: %d, %v", len(again), err)
	}
	m1, err1 := w.st.GetJobMeta(ctx, first.ID)
	m2, err2 := w.st.GetJobMeta(ctx, second.ID)
	if err1 != nil || err2 != nil || m1.CacheKey == "" || m1.CacheKey != m2.CacheKey {
		t.Fatalf("cache keys %q (%v) and %q (%v)", m1.CacheKey, err1, m2.CacheKey, err2)
	}
}

// TestFreshRunKeyedByWhatTheAgentFetched: a job that skips the cache makes
// no HEAD request for a URL naming a media file; its result is keyed by the
// validator the agent's download reported, so it refreshes the entry a
// later cached submission of the same bytes finds, and not one for bytes
// the URL no longer serves.
func TestFreshRunKeyedByWhatTheAgentFetched(t *testing.T) {
	t.Parallel()
	var heads atomic.Int32
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		heads.Add(1)
		w.Header().Set("ETag", `"v2"`)
	}))
	t.Cleanup(media.Close)
	w := newWorld(t, true)
	ctx := context.Background()
	off := false
	run := func(url, validator string) string {
		t.Helper()
		j, _, err := w.svc.Submit(ctx, submit.Request{Tenant: "acme", Spec: spec(t, api.JobRequest{URL: url, Cache: &off}, false)})
		if err != nil || j.Status != api.JobQueued {
			t.Fatalf("fresh run: %+v, %v", j, err)
		}
		return w.runTask(t, api.Result{Language: "en", SourceValidator: validator})
	}
	fresh := run(media.URL+"/talk.mp4", `etag:"v2"`)
	stale := run(media.URL+"/old.mp4", `etag:"v1"`) // the URL has served other bytes since
	if heads.Load() != 0 {
		t.Fatalf("%d HEAD requests for jobs that skip the cache", heads.Load())
	}

	hit, _, err := w.svc.Submit(ctx, submit.Request{Tenant: "acme", Spec: spec(t, api.JobRequest{URL: media.URL + "/talk.mp4"}, false)})
	if err != nil || hit.Status != api.JobSucceeded || hit.Result == nil || !hit.Result.Cached || hit.ResultKey != fresh {
		t.Fatalf("not answered from the fresh run: %+v, %v", hit, err)
	}
	miss, _, err := w.svc.Submit(ctx, submit.Request{Tenant: "acme", Spec: spec(t, api.JobRequest{URL: media.URL + "/old.mp4"}, false)})
	if err != nil || miss.Status != api.JobQueued || miss.ResultKey == stale {
		t.Fatalf("answered with bytes the URL no longer serves: %+v, %v", miss, err)
	}
	if heads.Load() != 2 {
		t.Errorf("%d HEAD requests for two cached submissions", heads.Load())
	}
}

// TestNoValidatorNoCacheKey: a direct URL whose server names no validator
// could change behind the same URL, so its job gets no cache key.
func TestNoValidatorNoCacheKey(t *testing.T) {
	t.Parallel()
	media := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(media.Close)
	w := newWorld(t, true)
	ctx := context.Background()
	j, _, err := w.svc.Submit(ctx, submit.Request{Tenant: "acme", Spec: spec(t, api.JobRequest{URL: media.URL + "/a.mp4"}, false)})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := w.st.GetJobMeta(ctx, j.ID); err == nil && m.CacheKey != "" {
		t.Fatalf("cache key %q for a source without validators", m.CacheKey)
	}
}

// TestUploadKeptOnlyForItsJob: an upload is stored under its job; a replay
// of the same idempotency key returns the first job and drops the second
// copy, and a refused submission leaves no upload behind.
func TestUploadKeptOnlyForItsJob(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	ctx := context.Background()
	upload := func(req api.JobRequest, idem string) (job.Job, bool, error) {
		return w.svc.Submit(ctx, submit.Request{Tenant: "acme", Spec: spec(t, req, true), IdempotencyKey: idem,
			Upload: &submit.Upload{Filename: "../a\x01.wav", Size: 4, Body: strings.NewReader("RIFF")}})
	}
	exists := func(key string) bool {
		rc, err := w.blobs.Get(ctx, key)
		if err != nil {
			return false
		}
		_ = rc.Close()
		return true
	}
	first, created, err := upload(api.JobRequest{}, "k1")
	if err != nil || !created || first.Spec.Filename != "a.wav" || !exists(first.Spec.UploadKey) {
		t.Fatalf("first upload: %+v created=%v err=%v", first.Spec, created, err)
	}
	before := w.ids
	replay, created, err := upload(api.JobRequest{}, "k1")
	if err != nil || created || replay.ID != first.ID {
		t.Fatalf("replay: %s created=%v err=%v", replay.ID, created, err)
	}
	if second := blob.UploadKey(fmt.Sprintf("id-%03d", before+1)); exists(second) {
		t.Fatalf("the replay's upload %s was kept", second)
	}
	if w.wakes != 1 {
		t.Fatalf("%d wakes for one queued job", w.wakes)
	}
	before = w.ids
	_, _, err = upload(api.JobRequest{WebhookURL: "http://127.0.0.1:9/hook"}, "")
	var ve *job.ValidationError
	if !errors.As(err, &ve) || ve.Code != api.CodeForbiddenSource {
		t.Fatalf("webhook to a loopback address: %v", err)
	}
	if refused := blob.UploadKey(fmt.Sprintf("id-%03d", before+1)); exists(refused) {
		t.Fatalf("a refused submission's upload %s was kept", refused)
	}
}

// TestProbesReuseConnections: the cache key's HEAD requests to one source
// host share a kept-alive connection instead of dialing for each
// submission.
func TestProbesReuseConnections(t *testing.T) {
	t.Parallel()
	var conns, heads atomic.Int32
	media := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		heads.Add(1)
		w.Header().Set("ETag", `"v1"`)
	}))
	media.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	media.Start()
	t.Cleanup(media.Close)
	w := newWorld(t, true)
	for i := range 5 {
		if _, _, err := w.svc.Submit(context.Background(), submit.Request{Tenant: "acme",
			Spec: spec(t, api.JobRequest{URL: fmt.Sprintf("%s/%d.mp4", media.URL, i)}, false)}); err != nil {
			t.Fatal(err)
		}
	}
	if heads.Load() != 5 || conns.Load() != 1 {
		t.Fatalf("%d HEAD requests over %d connections, want 5 over 1", heads.Load(), conns.Load())
	}
}

// lookups records the host lookups CheckHost makes and whether each had a
// deadline.
type lookups struct {
	hosts       []string
	noDeadlines int
}

func (l *lookups) LookupNetIP(ctx context.Context, _, host string) ([]netip.Addr, error) {
	l.hosts = append(l.hosts, host)
	if _, ok := ctx.Deadline(); !ok {
		l.noDeadlines++
	}
	return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
}

// TestHostLookupsAreBounded: a host name is looked up under a deadline
// even when the caller's context has none; an address needs no lookup.
func TestHostLookupsAreBounded(t *testing.T) {
	l := &lookups{}
	svc := submit.New(submit.Config{}, submit.Deps{Resolver: l, Log: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	for _, u := range []string{"https://media.example/a.mp4", "http://93.184.215.14/b.mp4"} {
		if err := svc.CheckHost(ctx, u); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
	}
	if len(l.hosts) != 1 || l.hosts[0] != "media.example" || l.noDeadlines != 0 {
		t.Fatalf("lookups %v, %d without a deadline; want one of media.example, with one", l.hosts, l.noDeadlines)
	}
}
