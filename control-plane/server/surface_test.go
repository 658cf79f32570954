package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/server"
)

// fastWebhooks makes retries quick enough for tests.
func fastWebhooks(cfg server.Config) server.Config {
	cfg.Surface.Webhooks = server.WebhookConfig{MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Poll: 20 * time.Millisecond}
	return cfg
}

// receiver is a webhook target that verifies every signature.
type receiver struct {
	t       *testing.T
	secrets func() []string
	respond func(n int) int // status for the n-th request (1-based)

	mu       sync.Mutex
	n        int
	verified []api.WebhookEvent
	bodies   [][]byte
	headers  []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	sig := r.Header.Get(api.SignatureHeader)
	rc.mu.Lock()
	rc.n++
	n := rc.n
	rc.mu.Unlock()
	if err := api.VerifySignature(sig, body, rc.secrets(), 5*time.Minute, time.Now()); err != nil {
		rc.t.Errorf("delivery %d: bad signature: %v", n, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	status := rc.respond(n)
	if status/100 == 2 {
		var ev api.WebhookEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			rc.t.Errorf("delivery %d: %v", n, err)
		}
		rc.mu.Lock()
		rc.verified = append(rc.verified, ev)
		rc.bodies = append(rc.bodies, body)
		rc.headers = append(rc.headers, sig)
		rc.mu.Unlock()
	}
	w.WriteHeader(status)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n
}

func webhookSecret(t *testing.T, c *api.Client) api.WebhookSecret {
	t.Helper()
	var s api.WebhookSecret
	if err := c.Do(context.Background(), http.MethodGet, api.PathWebhookSecret, nil, &s, nil); err != nil {
		t.Fatalf("webhook secret: %v", err)
	}
	return s
}

func deliveries(t *testing.T, c *api.Client, jobID string) []api.WebhookDelivery {
	t.Helper()
	var l api.WebhookDeliveryList
	if err := c.Do(context.Background(), http.MethodGet, api.PathWebhookDeliveries+"?job_id="+jobID, nil, &l, nil); err != nil {
		t.Fatalf("list deliveries: %v", err)
	}
	return l.Deliveries
}

func waitDelivery(t *testing.T, c *api.Client, jobID, status string) api.WebhookDelivery {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ds := deliveries(t, c, jobID)
		if len(ds) == 1 && ds[0].Status == status {
			return ds[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries of job %s: %+v, want one %s", jobID, ds, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runJob submits a job and completes it with a simulated agent.
func runJob(t *testing.T, r *replica, req api.JobRequest) api.Job {
	t.Helper()
	j, err := r.admin.SubmitJob(context.Background(), req, "")
	if err != nil {
		t.Fatal(err)
	}
	ag := enrollAgent(t, r, "a", api.Capabilities{})
	if err := ag.complete(ag.leaseOne(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return waitStatus(t, r.admin, j.ID, api.JobSucceeded)
}

// TestWebhooks: deliveries are signed (a tampered body fails verification),
// retried until the receiver accepts (delivered once, every attempt
// logged), stopped by 410, and redeliverable.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			r := startReplica(t, fastWebhooks(b.cfg(t)))
			secret := webhookSecret(t, r.admin)
			if !strings.HasPrefix(secret.Secret, "whsec_") || webhookSecret(t, r.admin).Secret != secret.Secret {
				t.Fatalf("secret %+v is not stable", secret)
			}
			flaky := &receiver{t: t, secrets: func() []string { return []string{secret.Secret} }, respond: func(n int) int {
				if n <= 3 {
					return http.StatusInternalServerError
				}
				return http.StatusNoContent
			}}
			srv := httptest.NewServer(flaky)
			defer srv.Close()

			j := runJob(t, r, api.JobRequest{URL: "https://example.com/w.mp4", WebhookURL: srv.URL + "/hook"})
			d := waitDelivery(t, r.admin, j.ID, api.DeliveryDelivered)
			if d.Attempts != 4 || len(d.AttemptLog) != 4 || d.EventType != api.EventJobSucceeded {
				t.Fatalf("delivery %+v, want 4 attempts", d)
			}
			for i, a := range d.AttemptLog {
				want := http.StatusInternalServerError
				if i == 3 {
					want = http.StatusNoContent
				}
				if a.N != i+1 || a.StatusCode != want {
					t.Fatalf("attempt %d: %+v", i+1, a)
				}
			}
			time.Sleep(200 * time.Millisecond) // nothing more may arrive
			if flaky.count() != 4 || len(flaky.verified) != 1 {
				t.Fatalf("receiver saw %d requests, accepted %d", flaky.count(), len(flaky.verified))
			}
			ev := flaky.verified[0]
			if ev.ID != d.EventID || ev.Type != api.EventJobSucceeded || ev.Data.Job.ID != j.ID || ev.Data.Job.Status != api.JobSucceeded {
				t.Fatalf("event %+v", ev)
			}
			tampered := append([]byte{}, flaky.bodies[0]...)
			tampered[len(tampered)-2] ^= 1
			if err := api.VerifySignature(flaky.headers[0], tampered, []string{secret.Secret}, 5*time.Minute, time.Now()); err == nil {
				t.Fatal("a tampered body verified")
			}

			// Redelivery sends the same event again, signed anew.
			var red api.WebhookDelivery
			if err := r.admin.Do(context.Background(), http.MethodPost, api.PathWebhookDeliveries+"/"+d.ID+"/redeliver", nil, &red, nil); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return flaky.count() == 5 })
			if got := waitDelivery(t, r.admin, j.ID, api.DeliveryDelivered); got.Attempts != 5 {
				t.Fatalf("after redelivery: %+v", got)
			}

			// 410 Gone stops at once.
			gone := &receiver{t: t, secrets: func() []string { return []string{secret.Secret} }, respond: func(int) int { return http.StatusGone }}
			gsrv := httptest.NewServer(gone)
			defer gsrv.Close()
			j2 := runJob(t, r, api.JobRequest{URL: "https://example.com/w2.mp4", WebhookURL: gsrv.URL})
			d2 := waitDelivery(t, r.admin, j2.ID, api.DeliveryFailed)
			time.Sleep(200 * time.Millisecond)
			if d2.Attempts != 1 || gone.count() != 1 {
				t.Fatalf("410: %d attempts logged, %d received; want 1", d2.Attempts, gone.count())
			}
		})
	}
}

