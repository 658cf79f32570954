package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// TestLeaseBatch drives one lease group commit directly, so the batch holds
// exactly what the test puts in it: calls sharing capabilities share one
// query and take its tasks in arrival order, each up to its max; another
// capability set is served on its own, and a last one that finds nothing
// after them leases nothing; each leased task comes with its job as
// leased; a draining agent gets nothing and a call whose context ended
// gets its error, without disturbing the others.
func TestLeaseBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	at := time.Now().UTC().Add(-time.Minute)
	var plain, gpu []string
	for i := range 8 {
		j := testJob(at.Add(time.Duration(i)*time.Second), "")
		if i >= 6 {
			j.Spec.Labels = map[string]string{"gpu": "a100"}
		}
		tasks := createPlanned(t, s, j)
		if i >= 6 {
			gpu = append(gpu, tasks[0].ID)
		} else {
			plain = append(plain, tasks[0].ID)
		}
	}
	for _, id := range []string{"a1", "a2", "drained", "gpu", "h100"} {
		if err := s.CreateAgent(ctx, store.Agent{ID: id, TokenHash: "h-" + id, CreatedAt: at, LastSeenAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetAgentDrain(ctx, "drained", true, at); err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	now := time.Now().UTC()
	leaseCallOf := func(ctx context.Context, agent string, max int, caps api.Capabilities) *call[store.LeaseParams, []store.Leased] {
		p := store.LeaseParams{AgentID: agent, Capabilities: caps, Max: max, Now: now, Deadline: now.Add(time.Minute)}
		return &call[store.LeaseParams, []store.Leased]{ctx: ctx, req: p, done: make(chan result[[]store.Leased], 1)}
	}
	onGPU := api.Capabilities{Labels: map[string]string{"gpu": "a100"}}
	batch := []*call[store.LeaseParams, []store.Leased]{
		leaseCallOf(ctx, "a1", 2, api.Capabilities{}),
		leaseCallOf(ctx, "drained", 2, api.Capabilities{}),
		leaseCallOf(gone, "a3", 2, api.Capabilities{}),
		leaseCallOf(ctx, "gpu", 5, onGPU),
		leaseCallOf(ctx, "a2", 10, api.Capabilities{}),
		leaseCallOf(ctx, "h100", 3, api.Capabilities{Labels: map[string]string{"gpu": "h100"}}),
	}
	s.leaseBatch(batch)
	got := make([][]string, len(batch))
	for i, c := range batch {
		r := <-c.done
		if i == 2 {
			if r.err == nil {
				t.Errorf("the call whose context ended: %d tasks, no error", len(r.val))
			}
			continue
		}
		if r.err != nil {
			t.Fatalf("call %d: %v", i, r.err)
		}
		for _, l := range r.val {
			if l.AgentID != c.req.AgentID || l.State != job.TaskLeased || l.Token != 1 || !l.LeaseDeadline.Equal(c.req.Deadline) ||
				l.Job.ID != l.JobID || l.Job.Status != api.JobRunning {
				t.Errorf("call %d leased %+v", i, l.Task)
			}
			got[i] = append(got[i], l.ID)
		}
	}
	want := [][]string{plain[:2], nil, nil, gpu, plain[2:], nil}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("call %d (%s) leased %v, want %v", i, batch[i].req.AgentID, got[i], want[i])
		}
	}
	for _, id := range slices.Concat(plain, gpu) {
		tk, err := s.GetTask(ctx, id)
		if err != nil || tk.State != job.TaskLeased {
			t.Errorf("task %s stored as %+v (%v)", id, tk, err)
		}
	}
}

