package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

func multipartBody(t *testing.T, fields map[string]string, filename string, content []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", filename)
	_, _ = fw.Write(content)
	_ = mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			r := startReplica(t, b.cfg(t))
			ctx := context.Background()
			req := api.JobRequest{URL: "https://example.com/idem"}
			a, err := r.admin.SubmitJob(ctx, req, "key-1")
			if err != nil {
				t.Fatal(err)
			}
			again, err := r.admin.SubmitJob(ctx, req, "key-1")
			if err != nil || again.ID != a.ID {
				t.Fatalf("same key gave %s (%v), want %s", again.ID, err, a.ID)
			}
			other, err := r.admin.SubmitJob(ctx, req, "key-2")
			if err != nil || other.ID == a.ID {
				t.Fatalf("another key gave %s (%v)", other.ID, err)
			}
			// Another tenant's identical key is its own job.
			k, err := r.admin.CreateKey(ctx, api.KeyRequest{Tenant: "other", Role: "submitter"})
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := api.NewClient(r.url, k.Secret, validatingClient()).SubmitJob(ctx, req, "key-1")
			if err != nil || theirs.ID == a.ID || theirs.Tenant != "other" {
				t.Fatalf("other tenant: %+v %v", theirs, err)
			}
			// Same key, different request: refused, nothing created.
			_, err = r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/different"}, "key-1")
			wantErr(t, err, http.StatusUnprocessableEntity, api.CodeIdempotency)
			l, _ := r.admin.ListJobs(ctx, "", 100, "")
			if len(l.Jobs) != 3 {
				t.Fatalf("jobs: %d, want 3", len(l.Jobs))
			}
		})
	}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	var ids []string
	for i := range 7 {
		j, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: fmt.Sprintf("https://example.com/%d", i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		l, err := r.admin.ListJobs(ctx, api.JobQueued, 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range l.Jobs {
			seen = append(seen, j.ID)
		}
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 7 {
		t.Fatalf("saw %d jobs, want 7", len(seen))
	}
	for i := range seen { // newest first
		if seen[i] != ids[len(ids)-1-i] {
			t.Fatalf("order: %v vs submitted %v", seen, ids)
		}
	}
	l, _ := r.admin.ListJobs(ctx, api.JobSucceeded, 10, "")
	if len(l.Jobs) != 0 {
		t.Fatalf("succeeded filter: %d jobs", len(l.Jobs))
	}
}

// TestUpload sends media as multipart; the agent reads it back through the
// presigned source URL.
func TestUpload(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			r := startReplica(t, b.cfg(t))
			ctx := context.Background()
			content := bytes.Repeat([]byte("media-bytes-"), 10000)
			j, err := r.admin.UploadJob(ctx, api.JobRequest{Language: "en", Priority: intp(3)}, "talk.wav", bytes.NewReader(content), "")
			if err != nil {
				t.Fatalf("upload: %v", err)
			}
			if j.Source.Filename != "talk.wav" || j.Source.Size != int64(len(content)) || j.Language != "en" || j.Priority != 3 {
				t.Fatalf("upload job: %+v", j)
			}
			l := enrollAgent(t, r, "sim", api.Capabilities{}).leaseOne(5 * time.Second)
			if l.Spec.SourceURL == "" || l.Spec.URL != "" || l.Spec.Filename != "talk.wav" {
				t.Fatalf("lease spec: %+v", l.Spec)
			}
			resp, err := http.Get(l.Spec.SourceURL)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(got, content) {
				t.Fatalf("source URL: HTTP %d, %d bytes", resp.StatusCode, len(got))
			}
			// An empty file is refused.
			_, err = r.admin.UploadJob(ctx, api.JobRequest{}, "empty.wav", bytes.NewReader(nil), "")
			wantErr(t, err, http.StatusBadRequest, api.CodeInvalidRequest)
		})
	}
}