// TestWebhookEndpointsAndRotation: tenant endpoints get the events they
// subscribe to (job.progress only when asked); after a rotation each
// delivery carries a signature under both secrets.
func TestWebhookEndpointsAndRotation(t *testing.T) {
	t.Parallel()
	r := startReplica(t, fastWebhooks(sqliteBackend().cfg(t)))
	ctx := context.Background()
	old := webhookSecret(t, r.admin)
	var rotated api.WebhookSecret
	if err := r.admin.Do(ctx, http.MethodPost, api.PathWebhookSecret+"/rotate", nil, &rotated, nil); err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == old.Secret || len(rotated.Previous) != 1 || rotated.Previous[0] != old.Secret {
		t.Fatalf("rotation: %+v", rotated)
	}
	var types sync.Map
	rc := &receiver{t: t, respond: func(int) int { return http.StatusOK }}
	rc.secrets = func() []string { return []string{old.Secret} } // receivers still on the old secret keep working
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if err := api.VerifySignature(req.Header.Get(api.SignatureHeader), body, []string{rotated.Secret}, time.Minute, time.Now()); err != nil {
			t.Errorf("new secret: %v", err)
		}
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		types.Store(req.Header.Get("YTCaption-Event-Type"), true)
		rc.ServeHTTP(w, req)
	}))
	defer srv.Close()
	var ep api.WebhookEndpoint
	if err := r.admin.Do(ctx, http.MethodPost, api.PathWebhookEndpoints,
		api.WebhookEndpointRequest{URL: srv.URL, Events: []string{api.EventJobProgress, api.EventJobSucceeded}}, &ep, nil); err != nil {
		t.Fatal(err)
	}
	err := r.admin.Do(ctx, http.MethodPost, api.PathWebhookEndpoints, api.WebhookEndpointRequest{URL: srv.URL, Events: []string{"job.nope"}}, nil, nil)
	wantErr(t, err, http.StatusBadRequest, api.CodeInvalidRequest)
	runJob(t, r, api.JobRequest{URL: "https://example.com/e.mp4"})
	waitFor(t, func() bool {
		_, p := types.Load(api.EventJobProgress)
		_, s := types.Load(api.EventJobSucceeded)
		return p && s
	})
	var l api.WebhookEndpointList
	if err := r.admin.Do(ctx, http.MethodGet, api.PathWebhookEndpoints, nil, &l, nil); err != nil || len(l.Endpoints) != 1 {
		t.Fatalf("endpoints %+v, %v", l, err)
	}
	if err := r.admin.Do(ctx, http.MethodDelete, api.PathWebhookEndpoints+"/"+ep.ID, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type sse struct {
	id    int
	event string
	job   api.Job
}

// readEvents reads a job's event stream from base (optionally resuming).
func readEvents(t *testing.T, base, jobID, lastID string) <-chan sse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/jobs/"+jobID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := validatingClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan sse, 64)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var cur sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				cur.id, _ = strconv.Atoi(strings.TrimPrefix(line, "id: "))
			case strings.HasPrefix(line, "event: "):
				cur.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.job)
			case line == "" && cur.event != "":
				out <- cur
				cur = sse{}
			}
		}
	}()
	return out
}

