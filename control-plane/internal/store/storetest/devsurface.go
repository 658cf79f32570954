package storetest

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// devSurfaceTests are the conformance tests of store.DevSurface.
func devSurfaceTests() []struct {
	name string
	fn   func(t *testing.T, s store.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"JobEventLog", testJobEventLog},
		{"WebhookOutbox", testWebhookOutbox},
		{"WebhookEndpoints", testWebhookEndpoints},
		{"WebhookSecrets", testWebhookSecrets},
		{"ResultCache", testResultCache},
		{"QueueStats", testQueueStats},
	}
}

func sampleResult(j job.Job) api.TaskResult {
	return api.TaskResult{Key: "results/" + j.ID + "/t.json", Result: api.Result{Language: "en", Duration: 4,
		Engine: "pocketsphinx", Segments: 2, Words: 6, Timings: map[string]float64{"transcribe": 1.5}}}
}

// testJobEventLog: every change of status, stage or progress is one event
// with the next sequence number, written with the change; a no-op is none.
func testJobEventLog(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	j, _ := create(t, s, at, spec{})
	tk := leaseOne(t, s, at.Add(time.Second), "")
	hb := store.Heartbeat{TaskID: tk.ID, Token: tk.Token, Stage: "transcribe", Progress: 0.5, Now: at.Add(2 * time.Second), Deadline: at.Add(time.Minute)}
	_, err := s.Heartbeat(ctx, hb)
	noErr(t, "Heartbeat", err)
	hb.Now = at.Add(3 * time.Second)
	_, err = s.Heartbeat(ctx, hb) // same stage and progress: no event
	noErr(t, "Heartbeat again", err)
	_, err = s.CompleteTask(ctx, store.Completion{TaskID: tk.ID, Token: tk.Token, Result: sampleResult(j), Now: at.Add(4 * time.Second)})
	noErr(t, "CompleteTask", err)

	evs, err := s.JobEvents(ctx, j.ID, 0, 0)
	noErr(t, "JobEvents", err)
	var got []string
	for i, e := range evs {
		if e.Seq != int64(i+1) || e.JobID != j.ID || e.Job.ID != j.ID || e.Job.Status != e.Status {
			t.Fatalf("event %d: %+v", i, e)
		}
		got = append(got, string(e.Status)+"/"+e.Stage)
	}
	want := []string{"queued/", "running/", "running/transcribe", "succeeded/transcribe"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	if last := evs[len(evs)-1]; last.Job.Result == nil || last.Job.FinishedAt == nil {
		t.Fatalf("final event lacks the result: %+v", last.Job)
	}
	rest, err := s.JobEvents(ctx, j.ID, 2, 0)
	noErr(t, "JobEvents after 2", err)
	if len(rest) != 2 || rest[0].Seq != 3 {
		t.Fatalf("events after 2: %+v", rest)
	}
	page, err := s.JobEvents(ctx, j.ID, 0, 1)
	noErr(t, "JobEvents limit 1", err)
	if len(page) != 1 || page[0].Seq != 1 {
		t.Fatalf("limit 1: %+v", page)
	}
}

// testWebhookOutbox: a final job enqueues its events in the same change;
// claimed deliveries are hidden until their claim runs out; attempts are
// logged; redelivery makes a delivery due again.
func testWebhookOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	noErr(t, "CreateWebhookEndpoint", s.CreateWebhookEndpoint(ctx, store.WebhookEndpoint{
		ID: "ep-all", Tenant: "acme", URL: "https://hooks.example.com/all", Events: []string{api.EventJobProgress, api.EventJobSucceeded}, CreatedAt: at}))
	noErr(t, "CreateWebhookEndpoint", s.CreateWebhookEndpoint(ctx, store.WebhookEndpoint{
		ID: "ep-other", Tenant: "other", URL: "https://hooks.example.com/other", CreatedAt: at}))
	j, tasks := build(at, spec{})
	j.Spec.WebhookURL = "https://hooks.example.com/job"
	_, _, err := s.CreateJob(ctx, j, tasks, store.JobMeta{})
	noErr(t, "CreateJob", err)
	tk := leaseOne(t, s, at, "")
	_, err = s.CompleteTask(ctx, store.Completion{TaskID: tk.ID, Token: tk.Token, Result: sampleResult(j), Now: at.Add(time.Second)})
	noErr(t, "CompleteTask", err)

	all, err := s.ListWebhookDeliveries(ctx, store.DeliveryFilter{JobID: j.ID})
	noErr(t, "ListWebhookDeliveries", err)
	byURL := map[string][]string{}
	for _, d := range all {
		if d.Tenant != "acme" || d.Status != api.DeliveryPending || d.NextAttemptAt == nil {
			t.Fatalf("delivery %+v", d)
		}
		var ev api.WebhookEvent
		noErr(t, "decode payload", json.Unmarshal(d.Payload, &ev))
		if ev.ID != d.EventID || ev.Type != d.EventType || ev.Data.Job.ID != j.ID {
			t.Fatalf("payload %s does not match delivery %+v", d.Payload, d)
		}
		byURL[d.URL] = append(byURL[d.URL], d.EventType)
	}
	if got := byURL["https://hooks.example.com/job"]; !reflect.DeepEqual(got, []string{api.EventJobSucceeded}) {
		t.Fatalf("job webhook got %v", got)
	}
	if got := byURL["https://hooks.example.com/all"]; len(got) != 2 {
		t.Fatalf("endpoint got %v, want job.progress (running) and job.succeeded", got)
	}
	if len(byURL["https://hooks.example.com/other"]) != 0 {
		t.Fatal("another tenant's endpoint got an event")
	}

	now := at.Add(2 * time.Second)
	claimed, err := s.ClaimWebhookDeliveries(ctx, now, now.Add(time.Minute), 10)
	noErr(t, "Claim", err)
	if len(claimed) != 3 {
		t.Fatalf("claimed %d, want 3", len(claimed))
	}
	again, err := s.ClaimWebhookDeliveries(ctx, now, now.Add(time.Minute), 10)
	noErr(t, "Claim again", err)
	if len(again) != 0 {
		t.Fatalf("claimed %d deliveries twice", len(again))
	}
	d := claimed[0]
	next := now.Add(10 * time.Second)
	noErr(t, "Record failure", s.RecordWebhookAttempt(ctx, store.WebhookAttempt{DeliveryID: d.ID, At: now, StatusCode: 500,
		Error: "HTTP 500", Duration: 20 * time.Millisecond}, api.DeliveryPending, &next))
	noErr(t, "Record success", s.RecordWebhookAttempt(ctx, store.WebhookAttempt{DeliveryID: d.ID, At: next, StatusCode: 204,
		Duration: 5 * time.Millisecond}, api.DeliveryDelivered, nil))
	got, err := s.GetWebhookDelivery(ctx, "acme", d.ID)
	noErr(t, "GetWebhookDelivery", err)
	if got.Status != api.DeliveryDelivered || got.Attempts != 2 || got.NextAttemptAt != nil || len(got.AttemptLog) != 2 ||
		got.AttemptLog[0].N != 1 || got.AttemptLog[0].StatusCode != 500 || got.AttemptLog[1].N != 2 {
		t.Fatalf("after two attempts: %+v", got)
	}
	_, err = s.GetWebhookDelivery(ctx, "other", d.ID)
	wantErr(t, "GetWebhookDelivery of another tenant", err, store.ErrNotFound)

	later := now.Add(time.Hour)
	red, err := s.RedeliverWebhook(ctx, "acme", d.ID, later)
	noErr(t, "RedeliverWebhook", err)
	if red.Status != api.DeliveryPending || red.NextAttemptAt == nil || !red.WindowStart.Equal(later) {
		t.Fatalf("redelivered: %+v", red)
	}
	due, err := s.ClaimWebhookDeliveries(ctx, later, later.Add(time.Minute), 10)
	noErr(t, "Claim redelivery", err)
	found := false
	for _, x := range due {
		found = found || x.ID == d.ID
	}
	if !found {
		t.Fatal("redelivered delivery not due")
	}
	_, err = s.RedeliverWebhook(ctx, "acme", "whd_missing", later)
	wantErr(t, "RedeliverWebhook unknown", err, store.ErrNotFound)

	// A job born finished from the cache sends its job.succeeded as it is
	// created, to its own webhook_url and to its tenant's endpoints.
	hit, hitTasks := build(at, spec{})
	hit.Spec.WebhookURL = "https://hooks.example.com/hit"
	hit, hitTasks = job.AnswerFromCache(hit, hitTasks, "results/cached.json", api.Result{Language: "en"})
	_, _, err = s.CreateJob(ctx, hit, hitTasks, store.JobMeta{})
	noErr(t, "CreateJob from the cache", err)
	born, err := s.ListWebhookDeliveries(ctx, store.DeliveryFilter{JobID: hit.ID})
	noErr(t, "ListWebhookDeliveries", err)
	sent := map[string]string{}
	for _, d := range born {
		sent[d.URL] = d.EventType
	}
	if want := map[string]string{"https://hooks.example.com/hit": api.EventJobSucceeded,
		"https://hooks.example.com/all": api.EventJobSucceeded}; !reflect.DeepEqual(sent, want) {
		t.Fatalf("deliveries of a job born finished: %v, want %v", sent, want)
	}
}