// TestLeaseExpiryRescue: an agent that stops heartbeating loses its lease;
// the task is re-leased with a new token, the first holder's late complete
// is rejected and changes nothing, and the second holder's is accepted.
// The second holder heartbeats, as agents do, so a slow machine cannot let
// its lease run out too.
func TestLeaseExpiryRescue(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			cfg := b.cfg(t)
			cfg.LeaseDuration = time.Second
			cfg.SweepInterval = 50 * time.Millisecond
			cfg.RetryPolicy = job.RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}
			r := startReplica(t, cfg)
			ctx := context.Background()
			first := enrollAgent(t, r, "doomed", api.Capabilities{})
			second := enrollAgent(t, r, "rescuer", api.Capabilities{})
			j, _ := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/rescue"}, "")
			l1 := first.leaseOne(5 * time.Second)
			// first goes silent; second waits for the rescued task.
			l2 := second.leaseOne(15 * time.Second)
			if l2.TaskID != l1.TaskID || l2.Token == l1.Token || l2.Attempt != 2 {
				t.Fatalf("re-lease: first %+v second %+v", l1, l2)
			}
			defer second.keepAlive(l2, cfg.LeaseDuration/10)()
			// The first holder wakes up: every call is stale.
			_, err := first.c.Heartbeat(ctx, l1.TaskID, api.HeartbeatRequest{Token: l1.Token})
			wantErr(t, err, http.StatusConflict, api.CodeStaleLease)
			err = first.complete(l1)
			wantErr(t, err, http.StatusConflict, api.CodeStaleLease)
			if got, _ := r.admin.GetJob(ctx, j.ID); got.Status != api.JobRunning {
				t.Fatalf("job after stale complete: %s", got.Status)
			}
			// Even with the current token, another agent's call is refused.
			_, err = first.c.Complete(ctx, l2.TaskID, api.CompleteRequest{Token: l2.Token, Result: api.TaskResult{Key: l2.Upload.Key}})
			wantErr(t, err, http.StatusConflict, api.CodeStaleLease)
			if err := second.complete(l2); err != nil {
				t.Fatalf("second complete: %v", err)
			}
			done := waitStatus(t, r.admin, j.ID, api.JobSucceeded)
			if done.Attempts != 2 {
				t.Fatalf("attempts %d, want 2", done.Attempts)
			}
		})
	}
}

// TestRetryBackoffAndMaxAttempts: retryable failures come back after a
// growing delay; the last allowed failure fails the job with the last error.
func TestRetryBackoffAndMaxAttempts(t *testing.T) {
	t.Parallel()
	cfg := sqliteBackend().cfg(t)
	cfg.SweepInterval = 20 * time.Millisecond
	cfg.RetryPolicy = job.RetryPolicy{MaxAttempts: 3, BaseDelay: 200 * time.Millisecond, MaxDelay: 2 * time.Second}
	r := startReplica(t, cfg)
	ctx := context.Background()
	ag := enrollAgent(t, r, "flaky", api.Capabilities{})
	j, _ := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/flaky"}, "")
	var failedAt time.Time
	var gaps []time.Duration
	for attempt := 1; attempt <= 3; attempt++ {
		l := ag.leaseOne(10 * time.Second)
		if attempt > 1 {
			gaps = append(gaps, time.Since(failedAt))
		}
		if l.Attempt != attempt {
			t.Fatalf("attempt %d, want %d", l.Attempt, attempt)
		}
		failedAt = time.Now()
		err := ag.c.Fail(ctx, l.TaskID, api.FailRequest{Token: l.Token, Retryable: true,
			Error: api.Error{Code: api.CodeDownloadFailed, Message: fmt.Sprintf("HTTP 503 on try %d", attempt)}})
		if err != nil {
			t.Fatalf("fail: %v", err)
		}
	}
	// Equal jitter: the wait after attempt n is at least BaseDelay*2^(n-1)/2.
	if gaps[0] < 100*time.Millisecond || gaps[1] < 200*time.Millisecond {
		t.Fatalf("retries did not back off: %v", gaps)
	}
	t.Logf("retry gaps: %v", gaps)
	done := waitStatus(t, r.admin, j.ID, api.JobFailed)
	if done.Error == nil || done.Error.Code != api.CodeMaxAttempts || !bytes.Contains([]byte(done.Error.Message), []byte("HTTP 503 on try 3")) {
		t.Fatalf("error: %+v", done.Error)
	}
	// Retry brings it back with a fresh budget.
	if _, err := r.admin.RetryJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	l := ag.leaseOne(5 * time.Second)
	if l.Attempt != 1 {
		t.Fatalf("after retry attempt %d", l.Attempt)
	}
}

