package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// Every change of jobs takes two round trips inside its transaction: one
// reads the jobs' whole states while taking their row locks, the other
// writes what package job decided (store.ChangeJobs, store.ApplyReports):
// the tasks removed, changed and added, the jobs re-derived from them,
// their next events, the webhook deliveries those cause and the cache
// entries of jobs that succeeded. Holding a job's lock is what lets its
// task rows be read unlocked.

// stateTx is a transaction as store's change flows use it.
type stateTx struct{ tx pgx.Tx }

var _ store.StateTx = stateTx{}

// The job a state read is about, as SQL on $1: its id, or a task's id.
const (
	byJobID  = `$1::text`
	byTaskID = `(SELECT job_id FROM tasks WHERE id = $1)`
)

// stateSQL reads and locks a job with its metadata, its last event and its
// tenant's webhook endpoints (as JSON) in one statement; %s is the job id
// (byJobID or byTaskID). With $2 != ” a job of another tenant is not found.
const stateSQL = `SELECT ` + jobColsJ + `, m.cache_key, m.traceparent, e.seq, e.status, e.stage, e.progress,
	(SELECT jsonb_agg(jsonb_build_object('id', w.id, 'url', w.url, 'events', w.events) ORDER BY w.created_at, w.id)
	 FROM webhook_endpoints w WHERE w.tenant = j.tenant)
FROM jobs j
LEFT JOIN job_meta m ON m.job_id = j.id
LEFT JOIN LATERAL (SELECT seq, status, stage, progress FROM job_events
                   WHERE job_id = j.id ORDER BY seq DESC LIMIT 1) e ON true
WHERE j.id = %s AND ($2::text = '' OR j.tenant = $2::text)
FOR UPDATE OF j`

// queueReadState queues the two reads of one job's state; jobID is byJobID
// or byTaskID.
func queueReadState(b *pgx.Batch, jobID, key, tenant string) {
	b.Queue(fmt.Sprintf(stateSQL, jobID), key, tenant)
	b.Queue(`SELECT `+taskCols+` FROM tasks WHERE job_id = `+jobID+` ORDER BY ord`, key)
}

// extraRow scans a row's leading columns into the caller's destinations
// and the rest into extra.
type extraRow struct {
	pgx.Row
	extra []any
}

func (r extraRow) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra...)...) }

// readState reads what queueReadState queued (ErrNotFound for no job).
func readState(br pgx.BatchResults) (*job.State, error) {
	var (
		st                     job.State
		cacheKey, tp, evStatus *string
		evStage                *string
		evSeq                  *int64
		evProgress             *float64
		endpoints              []byte
	)
	j, jobErr := scanJob(extraRow{br.QueryRow(), []any{&cacheKey, &tp, &evSeq, &evStatus, &evStage, &evProgress, &endpoints}})
	st.Job = j
	tasks, err := collectTasks(br.Query())
	if jobErr != nil {
		return nil, fmt.Errorf("lock job: %w", mapErr(jobErr))
	}
	if err != nil {
		return nil, fmt.Errorf("read tasks: %w", err)
	}
	st.Tasks = tasks
	if cacheKey != nil {
		st.CacheKey, st.Traceparent = *cacheKey, *tp
	}
	if evSeq != nil {
		st.Last = &job.Event{JobID: j.ID, Seq: *evSeq, Status: api.JobStatus(*evStatus), Stage: *evStage, Progress: *evProgress}
	}
	if len(endpoints) > 0 {
		if err := json.Unmarshal(endpoints, &st.Endpoints); err != nil {
			return nil, fmt.Errorf("read webhook endpoints: %w", err)
		}
	}
	return &st, nil
}

// LockJobs reads the states of jobs in one round trip.
func (s stateTx) LockJobs(ctx context.Context, tenant string, ids []string) ([]*job.State, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	b := &pgx.Batch{}
	for _, id := range ids {
		queueReadState(b, byJobID, id, tenant)
	}
	br := s.tx.SendBatch(ctx, b)
	out := make([]*job.State, 0, len(ids))
	for _, id := range ids {
		st, err := readState(br)
		if err != nil {
			_ = br.Close()
			return nil, fmt.Errorf("job %s: %w", id, err)
		}
		out = append(out, st)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("read job states: %w", mapErr(err))
	}
	return out, nil
}