func testWebhookEndpoints(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	for _, e := range []store.WebhookEndpoint{
		{ID: "a", Tenant: "acme", URL: "https://a.example.com", CreatedAt: at},
		{ID: "b", Tenant: "acme", URL: "https://b.example.com", Events: []string{api.EventJobFailed}, CreatedAt: at.Add(time.Second)},
		{ID: "c", Tenant: "globex", URL: "https://c.example.com", CreatedAt: at},
	} {
		noErr(t, "CreateWebhookEndpoint", s.CreateWebhookEndpoint(ctx, e))
	}
	err := s.CreateWebhookEndpoint(ctx, store.WebhookEndpoint{ID: "a", Tenant: "acme", URL: "https://x", CreatedAt: at})
	wantErr(t, "duplicate endpoint id", err, store.ErrConflict)
	l, err := s.ListWebhookEndpoints(ctx, "acme")
	noErr(t, "ListWebhookEndpoints", err)
	if len(l) != 2 || l[0].ID != "a" || !reflect.DeepEqual(l[1].Events, []string{api.EventJobFailed}) || len(l[0].Events) != 0 {
		t.Fatalf("acme endpoints: %+v", l)
	}
	all, err := s.ListWebhookEndpoints(ctx, "")
	noErr(t, "ListWebhookEndpoints all", err)
	if len(all) != 3 {
		t.Fatalf("all endpoints: %d", len(all))
	}
	wantErr(t, "delete another tenant's endpoint", s.DeleteWebhookEndpoint(ctx, "acme", "c"), store.ErrNotFound)
	noErr(t, "DeleteWebhookEndpoint", s.DeleteWebhookEndpoint(ctx, "acme", "a"))
	wantErr(t, "delete twice", s.DeleteWebhookEndpoint(ctx, "acme", "a"), store.ErrNotFound)
}