// TestEventsResume: on two replicas sharing PostgreSQL, a client sees
// queued → running → running with a stage → succeeded (with the result) in
// order; reconnecting to the other replica with Last-Event-ID resumes with
// no gap and no repeat, and ends at the final event.
func TestEventsResume(t *testing.T) {
	t.Parallel()
	cfg := postgresBackend().cfg(t)
	r1 := startReplica(t, cfg)
	cfg2 := cfg
	cfg2.DataDir = ""
	r2 := startReplica(t, cfg2)
	ctx := context.Background()
	j, err := r1.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/sse.mp4"}, "")
	if err != nil {
		t.Fatal(err)
	}
	ag := enrollAgent(t, r1, "a", api.Capabilities{})
	l := ag.leaseOne(5 * time.Second)
	first := readEvents(t, r1.url, j.ID, "")
	var seen []sse
	for e := range first {
		seen = append(seen, e)
		if len(seen) == 2 {
			break // drop the connection after "running"
		}
	}
	if len(seen) != 2 || seen[0].event != "queued" || seen[1].event != "running" || seen[0].id != 1 || seen[1].id != 2 {
		t.Fatalf("first connection: %+v", seen)
	}
	if _, err := ag.c.Heartbeat(ctx, l.TaskID, api.HeartbeatRequest{Token: l.Token, Stage: "transcribe", Progress: 0.5}); err != nil {
		t.Fatal(err)
	}
	if err := ag.complete(l); err != nil {
		t.Fatal(err)
	}
	var resumed []sse
	timeout := time.After(20 * time.Second)
	stream := readEvents(t, r2.url, j.ID, strconv.Itoa(seen[1].id))
loop:
	for {
		select {
		case e, ok := <-stream:
			if !ok {
				break loop
			}
			resumed = append(resumed, e)
		case <-timeout:
			t.Fatalf("resumed stream did not end: %+v", resumed)
		}
	}
	if len(resumed) != 2 || resumed[0].id != 3 || resumed[0].job.Stage != "transcribe" || resumed[1].id != 4 ||
		resumed[1].event != "succeeded" || resumed[1].job.Result == nil {
		t.Fatalf("resumed: %+v", resumed)
	}
	// Resuming after the final event ends at once.
	if rest := readEvents(t, r1.url, j.ID, "4"); len(collect(rest)) != 0 {
		t.Fatal("events after the final one")
	}
}

func collect(c <-chan sse) []sse {
	var out []sse
	for e := range c {
		out = append(out, e)
	}
	return out
}

