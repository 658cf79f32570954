package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// Every change of a job takes two round trips inside its transaction: one
// reads the job's whole state while taking the job's row lock (jobState),
// the other writes the changed tasks, the job re-derived from them, its next
// event, the webhook deliveries that event causes and, on success, the
// cache entry. The decisions in between are the shared ones of package
// store; holding the job's lock is what lets the task rows be read unlocked.

// jobState is what a change of one job reads.
type jobState struct {
	job       job.Job
	tasks     []job.Task // in creation order
	last      *store.JobEvent
	endpoints []store.WebhookEndpoint
	meta      store.JobMeta // cache key and trace context ("" when none)
}

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
func readState(br pgx.BatchResults) (jobState, error) {
	var (
		st                     jobState
		cacheKey, tp, evStatus *string
		evStage                *string
		evSeq                  *int64
		evProgress             *float64
		endpoints              []byte
	)
	j, jobErr := scanJob(extraRow{br.QueryRow(), []any{&cacheKey, &tp, &evSeq, &evStatus, &evStage, &evProgress, &endpoints}})
	st.job = j
	tasks, err := collectTasks(br.Query())
	if jobErr != nil {
		return st, fmt.Errorf("lock job: %w", mapErr(jobErr))
	}
	if err != nil {
		return st, fmt.Errorf("read tasks: %w", err)
	}
	st.tasks = tasks
	if cacheKey != nil {
		st.meta = store.JobMeta{JobID: j.ID, Tenant: j.Tenant, CacheKey: *cacheKey, Traceparent: *tp}
	}
	if evSeq != nil {
		st.last = &store.JobEvent{JobID: j.ID, Seq: *evSeq, Status: api.JobStatus(*evStatus), Stage: *evStage, Progress: *evProgress}
	}
	if len(endpoints) > 0 {
		if err := json.Unmarshal(endpoints, &st.endpoints); err != nil {
			return st, fmt.Errorf("read webhook endpoints: %w", err)
		}
		for i := range st.endpoints {
			st.endpoints[i].Tenant = j.Tenant
		}
	}
	return st, nil
}

// lockState reads and locks one job's state in one round trip.
func lockState(ctx context.Context, tx pgx.Tx, jobID, key, tenant string) (jobState, error) {
	b := &pgx.Batch{}
	queueReadState(b, jobID, key, tenant)
	br := tx.SendBatch(ctx, b)
	st, err := readState(br)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("read job state: %w", mapErr(cerr))
	}
	return st, err
}

// lockStates reads the states of jobs the transaction already holds (lease
// and rescue lock them with their tasks), all in one round trip.
func lockStates(ctx context.Context, tx pgx.Tx, ids []string) ([]jobState, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	b := &pgx.Batch{}
	for _, id := range ids {
		queueReadState(b, byJobID, id, "")
	}
	br := tx.SendBatch(ctx, b)
	out := make([]jobState, 0, len(ids))
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

// changeEach reads the states of the jobs ids (which the transaction holds
// or locks now, in that order), lets decide pick each job's changed tasks,
// and writes all the changes in one round trip. A state decide is given
// stays valid, as written, after changeEach returns.
func changeEach(ctx context.Context, tx pgx.Tx, ids []string, now time.Time, decide func(st *jobState) ([]job.Task, error)) error {
	states, err := lockStates(ctx, tx, ids)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	for i := range states {
		changed, err := decide(&states[i])
		if err != nil {
			return err
		}
		if err := states[i].apply(b, changed, now); err != nil {
			return err
		}
	}
	return send(ctx, tx, b)
}

// task returns the job's task with the given id.
func (st *jobState) task(id string) (job.Task, bool) {
	for _, t := range st.tasks {
		if t.ID == id {
			return t, true
		}
	}
	return job.Task{}, false
}

// apply records changed tasks in the state and queues the writes of the
// change: those tasks (and the siblings a final failure abandons), the job
// re-derived from its tasks, its next event and deliveries, and the cache
// entry of a job that just succeeded.
func (st *jobState) apply(b *pgx.Batch, changed []job.Task, now time.Time) error {
	for _, c := range changed {
		for i := range st.tasks {
			if st.tasks[i].ID == c.ID {
				st.tasks[i] = c
			}
		}
	}
	changed = append(changed, store.AbandonSiblings(st.tasks, now)...)
	for _, t := range changed {
		if err := queueSaveTask(b, t); err != nil {
			return err
		}
	}
	j := &st.job
	store.Settle(j, st.tasks, now)
	errJ, err := store.ErrorArg(j.Error)
	if err != nil {
		return fmt.Errorf("job %s error: %w", j.ID, err)
	}
	resJ, err := store.JobResultArg(j.Result)
	if err != nil {
		return fmt.Errorf("job %s result: %w", j.ID, err)
	}
	b.Queue(`UPDATE jobs SET status = $2, stage = $3, progress = $4, attempts = $5,
		error = $6, result = $7, result_key = $8, updated_at = $9, finished_at = $10 WHERE id = $1`,
		j.ID, string(j.Status), j.Stage, j.Progress, j.Attempts, errJ, resJ, j.ResultKey, j.UpdatedAt,
		timePtrArg(j.FinishedAt))
	ch, ok, err := store.PlanJobChange(st.last, *j, st.endpoints, now)
	if err != nil || !ok {
		return err
	}
	if err := queueChange(b, ch); err != nil {
		return err
	}
	st.last = &ch.Event // a later change of this job in the same batch follows it
	if ch.Succeeded && j.ResultKey != "" && (j.Result == nil || !j.Result.Cached) && st.meta.CacheKey != "" {
		res, err := store.CachedResultArg(*j)
		if err != nil {
			return fmt.Errorf("encode cached result: %w", err)
		}
		b.Queue(`INSERT INTO result_cache (tenant, cache_key, job_id, result_key, result, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, cache_key) DO UPDATE SET job_id = excluded.job_id,
			result_key = excluded.result_key, result = excluded.result, created_at = excluded.created_at`,
			j.Tenant, st.meta.CacheKey, j.ID, j.ResultKey, res, now)
	}
	return nil
}

// send runs queued writes in one round trip.
func send(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("write: %w", mapErr(err))
	}
	return nil
}

// queueChange queues the writes of a planned change: the event and its
// webhook deliveries.
func queueChange(b *pgx.Batch, ch store.JobChange) error {
	data, err := store.EventArg(&ch.Event.Job)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	b.Queue(`INSERT INTO job_events (job_id, seq, status, stage, progress, data, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, ch.Event.JobID, ch.Event.Seq, string(ch.Event.Status), ch.Event.Stage,
		ch.Event.Progress, data, ch.Event.At)
	for _, d := range ch.Deliveries {
		b.Queue(`INSERT INTO webhook_deliveries (id, tenant, endpoint_id, event_id, event_type,
			job_id, url, payload, status, attempts, next_attempt_at, window_start, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $12, $13)`, d.ID, d.Tenant, d.EndpointID, d.EventID,
			d.EventType, d.JobID, d.URL, d.Payload, d.Status, d.NextAttemptAt, d.WindowStart, d.CreatedAt,
			d.UpdatedAt)
	}
	return nil
}
