package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

const jobCols = `id, tenant, status, stage, progress, spec, idempotency_key, request_hash,
	attempts, error, result, result_key, created_at, updated_at, finished_at, chunks_total, chunks_done`

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

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// Times are stored as microseconds since the Unix epoch.
func ts(t time.Time) int64 { return t.UnixMicro() }

func fromTS(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullTS stores the zero time as NULL.
func nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

func nullTSPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func fromNullTS(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromTS(n.Int64)
	return &t
}

func scanJob(row scanner) (job.Job, error) {
	var (
		j                job.Job
		status           string
		spec, errJ, resJ []byte
		created, updated int64
		finished         sql.NullInt64
	)
	if err := row.Scan(&j.ID, &j.Tenant, &status, &j.Stage, &j.Progress, &spec, &j.IdempotencyKey,
		&j.RequestHash, &j.Attempts, &errJ, &resJ, &j.ResultKey, &created, &updated, &finished,
		&j.ChunksTotal, &j.ChunksDone); err != nil {
		return j, err
	}
	j.Status = job.Status(status)
	j.CreatedAt, j.UpdatedAt, j.FinishedAt = fromTS(created), fromTS(updated), fromNullTS(finished)
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

func scanTask(row scanner) (job.Task, error) {
	var (
		t                       job.Task
		state                   string
		req, lastErr, resJ      []byte
		parents, chunk, runs    []byte
		runAt, created, updated int64
		deadline, started       sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.JobID, &t.Tenant, &t.Kind, &state, &t.Priority, &req, &t.Attempt,
		&t.MaxAttempts, &runAt, &t.Token, &t.AgentID, &deadline, &t.Stage, &t.Progress, &lastErr,
		&resJ, &created, &updated, &parents, &chunk, &started, &runs); err != nil {
		return t, err
	}
	t.State = job.TaskState(state)
	t.RunAt, t.CreatedAt, t.UpdatedAt = fromTS(runAt), fromTS(created), fromTS(updated)
	if d := fromNullTS(deadline); d != nil {
		t.LeaseDeadline = *d
	}
	if d := fromNullTS(started); d != nil {
		t.StartedAt = *d
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

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			_ = rows.Close()
			return nil, err
		}
		out = append(out, v)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	return out, nil
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
		t.MaxAttempts, ts(t.RunAt), t.Token, t.AgentID, nullTS(t.LeaseDeadline), t.Stage, t.Progress,
		lastErr, res, ts(t.CreatedAt), ts(t.UpdatedAt), parents, chunk, nullTS(t.StartedAt), runs}, nil
}

// nextOrd places a task added to a job (the last argument) after the
// job's other tasks.
const nextOrd = `(SELECT coalesce(max(ord), -1) + 1 FROM tasks WHERE job_id = ?)`

// insertTask inserts a task at position ord of its job, or after its other
// tasks when ord < 0.
func insertTask(ctx context.Context, tx *sql.Tx, t job.Task, ord int) error {
	a, err := taskArgs(t)
	if err != nil {
		return err
	}
	ordSQL, ordArg := "?", any(ord)
	if ord < 0 {
		ordSQL, ordArg = nextOrd, t.JobID
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tasks (`+taskCols+`, ord)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, `+ordSQL+`)`, append(a, ordArg)...); err != nil {
		return fmt.Errorf("insert task %s: %w", t.ID, mapErr(err))
	}
	return nil
}

// saveTask writes a task's mutable columns (id, job, tenant, kind and
// creation time never change).
func saveTask(ctx context.Context, tx *sql.Tx, t job.Task) error {
	a, err := taskArgs(t)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE tasks SET state = ?, priority = ?, requires = ?, attempt = ?,
		max_attempts = ?, run_at = ?, token = ?, agent_id = ?, lease_deadline = ?,
		stage = ?, progress = ?, last_error = ?, result = ?, updated_at = ?,
		parents = ?, chunk = ?, started_at = ?, runs = ?
		WHERE id = ?`, a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[18],
		a[19], a[20], a[21], a[22], a[0])
	if err != nil {
		return fmt.Errorf("update task %s: %w", t.ID, err)
	}
	return nil
}

// saveJob writes a job's mutable columns.
func saveJob(ctx context.Context, tx *sql.Tx, j job.Job) error {
	errJ, err := store.ErrorArg(j.Error)
	if err != nil {
		return fmt.Errorf("job %s error: %w", j.ID, err)
	}
	resJ, err := store.JobResultArg(j.Result)
	if err != nil {
		return fmt.Errorf("job %s result: %w", j.ID, err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE jobs SET status = ?, stage = ?, progress = ?, attempts = ?,
		error = ?, result = ?, result_key = ?, updated_at = ?, finished_at = ?,
		chunks_total = ?, chunks_done = ? WHERE id = ?`,
		string(j.Status), j.Stage, j.Progress, j.Attempts, errJ, resJ, j.ResultKey, ts(j.UpdatedAt),
		nullTSPtr(j.FinishedAt), j.ChunksTotal, j.ChunksDone, j.ID)
	if err != nil {
		return fmt.Errorf("update job %s: %w", j.ID, err)
	}
	return nil
}