// TestCompletionStandsWhenItsLeaseFails: a completion whose next lease
// fails in PostgreSQL, in its query (an agent id no text column can hold)
// or in its writes, which go with the commit (a trigger refuses them), is
// committed all the same, leases nothing, and leaves the queue as it was.
func TestCompletionStandsWhenItsLeaseFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	if _, err := s.pool.Exec(ctx, `CREATE FUNCTION refuse_lease() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'lease refused'; END $$;
CREATE TRIGGER refuse_lease BEFORE UPDATE ON tasks FOR EACH ROW WHEN (NEW.agent_id = 'refused') EXECUTE FUNCTION refuse_lease()`); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(-time.Minute)
	var ids []string
	for i := range 3 {
		tasks := createPlanned(t, s, testJob(at.Add(time.Duration(i)*time.Second), ""))
		ids = append(ids, tasks[0].ID)
	}
	if err := s.CreateAgent(ctx, store.Agent{ID: "a1", TokenHash: "h", CreatedAt: at, LastSeenAt: at}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, agent := range []string{"a1\x00", "refused"} {
		leased, err := s.LeaseTasks(ctx, store.LeaseParams{AgentID: "a1", Max: 1, Now: now, Deadline: now.Add(time.Minute)})
		if err != nil || len(leased) != 1 || leased[0].ID != ids[i] {
			t.Fatalf("lease: %+v, %v", leased, err)
		}
		bad := &store.LeaseParams{AgentID: agent, Max: 1, Now: now, Deadline: now.Add(time.Minute)}
		j, next, err := s.CompleteAndLease(ctx, store.Completion{TaskID: ids[i], Holder: "a1", Token: leased[0].Token, Now: now}, bad)
		if err != nil || len(next) != 0 || j.Status != api.JobSucceeded {
			t.Fatalf("complete with a lease for %q that fails: job %s, next %+v, err %v", agent, j.Status, next, err)
		}
		for id, want := range map[string]job.TaskState{ids[i]: job.TaskSucceeded, ids[i+1]: job.TaskQueued} {
			if tk, err := s.GetTask(ctx, id); err != nil || tk.State != want {
				t.Errorf("lease for %q: task %s is %s (%v), want %s", agent, id, tk.State, err, want)
			}
		}
	}
}

// TestLeaseRoundTrips: a lease reads the agents' states and its jobs'
// states with its query and sends its writes with the commit: two round
// trips (query, commit), whether it finds work or not. A completion that
// leases the next task costs three (its job's state; its writes with the
// lease's query; the lease's writes with the commit).
func TestLeaseRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	at := time.Now().UTC().Add(-time.Minute)
	first := createPlanned(t, s, testJob(at, ""))[0]
	second := createPlanned(t, s, testJob(at.Add(time.Second), ""))[0]
	if err := s.CreateAgent(ctx, store.Agent{ID: "a1", TokenHash: "h", CreatedAt: at, LastSeenAt: at}); err != nil {
		t.Fatal(err)
	}
	conn, rt := tracedConn(t, s.pool.Config().ConnConfig.Copy())
	now := time.Now().UTC()
	params := store.LeaseParams{AgentID: "a1", Max: 1, Now: now, Deadline: now.Add(time.Minute)}
	// inTx runs fn in a transaction on conn and counts its round trips.
	inTx := func(fn func(tx *pipeTx) error) int64 {
		t.Helper()
		rt.n.Store(0)
		tx := beginPipe(conn)
		err := fn(tx)
		if err == nil {
			err = tx.Commit(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		return rt.n.Load()
	}
	var got []store.Leased
	lease := func(tx *pipeTx) error {
		out, err := s.leaseAll(ctx, tx, []store.LeaseParams{params})
		if err == nil {
			got = out[0]
		}
		return err
	}
	if n := inTx(lease); len(got) != 1 || got[0].ID != first.ID || got[0].Job.ID != first.JobID || got[0].Job.Status != api.JobRunning || n != 2 {
		t.Fatalf("lease with work: %d tasks (%+v) in %d round trips, want task %s of a running job in 2", len(got), got, n, first.ID)
	}
	done := &call[store.Report, store.Reported]{ctx: ctx, done: make(chan result[store.Reported], 1),
		req: store.Report{Op: "complete", TaskID: first.ID, Next: &params,
			Decide: func(st *job.State) (job.Task, *job.Change, error) {
				return st.Complete(job.Completion{TaskID: first.ID, Holder: "a1", Token: got[0].Token, Now: now})
			}}}
	var answer func(context.Context)
	n := inTx(func(tx *pipeTx) (err error) {
		answer, err = s.writeReports(true)(ctx, tx, []*call[store.Report, store.Reported]{done})
		return err
	})
	answer(ctx)
	out := <-done.done
	if out.err != nil || out.val.Err != nil || len(out.val.Next) != 1 || out.val.Next[0].ID != second.ID || n != 3 {
		t.Fatalf("completion with the next lease: %v / %v, %d tasks in %d round trips, want task %s in 3", out.err, out.val.Err, len(out.val.Next), n, second.ID)
	}
	for id, want := range map[string]job.TaskState{first.ID: job.TaskSucceeded, second.ID: job.TaskLeased} {
		if tk, err := s.GetTask(ctx, id); err != nil || tk.State != want || tk.AgentID != "a1" {
			t.Errorf("task %s stored as %s for %q (%v), want %s", id, tk.State, tk.AgentID, err, want)
		}
	}
	if n := inTx(lease); len(got) != 0 || n != 2 {
		t.Fatalf("lease without work: %d tasks in %d round trips, want 0 in 2", len(got), n)
	}
}
