// Package storetest is the conformance suite of store.Store. Each backend's
// tests call Run with a function that opens a fresh store; every behaviour is
// a subtest on its own store, driven with explicit times (no sleeping).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// Run runs every conformance test. open must return a new, migrated, empty
// store and close it when the test ends (t.Cleanup); it is called once per
// subtest, and subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateAndGetJob", testCreateAndGetJob},
		{"CreatedJobReadsBack", testCreatedJobReadsBack},
		{"ConcurrentGetJob", testConcurrentGetJob},
		{"ListJobsPaging", testListJobsPaging},
		{"ListJobsFilters", testListJobsFilters},
		{"Idempotency", testIdempotency},
		{"ConcurrentCreate", testConcurrentCreate},
		{"LeaseOrder", testLeaseOrder},
		{"LeaseRunAt", testLeaseRunAt},
		{"NextRunAt", testNextRunAt},
		{"LeaseCapabilities", testLeaseCapabilities},
		{"LeaseMax", testLeaseMax},
		{"LeaseDrainingAgent", testLeaseDrainingAgent},
		{"ConcurrentLease", testConcurrentLease},
		{"HeartbeatExtends", testHeartbeatExtends},
		{"StaleTokenRejected", testStaleTokenRejected},
		{"CompleteUpdatesJob", testCompleteUpdatesJob},
		{"RetryableFailBacksOff", testRetryableFailBacksOff},
		{"MaxAttemptsFailsJob", testMaxAttemptsFailsJob},
		{"PermanentFailFailsJob", testPermanentFailFailsJob},
		{"ReleaseRequeues", testReleaseRequeues},
		{"RescueExpired", testRescueExpired},
		{"RescueLimit", testRescueLimit},
		{"CancelQueued", testCancelQueued},
		{"CancelLeased", testCancelLeased},
		{"RetryJob", testRetryJob},
		{"MultiTaskJob", testMultiTaskJob},
		{"MultiTaskJobFailure", testMultiTaskJobFailure},
		{"Enrollment", testEnrollment},
		{"Agents", testAgents},
		{"RevokeAgentRequeues", testRevokeAgentRequeues},
		{"APIKeys", testAPIKeys},
		{"Leadership", testLeadership},
		{"Ping", testPing},
		{"Stats", testStats},
		{"StatsMore", testStatsMore},
	}
	tests = append(tests, devSurfaceTests()...)
	tests = append(tests, securityTests()...)
	tests = append(tests, agentTokenTests()...)
	tests = append(tests, graphTests()...)
	tests = append(tests, fairnessTests()...)
	tests = append(tests, agentTasksTests()...)
	tests = append(tests, nextTests()...)
	tests = append(tests, adminTests()...)
	tests = append(tests, runsTests()...)
	tests = append(tests, mediaTests()...)
	tests = append(tests, artifactTests()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// epoch is the suite's fixed "now"; tests move time by adding to it.
func epoch() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }

const agentID = "agent-1"

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func defaultPolicy() job.RetryPolicy {
	return job.RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Second, MaxDelay: time.Minute}
}

func defaultCaps() api.Capabilities {
	return api.Capabilities{Engines: []api.EngineCapability{{Name: "pocketsphinx"}}, Slots: 4}
}

// spec describes a job to create; zero fields take defaults.
type spec struct {
	Tenant      string
	Priority    int
	Labels      map[string]string
	Engine      string
	Kind        string
	Key         string
	Hash        string
	MaxAttempts int
	RunAt       time.Time
	URL         string
	// ChunkSeconds > 0 plans a prepare task that may split the job.
	ChunkSeconds float64
}

func create(t *testing.T, s store.Store, at time.Time, sp spec) (job.Job, job.Task) {
	t.Helper()
	j, tasks := build(at, sp)
	out, created, err := s.CreateJob(context.Background(), j, tasks, store.JobMeta{})
	if err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	if !created {
		t.Fatalf("CreateJob: created = false for a new job")
	}
	return out, tasks[0]
}

func build(at time.Time, sp spec) (job.Job, []job.Task) {
	if sp.Tenant == "" {
		sp.Tenant = "acme"
	}
	if sp.MaxAttempts == 0 {
		sp.MaxAttempts = defaultPolicy().MaxAttempts
	}
	if sp.URL == "" {
		sp.URL = "https://media.example.com/talk.mp4"
	}
	j := job.Job{
		ID:     newID(),
		Tenant: sp.Tenant,
		Spec: job.Spec{
			URL:      sp.URL,
			Language: "en",
			Task:     api.TaskTranscribe,
			Priority: sp.Priority,
			Captions: api.CaptionsPreferExisting,
			Cache:    true,
			Metadata: map[string]any{"course": "intro", "lesson": "one"},
			Labels:   sp.Labels,
			// Zero keeps the job one caption task.
			ChunkSeconds: sp.ChunkSeconds,
		},
		IdempotencyKey: sp.Key,
		CreatedAt:      at,
		UpdatedAt:      at,
	}
	j.RequestHash = j.Spec.Hash()
	if sp.Hash != "" {
		j.RequestHash = sp.Hash
	}
	tasks := job.Plan(j, newID, sp.MaxAttempts)
	tasks[0].Requires.Engine = sp.Engine
	if sp.Kind != "" {
		tasks[0].Kind = sp.Kind
	}
	if !sp.RunAt.IsZero() {
		tasks[0].RunAt = sp.RunAt
	}
	return j, tasks
}

func lease(t *testing.T, s store.Store, now time.Time, max int, caps api.Capabilities) []job.Task {
	t.Helper()
	return leaseAs(t, s, agentID, now, max, caps)
}

func leaseAs(t *testing.T, s store.Store, agent string, now time.Time, max int, caps api.Capabilities) []job.Task {
	t.Helper()
	got, err := s.LeaseTasks(context.Background(), store.LeaseParams{
		AgentID: agent, Capabilities: caps, Max: max, Now: now, Deadline: now.Add(time.Minute),
	})
	if err != nil {
		t.Fatalf("LeaseTasks: %v", err)
	}
	for _, l := range got {
		if l.Job.ID != l.JobID || l.Job.Status != api.JobRunning {
			t.Fatalf("leased task %s came with job %s (%s), want its own job, running", l.ID, l.Job.ID, l.Job.Status)
		}
	}
	return tasksOf(got)
}

func tasksOf(ls []store.Leased) []job.Task {
	out := make([]job.Task, len(ls))
	for i, l := range ls {
		out[i] = l.Task
	}
	return out
}

// leaseOne leases at now and requires exactly one task, with the given id if set.
func leaseOne(t *testing.T, s store.Store, now time.Time, wantID string) job.Task {
	t.Helper()
	got := lease(t, s, now, 1, defaultCaps())
	if len(got) != 1 {
		t.Fatalf("LeaseTasks at %s: got %d tasks, want 1", now.Format(time.TimeOnly), len(got))
	}
	if wantID != "" && got[0].ID != wantID {
		t.Fatalf("LeaseTasks: leased %s, want %s", got[0].ID, wantID)
	}
	return got[0]
}

func getJob(t *testing.T, s store.Store, id string) job.Job {
	t.Helper()
	j, err := s.GetJob(context.Background(), "", id)
	if err != nil {
		t.Fatalf("GetJob(%s): %v", id, err)
	}
	return j
}

func getTask(t *testing.T, s store.Store, id string) job.Task {
	t.Helper()
	tk, err := s.GetTask(context.Background(), id)
	if err != nil {
		t.Fatalf("GetTask(%s): %v", id, err)
	}
	return tk
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s = %s, want %s", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
}