func TestPermanentFailure(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	ag := enrollAgent(t, r, "a", api.Capabilities{})
	j, _ := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/private"}, "")
	l := ag.leaseOne(5 * time.Second)
	if err := ag.c.Fail(ctx, l.TaskID, api.FailRequest{Token: l.Token, Error: api.Error{Code: api.CodeSourcePrivate, Message: "Private video"}}); err != nil {
		t.Fatal(err)
	}
	done := waitStatus(t, r.admin, j.ID, api.JobFailed)
	if done.Error == nil || done.Error.Code != api.CodeSourcePrivate || done.Attempts != 1 {
		t.Fatalf("job: %+v %+v", done, done.Error)
	}
}

// TestCancelRunning: the holder learns of the cancel on its next heartbeat
// and can no longer complete.
func TestCancelRunning(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	ag := enrollAgent(t, r, "a", api.Capabilities{})
	j, _ := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/c"}, "")
	l := ag.leaseOne(5 * time.Second)
	c, err := r.admin.CancelJob(ctx, j.ID)
	if err != nil || c.Status != api.JobCanceled || c.FinishedAt == nil {
		t.Fatalf("cancel: %+v %v", c, err)
	}
	hb, err := ag.c.Heartbeat(ctx, l.TaskID, api.HeartbeatRequest{Token: l.Token})
	if err != nil || !hb.Cancel {
		t.Fatalf("heartbeat after cancel: %+v %v", hb, err)
	}
	wantErr(t, ag.complete(l), http.StatusConflict, api.CodeStaleLease)
	// A queued job cancels too, and is never leased.
	q, _ := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/q"}, "")
	if _, err := r.admin.CancelJob(ctx, q.ID); err != nil {
		t.Fatal(err)
	}
	if ls := ag.lease(300 * time.Millisecond); len(ls) != 0 {
		t.Fatalf("canceled job leased: %+v", ls)
	}
}

// TestReleaseDrainRevoke covers the hand-back, drain and revoke paths.
func TestReleaseDrainRevoke(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	a := enrollAgent(t, r, "a", api.Capabilities{})
	b := enrollAgent(t, r, "b", api.Capabilities{})
	j, _ := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/r"}, "")

	l := a.leaseOne(5 * time.Second)
	if err := a.c.Release(ctx, l.TaskID, api.ReleaseRequest{Token: l.Token, Reason: "shutting down"}); err != nil {
		t.Fatal(err)
	}
	lb := b.leaseOne(5 * time.Second) // requeued at once, attempt not counted
	if lb.TaskID != l.TaskID || lb.Attempt != 1 {
		t.Fatalf("after release: %+v", lb)
	}

	// Drain: a long-poll b began before it takes nothing after it; b is
	// told on heartbeat and on lease.
	polled := make(chan []api.Lease, 1)
	go func() { polled <- b.lease(2 * time.Second) }()
	waitFor(t, func() bool { return r.srv.Waiting() > 0 })
	if ag, err := r.admin.AgentAction(ctx, b.id, "drain"); err != nil || ag.State != "draining" {
		t.Fatalf("drain: %+v %v", ag, err)
	}
	j2, _ := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/r2"}, "")
	if ls := <-polled; len(ls) != 0 {
		t.Fatalf("a long-poll begun before the drain leased %+v after it", ls)
	}
	if l2 := a.leaseOne(5 * time.Second); l2.JobID != j2.ID {
		t.Fatalf("a leased %s, want %s", l2.JobID, j2.ID)
	} else if err := a.complete(l2); err != nil {
		t.Fatal(err)
	}
	hb, err := b.c.Heartbeat(ctx, lb.TaskID, api.HeartbeatRequest{Token: lb.Token})
	if err != nil || !hb.Drain {
		t.Fatalf("heartbeat drain: %+v %v", hb, err)
	}
	resp, err := b.c.Lease(ctx, api.LeaseRequest{Max: 1, WaitSeconds: 5})
	if err != nil || !resp.Drain || len(resp.Tasks) != 0 {
		t.Fatalf("lease while draining: %+v %v", resp, err)
	}
	if ag, err := r.admin.AgentAction(ctx, b.id, "resume"); err != nil || ag.State != "active" {
		t.Fatalf("resume: %+v %v", ag, err)
	}

	// Revoke: b is cut off, its task requeued for a.
	if _, err := r.admin.AgentAction(ctx, b.id, "revoke"); err != nil {
		t.Fatal(err)
	}
	_, err = b.c.Heartbeat(ctx, lb.TaskID, api.HeartbeatRequest{Token: lb.Token})
	wantErr(t, err, http.StatusUnauthorized, api.CodeAgentRevoked)
	la := a.leaseOne(5 * time.Second)
	if la.TaskID != l.TaskID {
		t.Fatalf("revoked agent's task not requeued")
	}
	if err := a.complete(la); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, r.admin, j.ID, api.JobSucceeded)

	agents, err := r.admin.ListAgents(ctx)
	if err != nil || len(agents.Agents) != 2 {
		t.Fatalf("agents: %+v %v", agents, err)
	}
}

