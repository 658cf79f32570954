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

// Every change of jobs takes one round trip inside its transaction, which
// reads the jobs' whole states while taking their row locks, and queues the
// writes of what package job decided to go with the transaction's next
// round trip (store.ChangeJobs, store.ApplyReports):
// the tasks removed, changed and added, the jobs re-derived from them,
// their next events, the webhook deliveries those cause and the cache
// entries of jobs that succeeded. Holding a job's lock is what lets its
// task rows be read unlocked.

// stateTx is a transaction as store's change flows use it. read holds
// states this transaction has already read under their jobs' locks, with
// the query that picked their tasks (selectReady); LockJobs answers from
// them when it can, so a lease pays no round trip for its jobs' states.
type stateTx struct {
	tx   *pipeTx
	read map[string]*job.State
}

var _ store.StateTx = stateTx{}

// The jobs a state read is about, as a test of a job id on $1 (a text
// array): the ids themselves, the ids of tasks of theirs, or (with $1
// empty) the jobs whose tasks the lease query before it in the same
// transaction picked and locked.
const (
	jobsByID    = `= ANY($1::text[])`
	jobsOfTasks = `IN (SELECT job_id FROM tasks WHERE id = ANY($1::text[]))`
	jobsPicked  = `= ANY($1::text[] || nullif(current_setting('` + pickedJobsVar + `', true), '')::text[])`
)

// A state read is three statements in one round trip, whatever the number
// of jobs (one statement per job cost PostgreSQL an executor start each and
// was most of a report batch's statements). The first takes the jobs' row
// locks in id order, the store's lock order, so two transactions never wait
// on each other in a cycle; the other two then read, each with a snapshot
// taken after the locks are held, the jobs with their metadata, last event
// and tenant's webhook endpoints (as JSON), and the jobs' tasks. Holding a
// job's lock is what lets its other rows be read unlocked. Given a tenant
// ($2), jobs of other tenants are neither locked nor read. match is
// jobsByID or jobsOfTasks.
func lockJobsSQL(match string) string {
	return `SELECT id FROM jobs WHERE id ` + match + ` AND ($2::text = '' OR tenant = $2::text) ORDER BY id FOR UPDATE`
}

func readJobsSQL(match string) string {
	return `SELECT ` + jobColsJ + `, m.cache_key, m.traceparent, e.seq, e.status, e.stage, e.progress,
	(SELECT jsonb_agg(jsonb_build_object('id', w.id, 'url', w.url, 'events', w.events) ORDER BY w.created_at, w.id)
	 FROM webhook_endpoints w WHERE w.tenant = j.tenant)
FROM jobs j
LEFT JOIN job_meta m ON m.job_id = j.id
LEFT JOIN LATERAL (SELECT seq, status, stage, progress FROM job_events
                   WHERE job_id = j.id ORDER BY seq DESC LIMIT 1) e ON true
WHERE j.id ` + match + ` AND ($2::text = '' OR j.tenant = $2::text)`
}

func readTasksSQL(match string) string {
	return `SELECT ` + taskCols + ` FROM tasks WHERE job_id ` + match +
		` AND ($2::text = '' OR tenant = $2::text) ORDER BY job_id, ord`
}

// extraRow scans a row's leading columns into the caller's destinations
// and the rest into extra.
type extraRow struct {
	pgx.Row
	extra []any
}

func (r extraRow) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra...)...) }

// queueStateReads queues a state read of the jobs that match ids (see
// lockJobsSQL); scanStates reads its answers.
func queueStateReads(b *pgx.Batch, match string, ids []string, tenant string) {
	b.Queue(lockJobsSQL(match), ids, tenant)
	b.Queue(readJobsSQL(match), ids, tenant)
	b.Queue(readTasksSQL(match), ids, tenant)
}

// readStates locks and reads the states of the jobs that match ids (see
// lockJobsSQL), by job id.
func (s stateTx) readStates(ctx context.Context, match string, ids []string, tenant string) (map[string]*job.State, error) {
	b := &pgx.Batch{}
	queueStateReads(b, match, ids, tenant)
	br := s.tx.SendBatch(ctx, b)
	states, err := scanStates(br)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("read job states: %w", mapErr(cerr))
	}
	if err != nil {
		return nil, err
	}
	return states, nil
}

