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

// Write writes changes in one round trip.
func (s stateTx) Write(ctx context.Context, changes []job.Change) error {
	b := &pgx.Batch{}
	for _, ch := range changes {
		// Removed first: a replan drops the chunks' tasks and requeues
		// prepare; Added last, after the job's other tasks.
		if len(ch.Removed) > 0 {
			b.Queue(`DELETE FROM tasks WHERE job_id = $1 AND id = ANY($2)`, ch.Job.ID, ch.Removed)
		}
		for _, t := range ch.Tasks {
			if err := queueSaveTask(b, t); err != nil {
				return err
			}
		}
		for _, t := range ch.Added {
			if err := queueInsertTask(b, t, -1); err != nil {
				return err
			}
		}
		j := ch.Job
		errJ, err := store.ErrorArg(j.Error)
		if err != nil {
			return fmt.Errorf("job %s error: %w", j.ID, err)
		}
		resJ, err := store.JobResultArg(j.Result)
		if err != nil {
			return fmt.Errorf("job %s result: %w", j.ID, err)
		}
		b.Queue(`UPDATE jobs SET status = $2, stage = $3, progress = $4, attempts = $5,
			error = $6, result = $7, result_key = $8, updated_at = $9, finished_at = $10,
			chunks_total = $11, chunks_done = $12 WHERE id = $1`,
			j.ID, string(j.Status), j.Stage, j.Progress, j.Attempts, errJ, resJ, j.ResultKey, j.UpdatedAt,
			timePtrArg(j.FinishedAt), j.ChunksTotal, j.ChunksDone)
		if err := queueEvent(b, ch); err != nil {
			return err
		}
	}
	queueRollup(b, changes, connShard(s.tx))
	if b.Len() == 0 {
		return nil
	}
	if err := s.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("write: %w", mapErr(err))
	}
	return nil
}

// queueEvent queues the writes of what a change of a job causes: its event,
// the event's webhook deliveries and the job's cache entry.
func queueEvent(b *pgx.Batch, ch job.Change) error {
	ev := ch.Event
	if ev == nil {
		return nil
	}
	snap := ev.Job.ToAPI()
	data, err := store.EventArg(&snap)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	b.Queue(`INSERT INTO job_events (job_id, seq, status, stage, progress, data, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, ev.JobID, ev.Seq, string(ev.Status), ev.Stage, ev.Progress, data, ev.At)
	for _, d := range ch.Deliveries {
		b.Queue(`INSERT INTO webhook_deliveries (id, tenant, endpoint_id, event_id, event_type,
			job_id, url, payload, status, attempts, next_attempt_at, window_start, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10, $10, $10)`, d.ID, d.Tenant, d.EndpointID, d.EventID,
			d.EventType, d.JobID, d.URL, d.Payload, api.DeliveryPending, d.At)
	}
	if ch.CacheKey != "" {
		j := ch.Job
		res, err := store.CachedResultArg(j)
		if err != nil {
			return fmt.Errorf("encode cached result: %w", err)
		}
		b.Queue(`INSERT INTO result_cache (tenant, cache_key, job_id, result_key, result, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, cache_key) DO UPDATE SET job_id = excluded.job_id,
			result_key = excluded.result_key, result = excluded.result, created_at = excluded.created_at`,
			j.Tenant, ch.CacheKey, j.ID, j.ResultKey, res, ev.At)
	}
	return nil
}
