package postgres

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// A batch writes its tasks, jobs, events and metadata with one statement
// per table whose columns arrive as arrays (unnest), not with a statement
// per row: a report batch wrote about a dozen statements per task, and one
// per table saves PostgreSQL a statement's start-up for every row (the
// rows' own cost, mostly their index entries, stays). The narrow
// agent_stats upsert is one statement too; job_stats and the other
// statistics stay one upsert per row: job_stats' wide upsert as one
// statement cost more than the rows it replaced (docs/performance.md).

// rows gathers the rows of one multi-row statement, column by column.
type rows [][]any

func (r *rows) add(vals ...any) {
	if *r == nil {
		*r = make(rows, len(vals))
	}
	for i, v := range vals {
		(*r)[i] = append((*r)[i], v)
	}
}

// append adds o's rows.
func (r *rows) append(o rows) {
	if len(o) == 0 {
		return
	}
	if *r == nil {
		*r = make(rows, len(o))
	}
	for i, c := range o {
		(*r)[i] = append((*r)[i], c...)
	}
}

// queue queues sql with the columns' arrays as $1…$n, unless there is no
// row.
func (r rows) queue(b *pgx.Batch, sql string) {
	if len(r) == 0 {
		return
	}
	args := make([]any, len(r))
	for i, c := range r {
		args[i] = c
	}
	b.Queue(sql, args...)
}

// unnest reads columns named as in cols from arrays $1…$n of the given
// element types, as the relation r.
func unnest(cols string, types ...string) string {
	ps := make([]string, len(types))
	for i, t := range types {
		ps[i] = "$" + strconv.Itoa(i+1) + "::" + t + "[]"
	}
	return "unnest(" + strings.Join(ps, ", ") + ") AS r(" + cols + ")"
}

var (
	// taskTypes are the types of taskArgs' columns.
	taskTypes = []string{"text", "text", "text", "text", "text", "int", "jsonb", "int", "int",
		"timestamptz", "bigint", "text", "timestamptz", "text", "float8", "jsonb", "jsonb", "timestamptz",
		"timestamptz", "jsonb", "jsonb", "timestamptz", "jsonb"}
	// taskRows are tasks in taskArgs' columns.
	taskRows = unnest(taskCols, taskTypes...)

	// updateTasksSQL saves tasks (taskArgs) that exist.
	updateTasksSQL = `UPDATE tasks t SET state = r.state, priority = r.priority, requires = r.requires,
		attempt = r.attempt, max_attempts = r.max_attempts, run_at = r.run_at, token = r.token,
		agent_id = r.agent_id, lease_deadline = r.lease_deadline, stage = r.stage, progress = r.progress,
		last_error = r.last_error, result = r.result, updated_at = r.updated_at, parents = r.parents,
		chunk = r.chunk, started_at = r.started_at, runs = r.runs
		FROM ` + taskRows + ` WHERE t.id = r.id`

	// insertTasksSQL inserts tasks (taskArgs, then ord).
	insertTasksSQL = `INSERT INTO tasks (` + taskCols + `, ord) SELECT * FROM ` +
		unnest(taskCols+", ord", append(slices.Clone(taskTypes), "int")...)

	// updateJobsSQL saves the columns of jobs a change may change (jobArgs).
	updateJobsSQL = `UPDATE jobs j SET status = r.status, stage = r.stage, progress = r.progress,
		attempts = r.attempts, error = r.error, result = r.result, result_key = r.result_key,
		updated_at = r.updated_at, finished_at = r.finished_at, chunks_total = r.chunks_total,
		chunks_done = r.chunks_done
		FROM ` + unnest("id, status, stage, progress, attempts, error, result, result_key, updated_at, finished_at, chunks_total, chunks_done",
		"text", "text", "text", "float8", "int", "jsonb", "jsonb", "text", "timestamptz", "timestamptz", "int", "int") +
		` WHERE j.id = r.id`

	insertEventsSQL = `INSERT INTO job_events (job_id, seq, status, stage, progress, data, created_at) SELECT * FROM ` +
		unnest("job_id, seq, status, stage, progress, data, created_at",
			"text", "bigint", "text", "text", "float8", "jsonb", "timestamptz")

	insertMetaSQL = `INSERT INTO job_meta (job_id, tenant, cache_key, traceparent) SELECT * FROM ` +
		unnest("job_id, tenant, cache_key, traceparent", "text", "text", "text", "text")
)

// jobArgs are the columns of j updateJobsSQL writes.
func jobArgs(j job.Job) ([]any, error) {
	errJ, err := store.ErrorArg(j.Error)
	if err != nil {
		return nil, fmt.Errorf("job %s error: %w", j.ID, err)
	}
	resJ, err := store.JobResultArg(j.Result)
	if err != nil {
		return nil, fmt.Errorf("job %s result: %w", j.ID, err)
	}
	return []any{j.ID, string(j.Status), j.Stage, j.Progress, j.Attempts, errJ, resJ, j.ResultKey, j.UpdatedAt,
		timePtrArg(j.FinishedAt), j.ChunksTotal, j.ChunksDone}, nil
}

// effects gathers what changes cause besides their jobs' and tasks' rows:
// their events (one statement), and the webhook deliveries and cache
// entries (a few, one statement each) queued after the events.
type effects struct {
	events rows
	later  pgx.Batch
}

// add adds ch's event and what it causes.
func (e *effects) add(ch job.Change) error {
	ev := ch.Event
	if ev == nil {
		return nil
	}
	snap := ev.Job.ToAPI()
	data, err := store.EventArg(&snap)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	e.events.add(ev.JobID, ev.Seq, string(ev.Status), ev.Stage, ev.Progress, data, ev.At)
	for _, d := range ch.Deliveries {
		e.later.Queue(`INSERT INTO webhook_deliveries (id, tenant, endpoint_id, event_id, event_type,
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
		e.later.Queue(`INSERT INTO result_cache (tenant, cache_key, job_id, result_key, result, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, cache_key) DO UPDATE SET job_id = excluded.job_id,
			result_key = excluded.result_key, result = excluded.result, created_at = excluded.created_at`,
			j.Tenant, ch.CacheKey, j.ID, j.ResultKey, res, ev.At)
	}
	return nil
}

// merge adds o's writes.
func (e *effects) merge(o *effects) {
	e.events.append(o.events)
	e.later.QueuedQueries = append(e.later.QueuedQueries, o.later.QueuedQueries...)
}

// queue queues the gathered writes on b.
func (e *effects) queue(b *pgx.Batch) {
	e.events.queue(b, insertEventsSQL)
	b.QueuedQueries = append(b.QueuedQueries, e.later.QueuedQueries...)
}