func testWebhookSecrets(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	secretsOf := func(ws []store.WebhookSecret) []string {
		var out []string
		for _, w := range ws {
			out = append(out, w.Secret)
		}
		return out
	}
	first, err := s.WebhookSecrets(ctx, "acme", "s1", at)
	noErr(t, "WebhookSecrets", err)
	again, err := s.WebhookSecrets(ctx, "acme", "s-other", at.Add(time.Second))
	noErr(t, "WebhookSecrets again", err)
	if !reflect.DeepEqual(secretsOf(first), []string{"s1"}) || !reflect.DeepEqual(secretsOf(again), []string{"s1"}) {
		t.Fatalf("first use: %v then %v", secretsOf(first), secretsOf(again))
	}
	r1, err := s.RotateWebhookSecret(ctx, "acme", "s2", at.Add(time.Minute))
	noErr(t, "Rotate", err)
	r2, err := s.RotateWebhookSecret(ctx, "acme", "s3", at.Add(2*time.Minute))
	noErr(t, "Rotate again", err)
	if !reflect.DeepEqual(secretsOf(r1), []string{"s2", "s1"}) || !reflect.DeepEqual(secretsOf(r2), []string{"s3", "s2"}) {
		t.Fatalf("rotation: %v then %v", secretsOf(r1), secretsOf(r2))
	}
	now, err := s.WebhookSecrets(ctx, "acme", "unused", at.Add(3*time.Minute))
	noErr(t, "WebhookSecrets after rotation", err)
	if !reflect.DeepEqual(secretsOf(now), []string{"s3", "s2"}) {
		t.Fatalf("after rotation: %v", secretsOf(now))
	}
	other, err := s.WebhookSecrets(ctx, "globex", "g1", at)
	noErr(t, "other tenant", err)
	if !reflect.DeepEqual(secretsOf(other), []string{"g1"}) {
		t.Fatalf("other tenant: %v", secretsOf(other))
	}
}