// scanStates reads what queueStateReads queued.
func scanStates(br pgx.BatchResults) (map[string]*job.State, error) {
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("lock jobs: %w", mapErr(err))
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("read jobs: %w", mapErr(err))
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*job.State, error) { return scanState(r) })
	if err != nil {
		return nil, fmt.Errorf("read jobs: %w", mapErr(err))
	}
	states := make(map[string]*job.State, len(jobs))
	for _, st := range jobs {
		states[st.Job.ID] = st
	}
	tasks, err := collectTasks(br.Query())
	if err != nil {
		return nil, fmt.Errorf("read tasks: %w", mapErr(err))
	}
	for _, t := range tasks {
		if st := states[t.JobID]; st != nil {
			st.Tasks = append(st.Tasks, t)
		}
	}
	return states, nil
}

// scanState scans one row of readJobsSQL.
func scanState(row pgx.Row) (*job.State, error) {
	var (
		st                     job.State
		cacheKey, tp, evStatus *string
		evStage                *string
		evSeq                  *int64
		evProgress             *float64
		endpoints              []byte
	)
	j, err := scanJob(extraRow{row, []any{&cacheKey, &tp, &evSeq, &evStatus, &evStage, &evProgress, &endpoints}})
	if err != nil {
		return nil, fmt.Errorf("read job: %w", err)
	}
	st.Job = j
	if cacheKey != nil {
		st.CacheKey, st.Traceparent = *cacheKey, *tp
	}
	if evSeq != nil {
		st.Last = &job.Event{JobID: j.ID, Seq: *evSeq, Status: api.JobStatus(*evStatus), Stage: *evStage, Progress: *evProgress}
	}
	if len(endpoints) > 0 {
		if err := json.Unmarshal(endpoints, &st.Endpoints); err != nil {
			return nil, fmt.Errorf("job %s webhook endpoints: %w", j.ID, err)
		}
	}
	return &st, nil
}

// LockJobs reads the states of jobs in one round trip.
func (s stateTx) LockJobs(ctx context.Context, tenant string, ids []string) ([]*job.State, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if out, ok := s.alreadyRead(tenant, ids); ok {
		return out, nil
	}
	states, err := s.readStates(ctx, jobsByID, ids, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]*job.State, 0, len(ids))
	for _, id := range ids {
		st, ok := states[id]
		if !ok {
			return nil, fmt.Errorf("job %s: lock job: %w", id, mapErr(pgx.ErrNoRows))
		}
		out = append(out, st)
	}
	return out, nil
}

// alreadyRead returns the states of ids, in order, if this transaction
// read all of them with their locks (s.read) and no tenant limits them.
func (s stateTx) alreadyRead(tenant string, ids []string) ([]*job.State, bool) {
	if tenant != "" || len(s.read) == 0 {
		return nil, false
	}
	out := make([]*job.State, len(ids))
	for i, id := range ids {
		if out[i] = s.read[id]; out[i] == nil {
			return nil, false
		}
	}
	return out, true
}

// LockTaskJobs takes the locks of the tasks' jobs in id order and reads
// their states, in one round trip.
func (s stateTx) LockTaskJobs(ctx context.Context, taskIDs []string) ([]*job.State, error) {
	states, err := s.readStates(ctx, jobsOfTasks, taskIDs, "")
	if err != nil {
		return nil, err
	}
	jobOf := make(map[string]string, len(taskIDs))
	for _, st := range states {
		for _, t := range st.Tasks {
			jobOf[t.ID] = st.Job.ID
		}
	}
	out := make([]*job.State, len(taskIDs))
	for i, id := range taskIDs {
		out[i] = states[jobOf[id]] // nil for an unknown task
	}
	return out, nil
}

// Write queues changes to go with the transaction's next round trip (at
// the latest its commit): nothing waits for their answers, and one that
// fails fails that round trip. Each table is written with one statement
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
	if b.Len() > 0 {
		s.tx.sendLater(b)
	}
	return nil
}