// TestResultCache: the same upload with the same options is answered from
// the cache (no agent leases a task, result.cached is true); other options
// or cache:false run again.
func TestResultCache(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			r := startReplica(t, b.cfg(t))
			ctx := context.Background()
			media := "RIFF....WAVEfmt fake media bytes for the cache test"
			first, err := r.admin.UploadJob(ctx, api.JobRequest{Language: "en"}, "talk.wav", strings.NewReader(media), "")
			if err != nil {
				t.Fatal(err)
			}
			ag := enrollAgent(t, r, "a", api.Capabilities{})
			if err := ag.complete(ag.leaseOne(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			done := waitStatus(t, r.admin, first.ID, api.JobSucceeded)
			if done.Result.Cached {
				t.Fatal("first run marked cached")
			}
			second, err := r.admin.UploadJob(ctx, api.JobRequest{Language: "en"}, "renamed.wav", strings.NewReader(media), "")
			if err != nil {
				t.Fatal(err)
			}
			if second.Status != api.JobSucceeded || second.Result == nil || !second.Result.Cached || !reflect.DeepEqual(second.Result.Result, done.Result.Result) {
				t.Fatalf("second submission: %+v", second)
			}
			if ls := ag.lease(300 * time.Millisecond); len(ls) != 0 {
				t.Fatalf("an agent leased %d tasks for a cached job", len(ls))
			}
			var sb strings.Builder
			if err := r.admin.Captions(ctx, second.ID, api.CaptionOptions{Format: "txt"}, &sb); err != nil || !strings.Contains(sb.String(), "Hello world") {
				t.Fatalf("cached captions %q, %v", sb.String(), err)
			}
			off := false
			for name, req := range map[string]api.JobRequest{"cache:false": {Language: "en", Cache: &off}, "other language": {Language: "de"}} {
				j, err := r.admin.UploadJob(ctx, req, "talk.wav", strings.NewReader(media), "")
				if err != nil {
					t.Fatal(err)
				}
				if j.Status != api.JobQueued {
					t.Fatalf("%s: %s, want a fresh run", name, j.Status)
				}
			}
		})
	}
}

// TestMetrics: /metrics has every family with sane values after a job.
func TestMetrics(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	j, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://www.youtube.com/watch?v=dQw4w9WgXcQ"}, "")
	if err != nil {
		t.Fatal(err)
	}
	ag := enrollAgent(t, r, "a", api.Capabilities{})
	l := ag.leaseOne(5 * time.Second)
	res := ag.upload(l, sampleTranscript())
	res.Timings = map[string]float64{"download": 0.5, "transcribe": 2.1}
	res.Engine, res.Model = "pocketsphinx", "en-us"
	if _, err := ag.c.Complete(ctx, l.TaskID, api.CompleteRequest{Token: l.Token, Result: res}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, r.admin, j.ID, api.JobSucceeded)
	if _, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://youtu.be/dQw4w9WgXcQ"}, ""); err != nil { // a cache hit
		t.Fatal(err)
	}
	if _, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/queued.mp4"}, ""); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, r.url+"/metrics", nil)
	resp, err := validatingClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`ytcaption_http_requests_total{code="202",method="POST",route="/v1/jobs"} 3`,
		`ytcaption_http_request_duration_seconds_count{method="POST",route="/v1/jobs"} 3`,
		`ytcaption_queue_depth{state="queued"} 1`,
		`ytcaption_queue_depth{state="leased"} 0`,
		`ytcaption_queue_oldest_age_seconds{state="queued"}`,
		`ytcaption_lease_wait_seconds_count 1`,
		`ytcaption_stage_duration_seconds_count{engine="pocketsphinx",model="en-us",stage="transcribe"} 1`,
		`ytcaption_realtime_factor_count{engine="pocketsphinx",model="en-us"} 1`,
		`ytcaption_downloads_total{outcome="success",site="youtube.com"} 1`,
		`ytcaption_webhook_attempts_total{outcome="delivered"} 0`,
		`ytcaption_cache_lookups_total{result="hit"} 1`,
		`ytcaption_cache_lookups_total{result="miss"} 1`,
		`ytcaption_agents{state="idle"} 1`,
		`ytcaption_jobs_finished_total{status="succeeded"} 2`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}