// testResultCache: a job with a cache key that succeeds fills the cache in
// the same change; a job without one does not.
func testResultCache(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	j, tasks := build(at, spec{})
	_, _, err := s.CreateJob(ctx, j, tasks, store.JobMeta{CacheKey: "k1", Traceparent: "00-abc-def-01"})
	noErr(t, "CreateJob with meta", err)
	m, err := s.GetJobMeta(ctx, j.ID)
	noErr(t, "GetJobMeta", err)
	if m.CacheKey != "k1" || m.Traceparent != "00-abc-def-01" || m.Tenant != j.Tenant {
		t.Fatalf("meta %+v", m)
	}
	_, err = s.GetJobMeta(ctx, "nope")
	wantErr(t, "GetJobMeta unknown", err, store.ErrNotFound)
	_, err = s.LookupCache(ctx, j.Tenant, "k1")
	wantErr(t, "LookupCache before success", err, store.ErrNotFound)

	// The lease hands out the trace context recorded with the job.
	ls, err := s.LeaseTasks(ctx, store.LeaseParams{AgentID: agentID, Capabilities: defaultCaps(), Max: 1, Now: at, Deadline: at.Add(time.Minute)})
	noErr(t, "LeaseTasks", err)
	if len(ls) != 1 || ls[0].Traceparent != "00-abc-def-01" || ls[0].Job.ID != j.ID {
		t.Fatalf("leased %+v, want job %s with its trace context", ls, j.ID)
	}
	tk := ls[0].Task
	res := sampleResult(j)
	_, err = s.CompleteTask(ctx, store.Completion{TaskID: tk.ID, Token: tk.Token, Result: res, Now: at.Add(time.Second)})
	noErr(t, "CompleteTask", err)
	e, err := s.LookupCache(ctx, j.Tenant, "k1")
	noErr(t, "LookupCache", err)
	if e.JobID != j.ID || e.ResultKey != res.Key || !reflect.DeepEqual(e.Result, res.Result) {
		t.Fatalf("cache entry %+v", e)
	}
	_, err = s.LookupCache(ctx, "other", "k1")
	wantErr(t, "LookupCache other tenant", err, store.ErrNotFound)
	noErr(t, "DeleteCache", s.DeleteCache(ctx, j.Tenant, "k1"))
	_, err = s.LookupCache(ctx, j.Tenant, "k1")
	wantErr(t, "LookupCache after delete", err, store.ErrNotFound)
}

func testQueueStats(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	create(t, s, at, spec{})
	create(t, s, at.Add(time.Second), spec{})
	create(t, s, at.Add(2*time.Second), spec{})
	leaseOne(t, s, at.Add(5*time.Second), "")
	stats, err := s.QueueStats(ctx)
	noErr(t, "QueueStats", err)
	got := map[string]store.QueueStat{}
	for _, q := range stats {
		got[q.State] = q
	}
	if got["queued"].Count != 2 || got["leased"].Count != 1 {
		t.Fatalf("stats %+v", stats)
	}
	sameTime(t, "oldest queued", got["queued"].Oldest, at.Add(time.Second))
}