// LockTaskJobs takes the locks of the tasks' jobs in one statement, in id
// order (the store's lock order, so two batches never wait on each other in
// a cycle), and reads each job's state in the same round trip.
func (s stateTx) LockTaskJobs(ctx context.Context, taskIDs []string) ([]*job.State, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT id FROM jobs WHERE id IN (SELECT job_id FROM tasks WHERE id = ANY($1)) ORDER BY id FOR UPDATE`, taskIDs)
	for _, id := range taskIDs {
		queueReadState(b, byTaskID, id, "")
	}
	br := s.tx.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, fmt.Errorf("lock jobs: %w", err)
	}
	out := make([]*job.State, len(taskIDs))
	byJob := map[string]*job.State{} // one state per job, shared by its tasks
	for i := range taskIDs {
		st, err := readState(br)
		switch {
		case isNotFound(err):
			continue
		case err != nil:
			_ = br.Close()
			return nil, err
		}
		if prev, ok := byJob[st.Job.ID]; ok {
			st = prev
		}
		byJob[st.Job.ID], out[i] = st, st
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("read job states: %w", mapErr(err))
	}
	return out, nil
}

// Write writes changes in one round trip, each table with one statement
// (rows.go) in which every row a batch touches appears once, in its last
// version: the changes of a batch are decided in order on shared states,
// so a later change of a job or task supersedes an earlier one.
func (s stateTx) Write(ctx context.Context, changes []job.Change) error {
	type taskWrite struct {
		t     job.Task
		added bool // inserted, not updated
	}
	var (
		b       = &pgx.Batch{}
		tasks   = map[string]*taskWrite{}
		order   []string // task ids, first written first
		jobs    = map[string]job.Job{}
		jobIDs  []string
		effects effects
	)
	for _, ch := range changes {
		// A replan drops the chunks' tasks and requeues prepare: the
		// deletes go first, and a task the batch added and then dropped
		// is never written.
		if len(ch.Removed) > 0 {
			b.Queue(`DELETE FROM tasks WHERE job_id = $1 AND id = ANY($2)`, ch.Job.ID, ch.Removed)
			for _, id := range ch.Removed {
				delete(tasks, id)
			}
		}
		for _, t := range ch.Tasks {
			if w, ok := tasks[t.ID]; ok {
				w.t = t
				continue
			}
			tasks[t.ID] = &taskWrite{t: t}
			order = append(order, t.ID)
		}
		for _, t := range ch.Added {
			tasks[t.ID] = &taskWrite{t: t, added: true}
			order = append(order, t.ID)
		}
		if _, ok := jobs[ch.Job.ID]; !ok {
			jobIDs = append(jobIDs, ch.Job.ID)
		}
		jobs[ch.Job.ID] = ch.Job
		if err := effects.add(ch); err != nil {
			return err
		}
	}
	var updated rows
	var added []job.Task
	for _, id := range order {
		w, ok := tasks[id]
		if !ok {
			continue // removed
		}
		delete(tasks, id) // an id re-added after a removal is listed twice
		if w.added {
			added = append(added, w.t)
			continue
		}
		a, err := taskArgs(w.t)
		if err != nil {
			return err
		}
		updated.add(a...)
	}
	updated.queue(b, updateTasksSQL)
	// Added tasks go after their jobs' other tasks, in order.
	for _, t := range added {
		if err := queueInsertTask(b, t); err != nil {
			return err
		}
	}
	var js rows
	for _, id := range jobIDs {
		a, err := jobArgs(jobs[id])
		if err != nil {
			return err
		}
		js.add(a...)
	}
	js.queue(b, updateJobsSQL)
	effects.queue(b)
	queueRollup(b, changes, connShard(s.tx))
	if b.Len() == 0 {
		return nil
	}
	if err := s.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("write: %w", mapErr(err))
	}
	return nil
}
