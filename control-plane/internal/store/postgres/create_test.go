package postgres

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/test/testenv"
)

// openStore opens a migrated store on a fresh schema.
func openStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, testenv.Postgres(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func newReq(j job.Job) *call[createReq, created] {
	st := job.New(j, job.Plan(j, func() string { return uuid.Must(uuid.NewV7()).String() }, 3))
	req, err := newCreateReq(st, store.JobMeta{JobID: j.ID, Tenant: j.Tenant})
	if err != nil {
		panic(err) // the test's own jobs always encode
	}
	return &call[createReq, created]{req: req, done: make(chan result[created], 1)}
}

// createPlanned creates j with its planned tasks.
func createPlanned(t *testing.T, s *Store, j job.Job) []job.Task {
	t.Helper()
	tasks := job.Plan(j, func() string { return uuid.Must(uuid.NewV7()).String() }, 3)
	if _, _, err := s.CreateJob(context.Background(), j, tasks, store.JobMeta{}); err != nil {
		t.Fatal(err)
	}
	return tasks
}

// leaseOne leases one task for agent "a".
func leaseOne(t *testing.T, s *Store, at time.Time) store.Leased {
	t.Helper()
	leased, err := s.LeaseTasks(context.Background(), store.LeaseParams{AgentID: "a", Max: 1, Now: at, Deadline: at.Add(time.Minute)})
	if err != nil || len(leased) != 1 {
		t.Fatalf("lease: %d tasks, %v", len(leased), err)
	}
	return leased[0]
}

func testJob(at time.Time, key string) job.Job {
	return job.Job{ID: uuid.Must(uuid.NewV7()).String(), Tenant: "acme", Status: api.JobQueued, IdempotencyKey: key,
		RequestHash: "h", Spec: job.Spec{URL: "https://media.example.com/a.mp4", Task: api.TaskTranscribe},
		CreatedAt: at, UpdatedAt: at}
}

// TestCreateBatch drives one group commit directly, so the batch holds
// exactly what the test puts in it: a failing job (its id is taken) must not
// fail the others, which are written again one by one, and two requests
// with one idempotency key in one batch make one job.
func TestCreateBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	taken := testJob(at, "")
	if _, _, err := s.CreateJob(ctx, taken, job.Plan(taken, func() string { return uuid.Must(uuid.NewV7()).String() }, 3), store.JobMeta{}); err != nil {
		t.Fatal(err)
	}

	dup := testJob(at, "")
	dup.ID = taken.ID
	a, b := testJob(at, "k"), testJob(at, "k")
	plain := testJob(at, "")
	batch := []*call[createReq, created]{newReq(a), newReq(dup), newReq(b), newReq(plain)}
	s.createBatch(batch)

	res := make([]result[created], len(batch))
	for i, c := range batch {
		res[i] = <-c.done
	}
	if res[0].err != nil || !res[0].val.created || res[0].val.job.ID != a.ID {
		t.Fatalf("first with key: %+v", res[0])
	}
	if !errors.Is(res[1].err, store.ErrConflict) {
		t.Fatalf("taken id: err %v, want ErrConflict", res[1].err)
	}
	if res[2].err != nil || res[2].val.created || res[2].val.job.ID != a.ID {
		t.Fatalf("second with key: %+v, want job %s replayed", res[2], a.ID)
	}
	if res[3].err != nil || !res[3].val.created {
		t.Fatalf("plain: %+v", res[3])
	}
	for _, id := range []string{a.ID, plain.ID} {
		if _, err := s.GetJob(ctx, "", id); err != nil {
			t.Fatalf("job %s not stored: %v", id, err)
		}
	}
	if _, err := s.GetJob(ctx, "", b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the replayed request's job was stored (err %v)", err)
	}

	// After Close, creation fails at once instead of waiting.
	_ = s.Close()
	if _, _, err := s.CreateJob(ctx, testJob(at, ""), nil, store.JobMeta{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// TestCreateAtOnce: a batch of queued jobs is written in one round trip;
// one that replays an idempotency key, or holds a job answered from the
// cache (its first event needs the tenant's webhook endpoints), is not
// written there at all, and the careful way then answers it right.
func TestCreateAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	keyed, plain := testJob(at, "k"), testJob(at, "")
	batch := []*call[createReq, created]{newReq(keyed), newReq(plain)}
	if !s.createAtOnce(batch) {
		t.Fatal("a batch of new queued jobs was not written at once")
	}
	for i, id := range []string{keyed.ID, plain.ID} {
		if r := <-batch[i].done; r.err != nil || !r.val.created || r.val.job.ID != id {
			t.Fatalf("job %d: %+v", i, r)
		}
		if ts, err := s.JobTasks(ctx, id); err != nil || len(ts) == 0 {
			t.Fatalf("job %s: tasks %v, err %v", id, ts, err)
		}
	}

	replay, other := testJob(at, "k"), testJob(at, "")
	hit := testJob(at, "")
	cached, tasks := job.AnswerFromCache(hit, job.Plan(hit, func() string { return uuid.Must(uuid.NewV7()).String() }, 3),
		"results/r.json", api.Result{Language: "en"})
	cachedReq, err := newCreateReq(job.New(cached, tasks), store.JobMeta{JobID: cached.ID, Tenant: cached.Tenant})
	if err != nil || cachedReq.creation != nil {
		t.Fatalf("a job answered from the cache: creation %v, err %v; want it left to the writer", cachedReq.creation, err)
	}
	for _, batch := range [][]*call[createReq, created]{
		{newReq(other), newReq(replay)},
		{newReq(other), {req: cachedReq, done: make(chan result[created], 1)}},
	} {
		if s.createAtOnce(batch) {
			t.Fatal("written at once")
		}
		for i, c := range batch {
			select {
			case r := <-c.done:
				t.Fatalf("call %d answered: %+v", i, r)
			default:
			}
		}
		if _, err := s.GetJob(ctx, "", other.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a job of a batch not written at once is stored (err %v)", err)
		}
	}

	batch = []*call[createReq, created]{newReq(other), newReq(replay)}
	s.createBatch(batch)
	if r := <-batch[0].done; r.err != nil || !r.val.created {
		t.Fatalf("new job beside a replay: %+v", r)
	}
	if r := <-batch[1].done; r.err != nil || r.val.created || r.val.job.ID != keyed.ID {
		t.Fatalf("replay: %+v, want job %s", r, keyed.ID)
	}
}

// TestReportBatchFallback: when a batch of agents' reports fails in the
// database (here a stage PostgreSQL cannot store), the others are written on
// their own and only the bad one fails.
func TestReportBatchFallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	at := time.Now().UTC()
	for range 2 {
		createPlanned(t, s, testJob(at, ""))
	}
	leased, err := s.LeaseTasks(ctx, store.LeaseParams{AgentID: "a", Capabilities: api.Capabilities{Slots: 2}, Max: 2, Now: at, Deadline: at.Add(time.Minute)})
	if err != nil || len(leased) != 2 {
		t.Fatalf("lease: %d tasks, %v", len(leased), err)
	}
	beat := func(l store.Leased, stage string) *call[store.Report, store.Reported] {
		h := store.Heartbeat{TaskID: l.ID, Holder: "a", Token: l.Token, Stage: stage, Progress: 0.5, Now: at, Deadline: at.Add(time.Hour)}
		r := store.Report{Op: "heartbeat", TaskID: l.ID, Decide: func(st *job.State) (job.Task, *job.Change, error) { return st.Heartbeat(h) }}
		return &call[store.Report, store.Reported]{req: r, done: make(chan result[store.Reported], 1)}
	}
	good, bad := beat(leased[0], "download"), beat(leased[1], "bad\x00stage")
	s.applyReports([]*call[store.Report, store.Reported]{bad, good})
	if r := <-good.done; r.err != nil || r.val.Err != nil || !r.val.Task.LeaseDeadline.Equal(at.Add(time.Hour)) {
		t.Fatalf("good heartbeat: %+v", r)
	}
	if r := <-bad.done; r.err == nil && r.val.Err == nil {
		t.Fatal("the heartbeat PostgreSQL cannot store succeeded")
	}
	if tk, err := s.GetTask(ctx, leased[0].ID); err != nil || tk.Stage != "download" {
		t.Fatalf("good heartbeat not written: %+v %v", tk, err)
	}
}

// TestReportBatchSameJob: reports on one job in one transaction follow
// each other: the second is decided on the state the first left, so the
// job's events stay gapless. (Run in one transaction directly: the group
// commit's fallback, one report per transaction, cannot make it pass.)
func TestReportBatchSameJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	at := time.Now().UTC()
	j := testJob(at, "")
	createPlanned(t, s, j)
	l := leaseOne(t, s, at)
	beat := store.Report{Op: "heartbeat", TaskID: l.ID, Decide: func(st *job.State) (job.Task, *job.Change, error) {
		return st.Heartbeat(job.Heartbeat{TaskID: l.ID, Holder: "a", Token: l.Token, Stage: "download", Progress: 0.5, Now: at, Deadline: at.Add(time.Hour)})
	}}
	done := store.Report{Op: "complete", TaskID: l.ID, Decide: func(st *job.State) (job.Task, *job.Change, error) {
		return st.Complete(job.Completion{TaskID: l.ID, Holder: "a", Token: l.Token, Result: api.TaskResult{Key: "r/" + l.ID}, Now: at})
	}}
	var out []store.Reported
	err := s.inPipe(ctx, func(tx *pipeTx) (err error) {
		out, err = store.ApplyReports(ctx, stateTx{tx: tx}, []store.Report{beat, done})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Err != nil || out[0].Job.Status != api.JobRunning || out[1].Err != nil || out[1].Job.Status != api.JobSucceeded {
		t.Fatalf("answers %+v", out)
	}
	events, err := s.JobEvents(ctx, j.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
		got = append(got, string(e.Status)+"/"+e.Stage)
	}
	want := []string{"queued/", "running/", "running/download", "succeeded/download"}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}