// TestCapabilities: a task needing a label only goes to an agent that has it.
func TestCapabilities(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	plain := enrollAgent(t, r, "plain", api.Capabilities{})
	gpu := enrollAgent(t, r, "gpu", api.Capabilities{Labels: map[string]string{"gpu": "a100"}})
	j, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/g", Labels: map[string]string{"gpu": "a100"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if ls := plain.lease(200 * time.Millisecond); len(ls) != 0 {
		t.Fatalf("plain agent got the gpu task")
	}
	if l := gpu.leaseOne(5 * time.Second); l.JobID != j.ID {
		t.Fatalf("gpu agent got %s", l.JobID)
	}
}

// TestCrossReplicaWakeup: an agent long-polling replica B is woken by a job
// submitted on replica A through Redis. B's own look for ready work runs
// only once an hour, so within the agent's wait the Redis wake-up is the
// only way the job can reach it; the negative control shows that without
// it (a replica on another channel) the job does not. The wake-up latency
// is measured and reported, not asserted as a time.
func TestCrossReplicaWakeup(t *testing.T) {
	t.Parallel()
	cfg := postgresBackend().cfg(t)
	cfg.ReadyPoll, cfg.ReadyFallbackPoll = time.Hour, time.Hour
	a := startReplica(t, cfg)
	bcfg := cfg
	bcfg.DataDir = t.TempDir()
	b := startReplica(t, bcfg)
	ctx := context.Background()
	waitWakeups(t, b)
	ag := enrollAgent(t, a, "waiter", api.Capabilities{})

	// leaseAfterSubmit submits a job on A once the agent waits on r, and
	// returns what the agent's wait brought.
	leaseAfterSubmit := func(r *replica, i int, wait time.Duration) (api.Job, []api.Lease, time.Duration) {
		t.Helper()
		got := make(chan []api.Lease, 1)
		on := ag.on(r)
		go func() { got <- on.lease(wait) }()
		waitFor(t, func() bool { return r.srv.Waiting() > 0 })
		start := time.Now()
		j, err := a.admin.SubmitJob(ctx, api.JobRequest{URL: fmt.Sprintf("https://example.com/x%d", i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		ls := <-got
		return j, ls, time.Since(start)
	}

	var lat []time.Duration
	for i := range 5 {
		j, ls, d := leaseAfterSubmit(b, i, 25*time.Second)
		if len(ls) != 1 || ls[0].JobID != j.ID {
			t.Fatalf("leased %+v, want job %s", ls, j.ID)
		}
		lat = append(lat, d)
		if err := ag.complete(ls[0]); err != nil {
			t.Fatal(err)
		}
	}
	report(t, "cross_replica_wakeup", fmt.Sprintf("submit on A -> lease on B via Redis: %v", lat))

	// Negative control: replica C shares the database but listens on another
	// wake-up channel; its waiting agent is not told of A's job.
	ccfg := cfg
	ccfg.DataDir = t.TempDir()
	ccfg.RedisPrefix = cfg.RedisPrefix + "deaf:"
	c := startReplica(t, ccfg)
	waitWakeups(t, c)
	j, ls, _ := leaseAfterSubmit(c, 5, 2*time.Second)
	if len(ls) != 0 {
		t.Fatalf("replica C leased %+v without a wake-up: something other than Redis delivers work", ls)
	}
	// A fresh look finds the job at once.
	if l := ag.on(c).leaseOne(0); l.JobID != j.ID {
		t.Fatalf("leased %s, want %s", l.JobID, j.ID)
	}
}

// waitWakeups waits until r receives cross-replica wake-ups (its Redis
// subscription is confirmed), as its readiness report says.
func waitWakeups(t *testing.T, r *replica) {
	t.Helper()
	waitFor(t, func() bool {
		resp := rawGet(t, r, "/readyz", "")
		var h api.Health
		return json.NewDecoder(resp.Body).Decode(&h) == nil && h.Checks["wakeups"] == "ok"
	})
}

// report prints a measurement and appends it to $YTCAPTION_REPORT_DIR, which
// `make test` prints at the end of the run.
func report(t *testing.T, name, line string) {
	t.Log(line)
	if dir := os.Getenv("YTCAPTION_REPORT_DIR"); dir != "" {
		f, err := os.OpenFile(filepath.Join(dir, name+".txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s: %s\n", name, line)
			f.Close()
		}
	}
}

// TestShutdownReleasesLongPoll: a graceful stop answers waiting long-polls
// instead of cutting them.
func TestShutdownReleasesLongPoll(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ag := enrollAgent(t, r, "a", api.Capabilities{})
	done := make(chan error, 1)
	go func() {
		_, err := ag.c.Lease(context.Background(), api.LeaseRequest{Max: 1, WaitSeconds: 30})
		done <- err
	}()
	waitFor(t, func() bool { return r.srv.Waiting() == 1 })
	start := time.Now()
	r.stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("long-poll ended with %v, want an empty answer", err)
		}
		t.Logf("long-poll released %v after stop began", time.Since(start))
	case <-time.After(20 * time.Second):
		t.Fatal("long-poll still held after shutdown")
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	r := startReplica(t, postgresBackend().cfg(t))
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp := rawGet(t, r, p, ""); resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
}

// TestNULCharacters: PostgreSQL stores no NUL character. A request carrying
// one is refused with 400 where it is the client's to fix, and an agent's
// failure report (tools' output may hold any byte) is stored without it,
// instead of either answering 500.
func TestNULCharacters(t *testing.T) {
	t.Parallel()
	r := startReplica(t, postgresBackend().cfg(t))
	ctx := context.Background()
	_, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/a", Metadata: map[string]any{"k": "a\x00b"}}, "")
	wantErr(t, err, http.StatusBadRequest, api.CodeInvalidRequest)

	ag := enrollAgent(t, r, "a", api.Capabilities{})
	j, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/a"}, "")
	if err != nil {
		t.Fatal(err)
	}
	l := ag.leaseOne(5 * time.Second)
	_, err = ag.c.Heartbeat(ctx, l.TaskID, api.HeartbeatRequest{Token: l.Token, Stage: "bad\x00stage", Progress: 0.1})
	wantErr(t, err, http.StatusBadRequest, api.CodeInvalidRequest)
	if err := ag.c.Fail(ctx, l.TaskID, api.FailRequest{Token: l.Token, Error: api.Error{Code: api.CodeUndecodable, Message: "ffmpeg: \x00garbage"}}); err != nil {
		t.Fatalf("fail with a NUL in the message: %v", err)
	}
	done := waitStatus(t, r.admin, j.ID, api.JobFailed)
	if done.Error == nil || done.Error.Message != "ffmpeg: garbage" {
		t.Fatalf("job error %+v", done.Error)
	}
}

// TestCompleteLeasesNext: a completion that asks for the next task gets it
// in the same call, once the server has announced the feature; asking
// finds nothing when the queue is empty, and is told to drain when the
// agent is draining — the completion stands in every case. A completion
// that does not ask is answered as before, and a bad next.max changes
// nothing.
func TestCompleteLeasesNext(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			r := startReplica(t, b.cfg(t))
			ctx := context.Background()
			a := enrollAgent(t, r, "chain", api.Capabilities{})
			var jobs []string
			for i := range 3 {
				j, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: fmt.Sprintf("https://example.com/next/%d", i)}, "")
				if err != nil {
					t.Fatal(err)
				}
				jobs = append(jobs, j.ID)
			}
			resp, err := a.c.Lease(ctx, api.LeaseRequest{Max: 1, WaitSeconds: 5})
			if err != nil || len(resp.Tasks) != 1 {
				t.Fatalf("lease: %+v %v", resp, err)
			}
			if !slices.Contains(resp.Features, api.FeatureCompleteNext) {
				t.Fatalf("lease reply announces %v, want %s", resp.Features, api.FeatureCompleteNext)
			}
			l := resp.Tasks[0]
			for _, max := range []int{0, 101} {
				_, err := a.c.Complete(ctx, l.TaskID, api.CompleteRequest{Token: l.Token, Result: a.upload(l, sampleTranscript()),
					Next: &api.NextRequest{Max: max}})
				wantErr(t, err, http.StatusBadRequest, api.CodeInvalidRequest)
			}
			if got, _ := r.admin.GetJob(ctx, l.JobID); got.Status != api.JobRunning {
				t.Fatalf("job after refused completions: %s", got.Status)
			}

			// Three tasks in one lease and two completions; the second asks
			// for more than is left.
			seen := map[string]bool{l.JobID: true}
			for _, max := range []int{1, 5} {
				out, err := a.c.Complete(ctx, l.TaskID, api.CompleteRequest{Token: l.Token, Result: a.upload(l, sampleTranscript()),
					Next: &api.NextRequest{Max: max}})
				if err != nil || len(out.Next.Tasks) != 1 || out.Next.Drain {
					t.Fatalf("complete with next: %+v %v", out, err)
				}
				l = out.Next.Tasks[0]
				if seen[l.JobID] || l.Upload.URL == "" || l.Token == 0 {
					t.Fatalf("next lease %+v (seen %v)", l, seen)
				}
				seen[l.JobID] = true
			}
			out, err := a.c.Complete(ctx, l.TaskID, api.CompleteRequest{Token: l.Token, Result: a.upload(l, sampleTranscript()),
				Next: &api.NextRequest{Max: 1}})
			if err != nil || len(out.Next.Tasks) != 0 {
				t.Fatalf("complete with next on an empty queue: %+v %v", out, err)
			}
			for _, id := range jobs {
				waitStatus(t, r.admin, id, api.JobSucceeded)
			}

			// Without next: 204, nothing leased (the fourth job stays queued).
			j4, _ := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/next/4"}, "")
			l4 := a.leaseOne(5 * time.Second)
			j5, _ := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/next/5"}, "")
			out, err = a.c.Complete(ctx, l4.TaskID, api.CompleteRequest{Token: l4.Token, Result: a.upload(l4, sampleTranscript())})
			if err != nil || out.Next.Tasks != nil {
				t.Fatalf("plain complete: %+v %v", out, err)
			}
			waitStatus(t, r.admin, j4.ID, api.JobSucceeded)
			if got, _ := r.admin.GetJob(ctx, j5.ID); got.Status != api.JobQueued {
				t.Fatalf("job 5 after a plain completion: %s, want queued", got.Status)
			}

			// Draining: the completion stands, nothing more is leased.
			l5 := a.leaseOne(5 * time.Second)
			r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/next/6"}, "")
			if _, err := r.admin.AgentAction(ctx, a.id, "drain"); err != nil {
				t.Fatal(err)
			}
			out, err = a.c.Complete(ctx, l5.TaskID, api.CompleteRequest{Token: l5.Token, Result: a.upload(l5, sampleTranscript()),
				Next: &api.NextRequest{Max: 1}})
			if err != nil || !out.Next.Drain || len(out.Next.Tasks) != 0 {
				t.Fatalf("complete with next while draining: %+v %v", out, err)
			}
			waitStatus(t, r.admin, j5.ID, api.JobSucceeded)
		})
	}
}
