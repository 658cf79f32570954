package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// Job columns, in the order scanJob uses, bare and qualified by the alias j.
const (
	jobCols = `id, tenant, status, stage, progress, spec, idempotency_key, request_hash,
	attempts, error, result, result_key, created_at, updated_at, finished_at, chunks_total, chunks_done`
	jobColsJ = `j.id, j.tenant, j.status, j.stage, j.progress, j.spec, j.idempotency_key, j.request_hash,
	j.attempts, j.error, j.result, j.result_key, j.created_at, j.updated_at, j.finished_at, j.chunks_total, j.chunks_done`
)

// Task columns, in the order scanTask and taskArgs use, bare and qualified
// by the alias t.
const (
	taskCols = `id, job_id, tenant, kind, state, priority, requires, attempt, max_attempts,
	run_at, token, agent_id, lease_deadline, stage, progress, last_error, result, created_at, updated_at,
	parents, chunk, started_at, runs`
	taskColsT = `t.id, t.job_id, t.tenant, t.kind, t.state, t.priority, t.requires, t.attempt, t.max_attempts,
	t.run_at, t.token, t.agent_id, t.lease_deadline, t.stage, t.progress, t.last_error, t.result, t.created_at, t.updated_at,
	t.parents, t.chunk, t.started_at, t.runs`
)

// querier is what both the pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func scanJob(row pgx.Row) (job.Job, error) {
	var (
		j                job.Job
		status           string
		spec, errJ, resJ []byte
		finished         *time.Time
	)
	if err := row.Scan(&j.ID, &j.Tenant, &status, &j.Stage, &j.Progress, &spec, &j.IdempotencyKey,
		&j.RequestHash, &j.Attempts, &errJ, &resJ, &j.ResultKey, &j.CreatedAt, &j.UpdatedAt, &finished,
		&j.ChunksTotal, &j.ChunksDone); err != nil {
		return j, err
	}
	j.Status = job.Status(status)
	j.CreatedAt, j.UpdatedAt = j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	if finished != nil {
		f := finished.UTC()
		j.FinishedAt = &f
	}
	if err := store.DecodeSpec(spec, &j.Spec); err != nil {
		return j, fmt.Errorf("job %s spec: %w", j.ID, err)
	}
	if err := store.DecodeError(errJ, &j.Error); err != nil {
		return j, fmt.Errorf("job %s error: %w", j.ID, err)
	}
	if err := store.DecodeJobResult(resJ, &j.Result); err != nil {
		return j, fmt.Errorf("job %s result: %w", j.ID, err)
	}
	return j, nil
}

// scanEach scans rows of an ordinal n followed by the job columns.
func scanEach(rows pgx.Rows, fn func(n int, j job.Job)) error {
	defer rows.Close()
	for rows.Next() {
		var n int
		j, err := scanJob(numbered{rows, &n})
		if err != nil {
			return err
		}
		fn(n, j)
	}
	return rows.Err()
}

// numbered is a row whose first column, an ordinal, is scanned into n.
type numbered struct {
	pgx.Row
	n *int
}

func (r numbered) Scan(dest ...any) error { return r.Row.Scan(append([]any{r.n}, dest...)...) }

func scanTask(row pgx.Row) (job.Task, error) {
	var (
		t                    job.Task
		state                string
		req, lastErr, resJ   []byte
		parents, chunk, runs []byte
		deadline, started    *time.Time
	)
	if err := row.Scan(&t.ID, &t.JobID, &t.Tenant, &t.Kind, &state, &t.Priority, &req, &t.Attempt,
		&t.MaxAttempts, &t.RunAt, &t.Token, &t.AgentID, &deadline, &t.Stage, &t.Progress, &lastErr,
		&resJ, &t.CreatedAt, &t.UpdatedAt, &parents, &chunk, &started, &runs); err != nil {
		return t, err
	}
	t.State = job.TaskState(state)
	t.RunAt, t.CreatedAt, t.UpdatedAt = t.RunAt.UTC(), t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	if deadline != nil {
		t.LeaseDeadline = deadline.UTC()
	}
	if started != nil {
		t.StartedAt = started.UTC()
	}
	if err := store.DecodeParents(parents, &t.Parents); err != nil {
		return t, fmt.Errorf("task %s parents: %w", t.ID, err)
	}
	if err := store.DecodeChunk(chunk, &t.Chunk); err != nil {
		return t, fmt.Errorf("task %s chunk: %w", t.ID, err)
	}
	if err := store.DecodeRuns(runs, &t.Runs); err != nil {
		return t, fmt.Errorf("task %s runs: %w", t.ID, err)
	}
	if err := store.DecodeRequires(req, &t.Requires); err != nil {
		return t, fmt.Errorf("task %s requires: %w", t.ID, err)
	}
	if err := store.DecodeError(lastErr, &t.LastError); err != nil {
		return t, fmt.Errorf("task %s last error: %w", t.ID, err)
	}
	if err := store.DecodeTaskResult(resJ, &t.Result); err != nil {
		return t, fmt.Errorf("task %s result: %w", t.ID, err)
	}
	return t, nil
}

func collectTasks(rows pgx.Rows, err error) ([]job.Task, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (job.Task, error) { return scanTask(r) })
}

// timeArg is a nullable timestamp: the zero time is SQL NULL.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func timePtrArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

// taskArgs are a task's columns in taskCols order.
func taskArgs(t job.Task) ([]any, error) {
	req, err := store.RequiresArg(&t.Requires)
	if err != nil {
		return nil, fmt.Errorf("task %s requires: %w", t.ID, err)
	}
	lastErr, err := store.ErrorArg(t.LastError)
	if err != nil {
		return nil, fmt.Errorf("task %s last error: %w", t.ID, err)
	}
	res, err := store.TaskResultArg(t.Result)
	if err != nil {
		return nil, fmt.Errorf("task %s result: %w", t.ID, err)
	}
	parents, err := store.ParentsArg(t.Parents)
	if err != nil {
		return nil, fmt.Errorf("task %s parents: %w", t.ID, err)
	}
	chunk, err := store.ChunkArg(t.Chunk)
	if err != nil {
		return nil, fmt.Errorf("task %s chunk: %w", t.ID, err)
	}
	runs, err := store.RunsArg(t.Runs)
	if err != nil {
		return nil, fmt.Errorf("task %s runs: %w", t.ID, err)
	}
	return []any{t.ID, t.JobID, t.Tenant, t.Kind, string(t.State), t.Priority, req, t.Attempt,
		t.MaxAttempts, t.RunAt, t.Token, t.AgentID, timeArg(t.LeaseDeadline), t.Stage, t.Progress,
		lastErr, res, t.CreatedAt, t.UpdatedAt, parents, chunk, timeArg(t.StartedAt), runs}, nil
}

// queueInsertTask queues the INSERT of a task added to a job, after the
// job's other tasks; the inserts of one batch see each other, so they keep
// their order.
func queueInsertTask(b *pgx.Batch, t job.Task) error {
	a, err := taskArgs(t)
	if err != nil {
		return err
	}
	b.Queue(`INSERT INTO tasks (`+taskCols+`, ord) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
		$12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,
		(SELECT coalesce(max(ord), -1) + 1 FROM tasks WHERE job_id = $2))`, a...)
	return nil
}