func ids[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

func jobIDs(js []job.Job) []string   { return ids(js, func(j job.Job) string { return j.ID }) }
func taskIDs(ts []job.Task) []string { return ids(ts, func(t job.Task) string { return t.ID }) }

// testCreatedJobReadsBack: the job CreateJob returns is the job GetJob
// reads, to the last field, for times finer than a microsecond and outside
// UTC, JSON columns holding numbers and nested objects, and a job born
// finished from the cache (result and finished_at set).
func testCreatedJobReadsBack(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch().Add(123456789 * time.Nanosecond).In(time.FixedZone("UTC+5", 5*3600))
	queued, qTasks := build(at, spec{Key: "reads-back", Labels: map[string]string{"zone": "eu"}})
	queued.Spec.Metadata = map[string]any{"n": 1.5, "nested": map[string]any{"list": []any{"a", 2.0}}}
	cached, cTasks := build(at, spec{})
	cached, cTasks = job.AnswerFromCache(cached, cTasks, "results/cached.json",
		api.Result{Language: "en", Duration: 12.25, Segments: 3, Words: 17, Timings: map[string]float64{"transcribe": 0.5}})
	var out job.Job
	for _, c := range []struct {
		j     job.Job
		tasks []job.Task
	}{{queued, qTasks}, {cached, cTasks}} {
		var created bool
		var err error
		out, created, err = s.CreateJob(ctx, c.j, c.tasks, store.JobMeta{})
		noErr(t, "CreateJob", err)
		if !created {
			t.Fatal("created = false")
		}
		got, err := s.GetJob(ctx, "", c.j.ID)
		noErr(t, "GetJob", err)
		if !reflect.DeepEqual(got, out) {
			t.Fatalf("GetJob = %+v\nCreateJob returned %+v", got, out)
		}
		sameTime(t, "CreatedAt", out.CreatedAt, at.Truncate(time.Microsecond))
	}
	if out.Status != api.JobSucceeded || out.FinishedAt == nil || out.Result == nil {
		t.Fatalf("the cached job is not born finished: %+v", out)
	}
}

func testCreateAndGetJob(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	j, tasks := build(at, spec{Labels: map[string]string{"zone": "eu"}})
	out, created, err := s.CreateJob(ctx, j, tasks, store.JobMeta{})
	noErr(t, "CreateJob", err)
	if !created {
		t.Fatal("created = false")
	}
	if out.ID != j.ID || out.Tenant != "acme" || out.Status != api.JobQueued || out.Attempts != 0 ||
		out.FinishedAt != nil || out.Error != nil || out.Result != nil || out.RequestHash != j.RequestHash {
		t.Fatalf("created job = %+v", out)
	}
	sameTime(t, "CreatedAt", out.CreatedAt, at)
	if !reflect.DeepEqual(out.Spec, j.Spec) {
		t.Fatalf("Spec round trip:\n got %+v\nwant %+v", out.Spec, j.Spec)
	}
	for _, tenant := range []string{"acme", ""} {
		got, err := s.GetJob(ctx, tenant, j.ID)
		noErr(t, "GetJob tenant "+tenant, err)
		if !reflect.DeepEqual(got, out) {
			t.Fatalf("GetJob(%q) = %+v, want %+v", tenant, got, out)
		}
	}
	_, err = s.GetJob(ctx, "other", j.ID)
	wantErr(t, "GetJob other tenant", err, store.ErrNotFound)
	_, err = s.GetJob(ctx, "", newID())
	wantErr(t, "GetJob unknown", err, store.ErrNotFound)

	got, err := s.JobTasks(ctx, j.ID)
	noErr(t, "JobTasks", err)
	if len(got) != 1 {
		t.Fatalf("JobTasks: %d tasks, want 1", len(got))
	}
	tk := got[0]
	if tk.ID != tasks[0].ID || tk.JobID != j.ID || tk.Tenant != "acme" || tk.Kind != job.KindCaption ||
		tk.State != job.TaskQueued || tk.Attempt != 0 || tk.MaxAttempts != 3 || tk.Token != 0 ||
		!reflect.DeepEqual(tk.Requires, job.Requirements{Labels: map[string]string{"zone": "eu"}}) {
		t.Fatalf("task = %+v", tk)
	}
	sameTime(t, "RunAt", tk.RunAt, at)
	if one := getTask(t, s, tk.ID); !reflect.DeepEqual(one, tk) {
		t.Fatalf("GetTask = %+v, want %+v", one, tk)
	}
	_, err = s.GetTask(ctx, newID())
	wantErr(t, "GetTask unknown", err, store.ErrNotFound)

	// The same id again is a conflict, not a silent overwrite.
	j2, tasks2 := build(at, spec{})
	j2.ID = j.ID
	_, _, err = s.CreateJob(ctx, j2, tasks2, store.JobMeta{})
	wantErr(t, "CreateJob duplicate id", err, store.ErrConflict)
}

// testConcurrentGetJob reads jobs from many goroutines at once (reads that
// a backend may batch): the same job asked for by several callers, in its
// tenant, in another and unscoped, and unknown ids. Each caller changes
// its copy's labels, which must not show in anyone else's (run with -race).
func testConcurrentGetJob(t *testing.T, s store.Store) {
	ctx := context.Background()
	var jobs []job.Job
	for i := range 8 {
		j, _ := create(t, s, epoch(), spec{Tenant: []string{"acme", "globex"}[i%2], Labels: map[string]string{"n": fmt.Sprint(i)}})
		jobs = append(jobs, j)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64*20)
	for w := range 64 {
		wg.Go(func() {
			for i := range 20 {
				want := jobs[(w+i)%len(jobs)]
				tenant := []string{want.Tenant, "", "initech"}[(w+i)%3]
				id := want.ID
				if (w*7+i)%11 == 0 {
					id, tenant = newID(), ""
				}
				got, err := s.GetJob(ctx, tenant, id)
				switch {
				case id != want.ID || tenant == "initech":
					if !errors.Is(err, store.ErrNotFound) {
						errs <- fmt.Errorf("GetJob(%q, %s) = %v, want not found", tenant, id, err)
					}
				case err != nil:
					errs <- fmt.Errorf("GetJob(%q, %s): %w", tenant, id, err)
				case got.ID != want.ID || got.Spec.Labels["n"] != want.Spec.Labels["n"]:
					errs <- fmt.Errorf("GetJob(%q, %s) = job %s labels %v, want labels %v", tenant, id, got.ID, got.Spec.Labels, want.Spec.Labels)
				default:
					got.Spec.Labels["n"] = "changed"
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testListJobsPaging(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	var want []string // newest first
	for i := range 7 {
		// Two jobs share each creation time but one: ties are broken by id.
		j, _ := create(t, s, at.Add(time.Duration(i/2)*time.Second), spec{})
		want = append([]string{j.ID}, want...)
	}
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		js, next, err := s.ListJobs(ctx, store.JobFilter{Limit: 3, Cursor: cursor})
		noErr(t, "ListJobs", err)
		if len(js) > 3 {
			t.Fatalf("page %d has %d jobs, limit 3", page, len(js))
		}
		got = append(got, jobIDs(js)...)
		if next == "" {
			break
		}
		if page > 5 {
			t.Fatal("ListJobs does not end")
		}
		cursor = next
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paged listing:\n got %v\nwant %v", got, want)
	}
	all, next, err := s.ListJobs(ctx, store.JobFilter{})
	noErr(t, "ListJobs default limit", err)
	if next != "" || !reflect.DeepEqual(jobIDs(all), want) {
		t.Fatalf("ListJobs default limit = %v (next %q), want %v", jobIDs(all), next, want)
	}
	exact, next, err := s.ListJobs(ctx, store.JobFilter{Limit: 7})
	noErr(t, "ListJobs exact limit", err)
	if next != "" || len(exact) != 7 {
		t.Fatalf("ListJobs limit 7: %d jobs, next %q; want 7 and no next page", len(exact), next)
	}
	if _, _, err := s.ListJobs(ctx, store.JobFilter{Cursor: "not a cursor!"}); err == nil {
		t.Fatal("ListJobs with a malformed cursor: no error")
	}
}

func testListJobsFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	a1, _ := create(t, s, at, spec{Tenant: "a"})
	b1, _ := create(t, s, at.Add(time.Second), spec{Tenant: "b"})
	a2, _ := create(t, s, at.Add(2*time.Second), spec{Tenant: "a"})
	_, err := s.CancelJob(ctx, "", a1.ID, at.Add(3*time.Second))
	noErr(t, "CancelJob", err)
	tests := []struct {
		name string
		f    store.JobFilter
		want []string
	}{
		{"all", store.JobFilter{}, []string{a2.ID, b1.ID, a1.ID}},
		{"tenant a", store.JobFilter{Tenant: "a"}, []string{a2.ID, a1.ID}},
		{"tenant b", store.JobFilter{Tenant: "b"}, []string{b1.ID}},
		{"queued", store.JobFilter{Status: api.JobQueued}, []string{a2.ID, b1.ID}},
		{"canceled", store.JobFilter{Status: api.JobCanceled}, []string{a1.ID}},
		{"tenant a queued", store.JobFilter{Tenant: "a", Status: api.JobQueued}, []string{a2.ID}},
		{"unknown tenant", store.JobFilter{Tenant: "nobody"}, nil},
	}
	for _, tc := range tests {
		js, _, err := s.ListJobs(ctx, tc.f)
		noErr(t, "ListJobs "+tc.name, err)
		if got := jobIDs(js); len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// A filtered listing pages too.
	page, next, err := s.ListJobs(ctx, store.JobFilter{Tenant: "a", Limit: 1})
	noErr(t, "ListJobs tenant a page 1", err)
	page2, next2, err := s.ListJobs(ctx, store.JobFilter{Tenant: "a", Limit: 1, Cursor: next})
	noErr(t, "ListJobs tenant a page 2", err)
	if got := append(jobIDs(page), jobIDs(page2)...); !reflect.DeepEqual(got, []string{a2.ID, a1.ID}) || next2 != "" {
		t.Fatalf("filtered pages = %v (next %q)", got, next2)
	}
}

func testIdempotency(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	first, _ := create(t, s, at, spec{Key: "order-17"})

	again, tasks := build(at.Add(time.Second), spec{Key: "order-17"})
	out, created, err := s.CreateJob(ctx, again, tasks, store.JobMeta{})
	noErr(t, "CreateJob same key", err)
	if created || out.ID != first.ID {
		t.Fatalf("same key: created=%v id=%s, want existing job %s", created, out.ID, first.ID)
	}
	if _, err := s.GetJob(ctx, "", again.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the repeated request's job was stored (err %v)", err)
	}
	if ts, err := s.JobTasks(ctx, again.ID); err != nil || len(ts) != 0 {
		t.Fatalf("the repeated request's tasks were stored: %d (err %v)", len(ts), err)
	}

	other, tasks := build(at, spec{Key: "order-17", Tenant: "globex"})
	out, created, err = s.CreateJob(ctx, other, tasks, store.JobMeta{})
	noErr(t, "CreateJob other tenant same key", err)
	if !created || out.ID != other.ID {
		t.Fatalf("other tenant, same key: created=%v id=%s, want a new job", created, out.ID)
	}

	changed, tasks := build(at, spec{Key: "order-17", Hash: "another request"})
	_, _, err = s.CreateJob(ctx, changed, tasks, store.JobMeta{})
	wantErr(t, "CreateJob same key, other request", err, store.ErrIdempotencyMismatch)

	// Without a key every request is a new job.
	n1, _ := create(t, s, at, spec{})
	n2, _ := create(t, s, at, spec{})
	if n1.ID == n2.ID {
		t.Fatal("jobs without a key were merged")
	}
	js, _, err := s.ListJobs(ctx, store.JobFilter{})
	noErr(t, "ListJobs", err)
	if len(js) != 4 {
		t.Fatalf("%d jobs stored, want 4", len(js))
	}
}

// testConcurrentCreate: many creations at once (which a backend may write
// together in one transaction) each get their own answer: every new job is
// stored with its task, event and metadata; requests repeating an
// idempotency key get the one job that has it; a key reused with another
// request fails alone.
func testConcurrentCreate(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	const n = 60
	type result struct {
		in      job.Job
		out     job.Job
		created bool
		err     error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		sp := spec{}
		switch {
		case i%10 == 0:
			sp.Key = "shared" // six requests, one job
		case i == 7:
			sp.Key, sp.Hash = "shared", "another request"
		}
		j, tasks := build(at, sp)
		results[i].in = j
		wg.Go(func() {
			out, created, err := s.CreateJob(ctx, j, tasks, store.JobMeta{CacheKey: "key-" + j.ID})
			results[i].out, results[i].created, results[i].err = out, created, err
		})
	}
	wg.Wait()
	var sharedID string
	createdShared := 0
	for i, r := range results {
		switch {
		case i == 7:
			if !errors.Is(r.err, store.ErrIdempotencyMismatch) && !(r.err == nil && r.created) {
				// It either lost the race for the key (mismatch) or won it,
				// in which case the six "shared" requests must mismatch.
				t.Fatalf("request %d: err %v created %v", i, r.err, r.created)
			}
			if r.err == nil {
				sharedID = r.out.ID
				createdShared++
			}
			continue
		case i%10 == 0:
			if r.err != nil && errors.Is(r.err, store.ErrIdempotencyMismatch) {
				continue
			}
			noErr(t, fmt.Sprintf("shared request %d", i), r.err)
			if r.created {
				createdShared++
			}
			if sharedID == "" {
				sharedID = r.out.ID
			} else if r.out.ID != sharedID {
				t.Fatalf("shared key answered with jobs %s and %s", sharedID, r.out.ID)
			}
			continue
		}
		noErr(t, fmt.Sprintf("request %d", i), r.err)
		if !r.created || r.out.ID != r.in.ID || r.out.Status != api.JobQueued {
			t.Fatalf("request %d: created %v, job %+v", i, r.created, r.out)
		}
		tasks, err := s.JobTasks(ctx, r.in.ID)
		if err != nil || len(tasks) != 1 {
			t.Fatalf("request %d: %d tasks (err %v)", i, len(tasks), err)
		}
		m, err := s.GetJobMeta(ctx, r.in.ID)
		noErr(t, "GetJobMeta", err)
		if m.CacheKey != "key-"+r.in.ID || m.Tenant != r.in.Tenant {
			t.Fatalf("request %d: meta %+v", i, m)
		}
		evs, err := s.JobEvents(ctx, r.in.ID, 0, 10)
		if err != nil || len(evs) != 1 || evs[0].Status != api.JobQueued {
			t.Fatalf("request %d: events %+v (err %v)", i, evs, err)
		}
	}
	if createdShared != 1 {
		t.Fatalf("the shared key created %d jobs, want 1", createdShared)
	}
	js, _, err := s.ListJobs(ctx, store.JobFilter{Limit: 1000})
	noErr(t, "ListJobs", err)
	if want := n - 7 + 1; len(js) != want { // 53 without a key, one for "shared"
		t.Fatalf("%d jobs stored, want %d", len(js), want)
	}
}

func testLeaseOrder(t *testing.T, s store.Store) {
	at := epoch()
	low, _ := create(t, s, at, spec{Priority: 1})
	highNew, _ := create(t, s, at.Add(2*time.Second), spec{Priority: 9})
	highOld, _ := create(t, s, at.Add(time.Second), spec{Priority: 9})
	mid, _ := create(t, s, at.Add(3*time.Second), spec{Priority: 5})

	now := at.Add(10 * time.Second)
	var order []string
	for range 4 {
		tk := leaseOne(t, s, now, "")
		order = append(order, tk.JobID)
		if tk.State != job.TaskLeased || tk.AgentID != agentID || tk.Token < 1 || tk.Attempt != 1 {
			t.Fatalf("leased task = %+v", tk)
		}
		sameTime(t, "LeaseDeadline", tk.LeaseDeadline, now.Add(time.Minute))
		stored := getTask(t, s, tk.ID)
		if stored.State != job.TaskLeased || stored.Token != tk.Token || !stored.LeaseDeadline.Equal(tk.LeaseDeadline) {
			t.Fatalf("stored task = %+v, leased %+v", stored, tk)
		}
		j := getJob(t, s, tk.JobID)
		if j.Status != api.JobRunning || j.Attempts != 1 {
			t.Fatalf("leased job: status %s attempts %d, want running 1", j.Status, j.Attempts)
		}
	}
	want := []string{highOld.ID, highNew.ID, mid.ID, low.ID}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("lease order = %v, want %v (priority, then age)", order, want)
	}
	if got := lease(t, s, now, 5, defaultCaps()); len(got) != 0 {
		t.Fatalf("leased %d more tasks from an empty queue", len(got))
	}
}

func testLeaseRunAt(t *testing.T, s store.Store) {
	at := epoch()
	later := at.Add(time.Minute)
	_, tk := create(t, s, at, spec{RunAt: later})
	if got := lease(t, s, later.Add(-time.Microsecond), 1, defaultCaps()); len(got) != 0 {
		t.Fatalf("leased a task before its run_at")
	}
	leaseOne(t, s, later, tk.ID)
}

func testNextRunAt(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	next, err := s.NextRunAt(ctx)
	noErr(t, "NextRunAt", err)
	if !next.IsZero() {
		t.Fatalf("NextRunAt of an empty queue = %s, want zero", next)
	}
	create(t, s, at, spec{RunAt: at.Add(5 * time.Second)})
	_, soon := create(t, s, at, spec{RunAt: at.Add(2 * time.Second)})
	next, err = s.NextRunAt(ctx)
	noErr(t, "NextRunAt", err)
	sameTime(t, "NextRunAt", next, at.Add(2*time.Second))
	leaseOne(t, s, at.Add(3*time.Second), soon.ID)
	next, err = s.NextRunAt(ctx)
	noErr(t, "NextRunAt", err)
	sameTime(t, "NextRunAt after lease", next, at.Add(5*time.Second))
}

func testLeaseCapabilities(t *testing.T, s store.Store) {
	at := epoch()
	_, whisper := create(t, s, at, spec{Engine: "whisper-cpp"})
	_, gpu := create(t, s, at.Add(time.Second), spec{Labels: map[string]string{"gpu": "a100"}})
	_, other := create(t, s, at.Add(2*time.Second), spec{Kind: "transcribe"})
	_, plain := create(t, s, at.Add(3*time.Second), spec{})
	now := at.Add(time.Minute)

	cpu := api.Capabilities{
		Engines: []api.EngineCapability{{Name: "pocketsphinx"}},
		Labels:  map[string]string{"gpu": "t4"},
		Kinds:   []string{job.KindCaption},
	}
	got := lease(t, s, now, 10, cpu)
	if !reflect.DeepEqual(taskIDs(got), []string{plain.ID}) {
		t.Fatalf("cpu agent leased %v, want only %s", taskIDs(got), plain.ID)
	}
	big := api.Capabilities{
		Engines: []api.EngineCapability{{Name: "whisper-cpp", Models: []string{"large-v3"}}},
		Labels:  map[string]string{"gpu": "a100", "zone": "eu"},
	}
	got = lease(t, s, now, 10, big)
	want := []string{whisper.ID, gpu.ID, other.ID}
	if !reflect.DeepEqual(taskIDs(got), want) {
		t.Fatalf("gpu agent leased %v, want %v", taskIDs(got), want)
	}
}

func testLeaseMax(t *testing.T, s store.Store) {
	at := epoch()
	for i := range 5 {
		create(t, s, at.Add(time.Duration(i)*time.Second), spec{})
	}
	now := at.Add(time.Minute)
	if got := lease(t, s, now, 0, defaultCaps()); len(got) != 0 {
		t.Fatalf("Max 0 leased %d", len(got))
	}
	if got := lease(t, s, now, 2, defaultCaps()); len(got) != 2 {
		t.Fatalf("Max 2 leased %d", len(got))
	}
	if got := lease(t, s, now, 10, defaultCaps()); len(got) != 3 {
		t.Fatalf("Max 10 with 3 left leased %d", len(got))
	}
}

func testConcurrentLease(t *testing.T, s store.Store) {
	const (
		tasks   = 200
		workers = 8
	)
	at := epoch()
	for i := range tasks {
		create(t, s, at.Add(time.Duration(i)*time.Millisecond), spec{Priority: i % 3})
	}
	now := at.Add(time.Minute)
	var (
		mu     sync.Mutex
		seen   = map[string]int{}
		total  atomic.Int64
		wg     sync.WaitGroup
		failed atomic.Bool
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			agent := "agent-" + string(rune('a'+w))
			for i := 0; total.Load() < tasks && i < 10*tasks && !failed.Load(); i++ {
				got, err := s.LeaseTasks(context.Background(), store.LeaseParams{
					AgentID: agent, Capabilities: defaultCaps(), Max: 3, Now: now, Deadline: now.Add(time.Minute),
				})
				if err != nil {
					t.Errorf("%s: LeaseTasks: %v", agent, err)
					failed.Store(true)
					return
				}
				mu.Lock()
				for _, tk := range got {
					seen[tk.ID]++
				}
				mu.Unlock()
				total.Add(int64(len(got)))
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		t.FailNow()
	}
	if len(seen) != tasks || total.Load() != tasks {
		t.Fatalf("leased %d distinct tasks in %d leases, want %d and %d", len(seen), total.Load(), tasks, tasks)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("task %s leased %d times", id, n)
		}
	}
	next, err := s.NextRunAt(context.Background())
	noErr(t, "NextRunAt", err)
	if !next.IsZero() {
		t.Fatalf("tasks still queued after leasing all of them (next run at %s)", next)
	}
}

func testHeartbeatExtends(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	j, _ := create(t, s, at, spec{})
	tk := leaseOne(t, s, at, "")
	hb := store.Heartbeat{TaskID: tk.ID, Token: tk.Token, Stage: "download", Progress: 0.4,
		Now: at.Add(30 * time.Second), Deadline: at.Add(2 * time.Minute)}
	got, err := s.Heartbeat(ctx, hb)
	noErr(t, "Heartbeat", err)
	if got.State != job.TaskLeased || got.Stage != "download" || got.Progress != 0.4 || got.Token != tk.Token {
		t.Fatalf("heartbeat returned %+v", got)
	}
	sameTime(t, "LeaseDeadline", got.LeaseDeadline, at.Add(2*time.Minute))
	stored := getTask(t, s, tk.ID)
	sameTime(t, "stored LeaseDeadline", stored.LeaseDeadline, at.Add(2*time.Minute))
	gj := getJob(t, s, j.ID)
	if gj.Stage != "download" || gj.Progress != 0.4 || gj.Status != api.JobRunning {
		t.Fatalf("job after heartbeat: stage %q progress %v status %s", gj.Stage, gj.Progress, gj.Status)
	}
	sameTime(t, "job UpdatedAt", gj.UpdatedAt, hb.Now)

	// A heartbeat never shortens the lease.
	hb.Deadline, hb.Now, hb.Stage, hb.Progress = at.Add(time.Minute), at.Add(40*time.Second), "transcribe", 0.7
	got, err = s.Heartbeat(ctx, hb)
	noErr(t, "Heartbeat", err)
	sameTime(t, "LeaseDeadline after earlier deadline", got.LeaseDeadline, at.Add(2*time.Minute))

	// The extended lease is not rescued at the original deadline.
	rescued, err := s.RescueExpired(ctx, at.Add(90*time.Second), defaultPolicy(), func() float64 { return 0 }, 10)
	noErr(t, "RescueExpired", err)
	if len(rescued) != 0 {
		t.Fatalf("rescued an extended lease: %v", taskIDs(rescued))
	}
}

func testStaleTokenRejected(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	_, first := create(t, s, at, spec{})
	_, queued := create(t, s, at.Add(time.Second), spec{})
	tk := leaseOne(t, s, at.Add(time.Minute), first.ID)
	now := at.Add(2 * time.Minute)

	errCheck := errors.New("result refused")
	tests := []struct {
		name   string
		id     string
		holder string
		token  int64
		check  func(job.Task, api.TaskResult) error
		want   error
	}{
		{"wrong token", tk.ID, "", tk.Token + 1, nil, store.ErrStaleLease},
		{"earlier token", tk.ID, "", tk.Token - 1, nil, store.ErrStaleLease},
		{"queued task", queued.ID, "", 0, nil, store.ErrStaleLease},
		{"queued task, guessed token", queued.ID, "", 1, nil, store.ErrStaleLease},
		{"another agent, right token", tk.ID, "agent-2", tk.Token, nil, store.ErrStaleLease},
		{"holder, right token, result refused", tk.ID, agentID, tk.Token, func(job.Task, api.TaskResult) error { return errCheck }, errCheck},
	}
	for _, tc := range tests {
		before := getTask(t, s, tc.id)
		beforeJob := getJob(t, s, before.JobID)
		_, err := s.CompleteTask(ctx, store.Completion{TaskID: tc.id, Holder: tc.holder, Token: tc.token, Result: api.TaskResult{Key: "k"}, Now: now, Check: tc.check})
		wantErr(t, tc.name+": CompleteTask", err, tc.want)
		if tc.check != nil {
			continue // the check is CompleteTask's alone
		}
		_, err = s.Heartbeat(ctx, store.Heartbeat{TaskID: tc.id, Holder: tc.holder, Token: tc.token, Progress: 0.5, Stage: "x", Now: now, Deadline: now.Add(time.Hour)})
		wantErr(t, tc.name+": Heartbeat", err, tc.want)
		_, err = s.FailTask(ctx, store.Failure{TaskID: tc.id, Holder: tc.holder, Token: tc.token, Error: api.Error{Code: "x"}, Policy: defaultPolicy(), Now: now})
		wantErr(t, tc.name+": FailTask", err, tc.want)
		err = s.ReleaseTask(ctx, tc.id, tc.holder, tc.token, now)
		wantErr(t, tc.name+": ReleaseTask", err, tc.want)
		if after := getTask(t, s, tc.id); !reflect.DeepEqual(after, before) {
			t.Fatalf("%s: a rejected call changed the task:\nbefore %+v\n after %+v", tc.name, before, after)
		}
		if after := getJob(t, s, before.JobID); !reflect.DeepEqual(after, beforeJob) {
			t.Fatalf("%s: a rejected call changed the job:\nbefore %+v\n after %+v", tc.name, beforeJob, after)
		}
	}

	unknown := newID()
	_, err := s.Heartbeat(ctx, store.Heartbeat{TaskID: unknown, Token: 1, Now: now, Deadline: now})
	wantErr(t, "Heartbeat unknown task", err, store.ErrNotFound)
	_, err = s.CompleteTask(ctx, store.Completion{TaskID: unknown, Token: 1, Result: api.TaskResult{}, Now: now})
	wantErr(t, "CompleteTask unknown task", err, store.ErrNotFound)
}

func testCompleteUpdatesJob(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	j, _ := create(t, s, at, spec{})
	tk := leaseOne(t, s, at, "")
	res := api.TaskResult{
		Key: "results/" + j.ID + "/transcript.json", Size: 1234, SHA256: "abc", Result: api.Result{Language: "en",
			Duration: 61.5, Engine: "pocketsphinx", Model: "en-us", Title: "A talk", Origin: "asr",
			Segments: 12, Words: 140, Timings: map[string]float64{"download": 1.5, "transcribe": 9}},
	}
	done := at.Add(time.Minute)
	checked := false
	out, err := s.CompleteTask(ctx, store.Completion{TaskID: tk.ID, Holder: agentID, Token: tk.Token, Result: res, Now: done,
		Check: func(t job.Task, r api.TaskResult) error { checked = t.ID == tk.ID && r.Key == res.Key; return nil }})
	noErr(t, "CompleteTask", err)
	if !checked {
		t.Fatal("CompleteTask did not run its check on the task and result")
	}
	want := &api.JobResult{Cached: false, Result: res.Result}
	for name, got := range map[string]job.Job{"returned": out, "stored": getJob(t, s, j.ID)} {
		if got.Status != api.JobSucceeded || got.Progress != 1 || got.Error != nil || got.ResultKey != res.Key || got.Attempts != 1 {
			t.Fatalf("%s job: %+v", name, got)
		}
		if !reflect.DeepEqual(got.Result, want) {
			t.Fatalf("%s job result = %+v, want %+v", name, got.Result, want)
		}
		if got.FinishedAt == nil {
			t.Fatalf("%s job: FinishedAt not set", name)
		}
		sameTime(t, name+" FinishedAt", *got.FinishedAt, done)
	}
	stored := getTask(t, s, tk.ID)
	if stored.State != job.TaskSucceeded || !reflect.DeepEqual(stored.Result, &res) {
		t.Fatalf("task after complete: %+v", stored)
	}
	_, err = s.CompleteTask(ctx, store.Completion{TaskID: tk.ID, Token: tk.Token, Result: res, Now: done})
	wantErr(t, "CompleteTask twice", err, store.ErrStaleLease)
	_, err = s.CancelJob(ctx, "", j.ID, done)
	wantErr(t, "CancelJob succeeded job", err, store.ErrConflict)
}

func testRetryableFailBacksOff(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	j, _ := create(t, s, at, spec{})
	tk := leaseOne(t, s, at, "")
	p := defaultPolicy()
	failedAt := at.Add(5 * time.Second)
	e := api.Error{Code: api.CodeDownloadFailed, Message: "HTTP 403"}
	out, err := s.FailTask(ctx, store.Failure{TaskID: tk.ID, Token: tk.Token, Error: e, Retryable: true, Policy: p, Jitter: 0.5, Now: failedAt})
	noErr(t, "FailTask", err)
	if out.Status != api.JobQueued || out.Attempts != 1 || out.FinishedAt != nil {
		t.Fatalf("job after a retryable failure: status %s attempts %d finished %v", out.Status, out.Attempts, out.FinishedAt)
	}
	runAt := failedAt.Add(p.Delay(1, 0.5))
	stored := getTask(t, s, tk.ID)
	if stored.State != job.TaskQueued || stored.Attempt != 1 || !reflect.DeepEqual(stored.LastError, &e) {
		t.Fatalf("task after a retryable failure: %+v", stored)
	}
	sameTime(t, "RunAt", stored.RunAt, runAt)
	if got := lease(t, s, runAt.Add(-time.Millisecond), 1, defaultCaps()); len(got) != 0 {
		t.Fatal("leased during the backoff")
	}
	again := leaseOne(t, s, runAt, tk.ID)
	if again.Attempt != 2 || again.Token <= tk.Token {
		t.Fatalf("second lease: attempt %d token %d (first token %d)", again.Attempt, again.Token, tk.Token)
	}
	if got := getJob(t, s, j.ID); got.Attempts != 2 || got.Status != api.JobRunning {
		t.Fatalf("job after second lease: attempts %d status %s", got.Attempts, got.Status)
	}
}

func testMaxAttemptsFailsJob(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	p := job.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Second, MaxDelay: time.Second}
	j, _ := create(t, s, at, spec{MaxAttempts: 2})
	now := at
	var out job.Job
	for attempt := 1; attempt <= 2; attempt++ {
		tk := leaseOne(t, s, now, "")
		now = now.Add(10 * time.Second)
		var err error
		out, err = s.FailTask(ctx, store.Failure{TaskID: tk.ID, Token: tk.Token, Retryable: true, Policy: p, Now: now,
			Error: api.Error{Code: api.CodeDownloadFailed, Message: "attempt " + string(rune('0'+attempt))}})
		noErr(t, "FailTask", err)
		now = now.Add(10 * time.Second)
	}
	if out.Status != api.JobFailed || out.Error == nil || out.Error.Code != api.CodeMaxAttempts || out.FinishedAt == nil || out.Attempts != 2 {
		t.Fatalf("job after the last attempt: %+v (error %+v)", out, out.Error)
	}
	if !strings.Contains(out.Error.Message, api.CodeDownloadFailed) || !strings.Contains(out.Error.Message, "attempt 2") {
		t.Fatalf("error message %q does not carry the last error", out.Error.Message)
	}
	if got := getJob(t, s, j.ID); !reflect.DeepEqual(got.Error, out.Error) || got.Status != api.JobFailed {
		t.Fatalf("stored job: %+v", got)
	}
	if got := lease(t, s, now.Add(time.Hour), 1, defaultCaps()); len(got) != 0 {
		t.Fatal("a failed task was leased")
	}
}

func testPermanentFailFailsJob(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	j, _ := create(t, s, at, spec{})
	tk := leaseOne(t, s, at, "")
	e := api.Error{Code: api.CodeSourcePrivate, Message: "this video is private"}
	now := at.Add(time.Second)
	out, err := s.FailTask(ctx, store.Failure{TaskID: tk.ID, Token: tk.Token, Error: e, Retryable: false, Policy: defaultPolicy(), Now: now})
	noErr(t, "FailTask", err)
	if out.Status != api.JobFailed || !reflect.DeepEqual(out.Error, &e) || out.Attempts != 1 || out.FinishedAt == nil {
		t.Fatalf("job after a permanent failure: %+v (error %+v)", out, out.Error)
	}
	sameTime(t, "FinishedAt", *out.FinishedAt, now)
	if got := getTask(t, s, tk.ID); got.State != job.TaskFailed || got.Attempt != 1 {
		t.Fatalf("task after a permanent failure: %+v", got)
	}
	if got := getJob(t, s, j.ID); got.Status != api.JobFailed {
		t.Fatalf("stored job status %s", got.Status)
	}
}

func testReleaseRequeues(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	j, _ := create(t, s, at, spec{})
	tk := leaseOne(t, s, at, "")
	now := at.Add(5 * time.Second)
	noErr(t, "ReleaseTask", s.ReleaseTask(ctx, tk.ID, "", tk.Token, now))
	got := getTask(t, s, tk.ID)
	if got.State != job.TaskQueued || got.Attempt != 0 {
		t.Fatalf("released task: %+v", got)
	}
	sameTime(t, "RunAt", got.RunAt, now)
	if gj := getJob(t, s, j.ID); gj.Status != api.JobQueued {
		t.Fatalf("job after release: %s", gj.Status)
	}
	again := leaseOne(t, s, now, tk.ID)
	if again.Attempt != 1 || again.Token == tk.Token {
		t.Fatalf("re-lease after release: attempt %d token %d (old %d)", again.Attempt, again.Token, tk.Token)
	}
	wantErr(t, "ReleaseTask with the old token", s.ReleaseTask(ctx, tk.ID, "", tk.Token, now), store.ErrStaleLease)
}

func testRescueExpired(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	short, _ := create(t, s, at, spec{})
	long, _ := create(t, s, at.Add(time.Second), spec{})
	now := at.Add(time.Minute)
	a, err := s.LeaseTasks(ctx, store.LeaseParams{AgentID: "agent-a", Capabilities: defaultCaps(), Max: 1, Now: now, Deadline: now.Add(30 * time.Second)})
	noErr(t, "LeaseTasks", err)
	b, err := s.LeaseTasks(ctx, store.LeaseParams{AgentID: "agent-b", Capabilities: defaultCaps(), Max: 1, Now: now, Deadline: now.Add(90 * time.Second)})
	noErr(t, "LeaseTasks", err)
	if len(a) != 1 || len(b) != 1 || a[0].JobID != short.ID || b[0].JobID != long.ID {
		t.Fatalf("setup leases: %v %v", taskIDs(tasksOf(a)), taskIDs(tasksOf(b)))
	}
	ta, tb := a[0].Task, b[0].Task

	rescueAt := now.Add(time.Minute)
	p := defaultPolicy()
	rescued, err := s.RescueExpired(ctx, rescueAt, p, func() float64 { return 0 }, 10)
	noErr(t, "RescueExpired", err)
	if len(rescued) != 1 || rescued[0].ID != ta.ID {
		t.Fatalf("rescued %v, want only %s", taskIDs(rescued), ta.ID)
	}
	r := rescued[0]
	if r.State != job.TaskQueued || r.LastError == nil || r.LastError.Code != api.CodeLeaseExpired || r.Attempt != 1 {
		t.Fatalf("rescued task: %+v", r)
	}
	sameTime(t, "rescued RunAt", r.RunAt, rescueAt.Add(p.Delay(1, 0)))
	if got := getTask(t, s, tb.ID); got.State != job.TaskLeased || got.Token != tb.Token {
		t.Fatalf("the live lease was touched: %+v", got)
	}

	// The partitioned agent comes back: its token is dead.
	_, err = s.Heartbeat(ctx, store.Heartbeat{TaskID: ta.ID, Token: ta.Token, Now: rescueAt, Deadline: rescueAt.Add(time.Minute)})
	wantErr(t, "Heartbeat after rescue", err, store.ErrStaleLease)
	_, err = s.CompleteTask(ctx, store.Completion{TaskID: ta.ID, Token: ta.Token, Result: api.TaskResult{Key: "stale"}, Now: rescueAt})
	wantErr(t, "CompleteTask after rescue", err, store.ErrStaleLease)

	// The new holder's completion is accepted.
	newHolder := leaseOne(t, s, r.RunAt, ta.ID)
	if newHolder.Token <= ta.Token || newHolder.Attempt != 2 {
		t.Fatalf("re-lease: token %d attempt %d (old token %d)", newHolder.Token, newHolder.Attempt, ta.Token)
	}
	j, err := s.CompleteTask(ctx, store.Completion{TaskID: ta.ID, Token: newHolder.Token, Result: api.TaskResult{Key: "fresh"}, Now: r.RunAt.Add(time.Second)})
	noErr(t, "CompleteTask by the new holder", err)
	if j.Status != api.JobSucceeded || j.ResultKey != "fresh" || j.Attempts != 2 {
		t.Fatalf("job after the new holder completed: %+v", j)
	}
	_, err = s.CompleteTask(ctx, store.Completion{TaskID: ta.ID, Token: ta.Token, Result: api.TaskResult{Key: "stale"}, Now: r.RunAt.Add(2 * time.Second)})
	wantErr(t, "CompleteTask with the old token after success", err, store.ErrStaleLease)
}

func testRescueLimit(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	for i := range 3 {
		create(t, s, at.Add(time.Duration(i)*time.Second), spec{})
	}
	if n := len(lease(t, s, at.Add(time.Minute), 3, defaultCaps())); n != 3 {
		t.Fatalf("leased %d, want 3", n)
	}
	// Deadlines are now+1m; a policy of one attempt fails the jobs outright.
	p := job.RetryPolicy{MaxAttempts: 1, BaseDelay: time.Second, MaxDelay: time.Second}
	late := at.Add(time.Hour)
	first, err := s.RescueExpired(ctx, late, p, func() float64 { return 0 }, 2)
	noErr(t, "RescueExpired", err)
	second, err := s.RescueExpired(ctx, late, p, func() float64 { return 0 }, 2)
	noErr(t, "RescueExpired", err)
	if len(first) != 2 || len(second) != 1 {
		t.Fatalf("rescued %d then %d, want 2 then 1", len(first), len(second))
	}
	for _, tk := range append(first, second...) {
		if tk.State != job.TaskQueued {
			continue // the store may bound attempts by the task's own budget (3 here)
		}
		if tk.LastError == nil || tk.LastError.Code != api.CodeLeaseExpired {
			t.Fatalf("rescued task error: %+v", tk.LastError)
		}
	}
}

func testCancelQueued(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	j, tk := create(t, s, at, spec{})
	now := at.Add(time.Second)
	_, err := s.CancelJob(ctx, "other-tenant", j.ID, now)
	wantErr(t, "CancelJob other tenant", err, store.ErrNotFound)
	_, err = s.CancelJob(ctx, "", newID(), now)
	wantErr(t, "CancelJob unknown", err, store.ErrNotFound)
	out, err := s.CancelJob(ctx, "acme", j.ID, now)
	noErr(t, "CancelJob", err)
	if out.Status != api.JobCanceled || out.Error == nil || out.Error.Code != api.CodeCanceled || out.FinishedAt == nil {
		t.Fatalf("canceled job: %+v", out)
	}
	if got := getTask(t, s, tk.ID); got.State != job.TaskCanceled {
		t.Fatalf("task after cancel: %s", got.State)
	}
	if got := lease(t, s, now, 1, defaultCaps()); len(got) != 0 {
		t.Fatal("leased a canceled task")
	}
	_, err = s.CancelJob(ctx, "", j.ID, now)
	wantErr(t, "CancelJob twice", err, store.ErrConflict)
}

func testCancelLeased(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	j, _ := create(t, s, at, spec{})
	tk := leaseOne(t, s, at, "")
	now := at.Add(10 * time.Second)
	out, err := s.CancelJob(ctx, "", j.ID, now)
	noErr(t, "CancelJob", err)
	if out.Status != api.JobCanceled {
		t.Fatalf("job status %s, want canceled", out.Status)
	}
	got, err := s.Heartbeat(ctx, store.Heartbeat{TaskID: tk.ID, Token: tk.Token, Now: now, Deadline: now.Add(time.Minute)})
	noErr(t, "Heartbeat after cancel", err)
	if got.State != job.TaskCanceled {
		t.Fatalf("heartbeat after cancel reports %s, want canceled", got.State)
	}
	_, err = s.Heartbeat(ctx, store.Heartbeat{TaskID: tk.ID, Token: tk.Token + 1, Now: now, Deadline: now.Add(time.Minute)})
	wantErr(t, "Heartbeat with a wrong token after cancel", err, store.ErrStaleLease)
	_, err = s.CompleteTask(ctx, store.Completion{TaskID: tk.ID, Token: tk.Token, Result: api.TaskResult{Key: "k"}, Now: now})
	wantErr(t, "CompleteTask after cancel", err, store.ErrStaleLease)
	_, err = s.FailTask(ctx, store.Failure{TaskID: tk.ID, Token: tk.Token, Error: api.Error{Code: "x"}, Policy: defaultPolicy(), Now: now})
	wantErr(t, "FailTask after cancel", err, store.ErrStaleLease)
	wantErr(t, "ReleaseTask after cancel", s.ReleaseTask(ctx, tk.ID, "", tk.Token, now), store.ErrStaleLease)
	if gj := getJob(t, s, j.ID); gj.Status != api.JobCanceled {
		t.Fatalf("job status after the holder's calls: %s", gj.Status)
	}
}

func testRetryJob(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	j, _ := create(t, s, at, spec{})
	_, err := s.RetryJob(ctx, "", j.ID, at)
	wantErr(t, "RetryJob queued job", err, store.ErrConflict)
	tk := leaseOne(t, s, at, "")
	_, err = s.RetryJob(ctx, "", j.ID, at)
	wantErr(t, "RetryJob running job", err, store.ErrConflict)
	now := at.Add(time.Second)
	_, err = s.FailTask(ctx, store.Failure{TaskID: tk.ID, Token: tk.Token, Error: api.Error{Code: api.CodeUndecodable, Message: "bad"}, Policy: defaultPolicy(), Now: now})
	noErr(t, "FailTask", err)

	_, err = s.RetryJob(ctx, "other-tenant", j.ID, now)
	wantErr(t, "RetryJob other tenant", err, store.ErrNotFound)
	now = now.Add(time.Second)
	out, err := s.RetryJob(ctx, "acme", j.ID, now)
	noErr(t, "RetryJob failed job", err)
	if out.Status != api.JobQueued || out.Error != nil || out.FinishedAt != nil {
		t.Fatalf("retried job: %+v", out)
	}
	got := getTask(t, s, tk.ID)
	if got.State != job.TaskQueued || got.Attempt != 0 || got.LastError != nil {
		t.Fatalf("retried task: %+v", got)
	}
	sameTime(t, "retried RunAt", got.RunAt, now)
	again := leaseOne(t, s, now, tk.ID)

	// Canceled jobs can be retried too.
	_, err = s.CancelJob(ctx, "", j.ID, now)
	noErr(t, "CancelJob", err)
	out, err = s.RetryJob(ctx, "", j.ID, now)
	noErr(t, "RetryJob canceled job", err)
	if out.Status != api.JobQueued {
		t.Fatalf("retried canceled job status %s", out.Status)
	}
	again = leaseOne(t, s, now, tk.ID)
	_, err = s.CompleteTask(ctx, store.Completion{TaskID: tk.ID, Token: again.Token, Result: api.TaskResult{Key: "k"}, Now: now})
	noErr(t, "CompleteTask", err)
	_, err = s.RetryJob(ctx, "", j.ID, now)
	wantErr(t, "RetryJob succeeded job", err, store.ErrConflict)
	_, err = s.RetryJob(ctx, "", newID(), now)
	wantErr(t, "RetryJob unknown", err, store.ErrNotFound)
}

// createMulti creates a job of n tasks (the shape of a long media split into chunks).
func createMulti(t *testing.T, s store.Store, at time.Time, n int) (job.Job, []job.Task) {
	t.Helper()
	j, tasks := build(at, spec{})
	for len(tasks) < n {
		extra := tasks[0]
		extra.ID = newID()
		tasks = append(tasks, extra)
	}
	out, _, err := s.CreateJob(context.Background(), j, tasks, store.JobMeta{})
	noErr(t, "CreateJob", err)
	got, err := s.JobTasks(context.Background(), j.ID)
	noErr(t, "JobTasks", err)
	if !reflect.DeepEqual(taskIDs(got), taskIDs(tasks)) {
		t.Fatalf("JobTasks order = %v, want creation order %v", taskIDs(got), taskIDs(tasks))
	}
	return out, tasks
}

func testMultiTaskJob(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	j, _ := createMulti(t, s, at, 2)
	held := lease(t, s, at, 2, defaultCaps())
	if len(held) != 2 {
		t.Fatalf("leased %d tasks, want 2", len(held))
	}
	if got := getJob(t, s, j.ID); got.Attempts != 2 || got.Status != api.JobRunning {
		t.Fatalf("job after leasing both tasks: attempts %d status %s", got.Attempts, got.Status)
	}
	_, err := s.Heartbeat(ctx, store.Heartbeat{TaskID: held[0].ID, Token: held[0].Token, Stage: "transcribe", Progress: 0.5, Now: at, Deadline: at.Add(time.Minute)})
	noErr(t, "Heartbeat", err)
	if got := getJob(t, s, j.ID); got.Progress != 0.25 || got.Stage != "transcribe" {
		t.Fatalf("job progress %v stage %q, want the mean 0.25 and the stage", got.Progress, got.Stage)
	}
	out, err := s.CompleteTask(ctx, store.Completion{TaskID: held[0].ID, Token: held[0].Token, Result: api.TaskResult{Key: "part-1"}, Now: at.Add(time.Second)})
	noErr(t, "CompleteTask", err)
	if out.Status != api.JobRunning || out.FinishedAt != nil || out.Progress != 0.5 {
		t.Fatalf("job with one of two tasks done: status %s progress %v finished %v", out.Status, out.Progress, out.FinishedAt)
	}
	out, err = s.CompleteTask(ctx, store.Completion{TaskID: held[1].ID, Token: held[1].Token, Result: api.TaskResult{Key: "part-2"}, Now: at.Add(2 * time.Second)})
	noErr(t, "CompleteTask", err)
	if out.Status != api.JobSucceeded || out.Progress != 1 || out.FinishedAt == nil {
		t.Fatalf("job with both tasks done: %+v", out)
	}
}

func testMultiTaskJobFailure(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	j, tasks := createMulti(t, s, at, 3)
	held := lease(t, s, at, 2, defaultCaps())
	if len(held) != 2 {
		t.Fatalf("leased %d tasks, want 2", len(held))
	}
	e := api.Error{Code: api.CodeUndecodable, Message: "chunk 1 is not audio"}
	out, err := s.FailTask(ctx, store.Failure{TaskID: held[0].ID, Token: held[0].Token, Error: e, Policy: defaultPolicy(), Now: at.Add(time.Second)})
	noErr(t, "FailTask", err)
	if out.Status != api.JobFailed || !reflect.DeepEqual(out.Error, &e) {
		t.Fatalf("job after a permanent task failure: status %s error %+v", out.Status, out.Error)
	}
	// The job cannot succeed any more: the other tasks stop.
	for _, tk := range tasks {
		if tk.ID == held[0].ID {
			continue
		}
		if got := getTask(t, s, tk.ID); got.State != job.TaskCanceled {
			t.Fatalf("sibling task %s is %s, want canceled", tk.ID, got.State)
		}
	}
	hb, err := s.Heartbeat(ctx, store.Heartbeat{TaskID: held[1].ID, Token: held[1].Token, Now: at.Add(2 * time.Second), Deadline: at.Add(time.Minute)})
	noErr(t, "Heartbeat on a sibling", err)
	if hb.State != job.TaskCanceled {
		t.Fatalf("sibling's heartbeat reports %s, want canceled", hb.State)
	}
	if got := lease(t, s, at.Add(time.Hour), 5, defaultCaps()); len(got) != 0 {
		t.Fatalf("leased %d tasks of a failed job", len(got))
	}
	// A retry brings every task back.
	out, err = s.RetryJob(ctx, "", j.ID, at.Add(time.Hour))
	noErr(t, "RetryJob", err)
	if out.Status != api.JobQueued {
		t.Fatalf("retried job: %s", out.Status)
	}
	if got := lease(t, s, at.Add(time.Hour), 5, defaultCaps()); len(got) != 3 {
		t.Fatalf("leased %d tasks after retry, want 3", len(got))
	}
}

func testEnrollment(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	revoked := at
	for _, e := range []store.Enrollment{
		{ID: "limited", TokenHash: "h-limited", Labels: map[string]string{"pool": "gpu"}, MaxUses: 2, ExpiresAt: at.Add(time.Hour), CreatedAt: at},
		{ID: "expiring", TokenHash: "h-expiring", ExpiresAt: at.Add(time.Hour), CreatedAt: at},
		{ID: "revoked", TokenHash: "h-revoked", CreatedAt: at, RevokedAt: &revoked},
		{ID: "forever", TokenHash: "h-forever", CreatedAt: at},
	} {
		noErr(t, "CreateEnrollment "+e.ID, s.CreateEnrollment(ctx, e))
	}
	wantErr(t, "CreateEnrollment duplicate", s.CreateEnrollment(ctx, store.Enrollment{ID: "limited", TokenHash: "other", CreatedAt: at}), store.ErrConflict)

	tests := []struct {
		hash     string
		at       time.Time
		wantErr  error
		wantUses int
	}{
		{"h-limited", at, nil, 1},
		{"h-limited", at.Add(time.Minute), nil, 2},
		{"h-limited", at.Add(2 * time.Minute), store.ErrExpired, 0},
		{"h-expiring", at.Add(59 * time.Minute), nil, 1},
		{"h-expiring", at.Add(time.Hour), store.ErrExpired, 0},
		{"h-revoked", at, store.ErrExpired, 0},
		{"h-forever", at.Add(1000 * time.Hour), nil, 1},
		{"h-forever", at.Add(2000 * time.Hour), nil, 2},
		{"h-unknown", at, store.ErrNotFound, 0},
	}
	for i, tc := range tests {
		e, err := s.UseEnrollment(ctx, tc.hash, tc.at)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("step %d (%s): err = %v, want %v", i, tc.hash, err, tc.wantErr)
			}
			continue
		}
		noErr(t, "UseEnrollment "+tc.hash, err)
		if e.Uses != tc.wantUses || e.TokenHash != tc.hash {
			t.Fatalf("step %d (%s): %+v, want %d uses", i, tc.hash, e, tc.wantUses)
		}
		if tc.hash == "h-limited" && (e.Labels["pool"] != "gpu" || e.MaxUses != 2 || !e.ExpiresAt.Equal(at.Add(time.Hour))) {
			t.Fatalf("enrollment fields: %+v", e)
		}
	}
}

func testAgents(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	caps := api.Capabilities{
		Engines:   []api.EngineCapability{{Name: "whisper-cpp", Models: []string{"base.en"}}},
		Languages: []string{"en"},
		GPUs:      []api.GPU{{Name: "A100", MemoryMB: 40960}},
		Labels:    map[string]string{"zone": "eu"},
		Slots:     2,
		Kinds:     []string{job.KindCaption},
	}
	a1 := store.Agent{ID: "a1", Name: "gpu-1", Hostname: "host-1", Version: "1.0.0", TokenHash: "t1",
		EnrollmentID: "e1", Capabilities: caps, CreatedAt: at, LastSeenAt: at}
	a2 := store.Agent{ID: "a2", Name: "cpu-1", TokenHash: "t2", Capabilities: defaultCaps(), CreatedAt: at.Add(time.Second), LastSeenAt: at.Add(time.Second)}
	noErr(t, "CreateAgent a1", s.CreateAgent(ctx, a1))
	noErr(t, "CreateAgent a2", s.CreateAgent(ctx, a2))
	wantErr(t, "CreateAgent duplicate", s.CreateAgent(ctx, a1), store.ErrConflict)

	got, err := s.GetAgent(ctx, "a1")
	noErr(t, "GetAgent", err)
	if !reflect.DeepEqual(got, a1) {
		t.Fatalf("GetAgent:\n got %+v\nwant %+v", got, a1)
	}
	byToken, err := s.AgentByTokenHash(ctx, "t2")
	noErr(t, "AgentByTokenHash", err)
	if byToken.ID != "a2" {
		t.Fatalf("AgentByTokenHash = %s", byToken.ID)
	}
	_, err = s.GetAgent(ctx, "nope")
	wantErr(t, "GetAgent unknown", err, store.ErrNotFound)
	_, err = s.AgentByTokenHash(ctx, "nope")
	wantErr(t, "AgentByTokenHash unknown", err, store.ErrNotFound)

	list, err := s.ListAgents(ctx)
	noErr(t, "ListAgents", err)
	if got := ids(list, func(a store.Agent) string { return a.ID }); !reflect.DeepEqual(got, []string{"a1", "a2"}) {
		t.Fatalf("ListAgents = %v", got)
	}

	seen := at.Add(time.Minute)
	noErr(t, "TouchAgent", s.TouchAgent(ctx, "a1", seen, nil))
	got, _ = s.GetAgent(ctx, "a1")
	sameTime(t, "LastSeenAt", got.LastSeenAt, seen)
	if !reflect.DeepEqual(got.Capabilities, caps) {
		t.Fatalf("TouchAgent without caps changed them: %+v", got.Capabilities)
	}
	newCaps := defaultCaps()
	noErr(t, "TouchAgent with caps", s.TouchAgent(ctx, "a1", seen.Add(time.Second), &newCaps))
	got, _ = s.GetAgent(ctx, "a1")
	if !reflect.DeepEqual(got.Capabilities, newCaps) {
		t.Fatalf("capabilities after TouchAgent = %+v, want %+v", got.Capabilities, newCaps)
	}
	wantErr(t, "TouchAgent unknown", s.TouchAgent(ctx, "nope", seen, nil), store.ErrNotFound)

	noErr(t, "SetAgentDrain on", s.SetAgentDrain(ctx, "a2", true, seen))
	if got, _ := s.GetAgent(ctx, "a2"); !got.Draining {
		t.Fatal("agent not draining")
	}
	noErr(t, "SetAgentDrain off", s.SetAgentDrain(ctx, "a2", false, seen))
	if got, _ := s.GetAgent(ctx, "a2"); got.Draining {
		t.Fatal("agent still draining")
	}
	wantErr(t, "SetAgentDrain unknown", s.SetAgentDrain(ctx, "nope", true, seen), store.ErrNotFound)
	wantErr(t, "RevokeAgent unknown", s.RevokeAgent(ctx, "nope", seen), store.ErrNotFound)
}

func testRevokeAgentRequeues(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	for _, id := range []string{"a1", "a2"} {
		noErr(t, "CreateAgent", s.CreateAgent(ctx, store.Agent{ID: id, TokenHash: "tok-" + id, Capabilities: defaultCaps(), CreatedAt: at, LastSeenAt: at}))
	}
	j1, _ := create(t, s, at, spec{})
	j2, _ := create(t, s, at.Add(time.Second), spec{})
	create(t, s, at.Add(2*time.Second), spec{})
	now := at.Add(time.Minute)
	held := leaseAs(t, s, "a1", now, 2, defaultCaps())
	other := leaseAs(t, s, "a2", now, 1, defaultCaps())
	if len(held) != 2 || len(other) != 1 {
		t.Fatalf("setup leases: %d and %d", len(held), len(other))
	}
	a1, err := s.GetAgent(ctx, "a1")
	noErr(t, "GetAgent", err)
	if a1.ActiveTasks != 2 {
		t.Fatalf("a1 ActiveTasks = %d, want 2", a1.ActiveTasks)
	}

	revokeAt := now.Add(time.Second)
	noErr(t, "RevokeAgent", s.RevokeAgent(ctx, "a1", revokeAt))
	a1, err = s.GetAgent(ctx, "a1")
	noErr(t, "GetAgent", err)
	if a1.RevokedAt == nil || a1.ActiveTasks != 0 {
		t.Fatalf("revoked agent: revoked_at %v, active %d", a1.RevokedAt, a1.ActiveTasks)
	}
	sameTime(t, "RevokedAt", *a1.RevokedAt, revokeAt)
	for _, tk := range held {
		got := getTask(t, s, tk.ID)
		if got.State != job.TaskQueued || got.Attempt != 0 {
			t.Fatalf("task of the revoked agent: %+v", got)
		}
		sameTime(t, "requeued RunAt", got.RunAt, revokeAt)
		_, err := s.CompleteTask(ctx, store.Completion{TaskID: tk.ID, Token: tk.Token, Result: api.TaskResult{Key: "k"}, Now: revokeAt})
		wantErr(t, "CompleteTask by the revoked agent", err, store.ErrStaleLease)
	}
	for _, id := range []string{j1.ID, j2.ID} {
		if gj := getJob(t, s, id); gj.Status != api.JobQueued {
			t.Fatalf("job %s after revoke: %s", id, gj.Status)
		}
	}
	if got := getTask(t, s, other[0].ID); got.State != job.TaskLeased || got.AgentID != "a2" {
		t.Fatalf("another agent's lease was touched: %+v", got)
	}
	a2, _ := s.GetAgent(ctx, "a2")
	if a2.ActiveTasks != 1 || a2.RevokedAt != nil {
		t.Fatalf("a2: active %d revoked %v", a2.ActiveTasks, a2.RevokedAt)
	}
	re := leaseAs(t, s, "a2", revokeAt, 5, defaultCaps())
	if got, want := sortedIDs(re), sortedIDs(held); !reflect.DeepEqual(got, want) {
		t.Fatalf("re-leased %v, want %v", got, want)
	}
}

func sortedIDs(ts []job.Task) []string {
	out := taskIDs(ts)
	sort.Strings(out)
	return out
}

func testAPIKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	exp := at.Add(24 * time.Hour)
	keys := []store.APIKey{
		{ID: "k1", Tenant: "t1", Role: store.RoleAdmin, Name: "ops", Hash: "h1", CreatedAt: at},
		{ID: "k2", Tenant: "t1", Role: store.RoleViewer, Name: "dash", Hash: "h2", CreatedAt: at.Add(time.Second), ExpiresAt: &exp},
		{ID: "k3", Tenant: "t2", Role: store.RoleSubmitter, Hash: "h3", CreatedAt: at.Add(2 * time.Second)},
	}
	for _, k := range keys {
		noErr(t, "CreateAPIKey "+k.ID, s.CreateAPIKey(ctx, k))
	}
	wantErr(t, "CreateAPIKey duplicate", s.CreateAPIKey(ctx, keys[0]), store.ErrConflict)
	got, err := s.GetAPIKey(ctx, "k2")
	noErr(t, "GetAPIKey", err)
	if !reflect.DeepEqual(got, keys[1]) {
		t.Fatalf("GetAPIKey:\n got %+v\nwant %+v", got, keys[1])
	}
	_, err = s.GetAPIKey(ctx, "nope")
	wantErr(t, "GetAPIKey unknown", err, store.ErrNotFound)

	for tenant, want := range map[string][]string{"t1": {"k1", "k2"}, "t2": {"k3"}, "": {"k1", "k2", "k3"}} {
		list, err := s.ListAPIKeys(ctx, tenant)
		noErr(t, "ListAPIKeys", err)
		if got := ids(list, func(k store.APIKey) string { return k.ID }); !reflect.DeepEqual(got, want) {
			t.Fatalf("ListAPIKeys(%q) = %v, want %v", tenant, got, want)
		}
	}
	revokeAt := at.Add(time.Hour)
	noErr(t, "RevokeAPIKey", s.RevokeAPIKey(ctx, "k1", revokeAt))
	noErr(t, "RevokeAPIKey again", s.RevokeAPIKey(ctx, "k1", revokeAt.Add(time.Hour)))
	got, _ = s.GetAPIKey(ctx, "k1")
	if got.RevokedAt == nil {
		t.Fatal("key not revoked")
	}
	sameTime(t, "RevokedAt", *got.RevokedAt, revokeAt)
	wantErr(t, "RevokeAPIKey unknown", s.RevokeAPIKey(ctx, "nope", revokeAt), store.ErrNotFound)
}

func testLeadership(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	ttl := 10 * time.Second
	steps := []struct {
		holder string
		at     time.Duration
		ttl    time.Duration
		want   bool
	}{
		{"a", 0, ttl, true},                 // free: a takes it
		{"b", 5 * time.Second, ttl, false},  // a holds it
		{"a", 8 * time.Second, ttl, true},   // a renews until 18s
		{"b", 15 * time.Second, ttl, false}, // still a's
		{"b", 18 * time.Second, ttl, true},  // a's term ended: b takes over
		{"a", 19 * time.Second, ttl, false}, // b holds it now
		{"b", 20 * time.Second, 0, true},    // b steps down (term ends now)
		{"a", 20 * time.Second, ttl, true},  // a takes it at once
	}
	for i, st := range steps {
		got, err := s.AcquireLeadership(ctx, "sweeper", st.holder, at.Add(st.at), st.ttl)
		noErr(t, "AcquireLeadership", err)
		if got != st.want {
			t.Fatalf("step %d: %s at +%s got %v, want %v", i, st.holder, st.at, got, st.want)
		}
	}
	// Leaderships are independent by name.
	got, err := s.AcquireLeadership(ctx, "webhooks", "b", at.Add(21*time.Second), ttl)
	noErr(t, "AcquireLeadership", err)
	if !got {
		t.Fatal("another name's leadership was not free")
	}
}

func testPing(t *testing.T, s store.Store) {
	noErr(t, "Ping", s.Ping(context.Background()))
}

// testLeaseDrainingAgent: a draining or revoked agent leases nothing, even
// when its lease call began before the drain (the check is in the lease).
func testLeaseDrainingAgent(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	noErr(t, "CreateAgent", s.CreateAgent(ctx, store.Agent{ID: agentID, TokenHash: "tok", Capabilities: defaultCaps(), CreatedAt: at, LastSeenAt: at}))
	_, tk := create(t, s, at, spec{})
	now := at.Add(time.Second)
	noErr(t, "SetAgentDrain on", s.SetAgentDrain(ctx, agentID, true, now))
	if got := lease(t, s, now, 1, defaultCaps()); len(got) != 0 {
		t.Fatalf("a draining agent leased %v", taskIDs(got))
	}
	if got := leaseAs(t, s, "agent-2", now, 1, defaultCaps()); len(got) != 1 || got[0].ID != tk.ID {
		t.Fatalf("another agent leased %v, want %s", taskIDs(got), tk.ID)
	}
	create(t, s, at, spec{})
	noErr(t, "SetAgentDrain off", s.SetAgentDrain(ctx, agentID, false, now))
	noErr(t, "RevokeAgent", s.RevokeAgent(ctx, agentID, now))
	if got := lease(t, s, now, 1, defaultCaps()); len(got) != 0 {
		t.Fatalf("a revoked agent leased %v", taskIDs(got))
	}
}
