package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// CreateJob inserts a job, its tasks and its metadata in one transaction.
// The job's aggregate fields are derived from the tasks.
func (s *Store) CreateJob(ctx context.Context, j job.Job, tasks []job.Task, meta store.JobMeta) (job.Job, bool, error) {
	if j.ID == "" || j.CreatedAt.IsZero() {
		return job.Job{}, false, fmt.Errorf("sqlite: create job: id and created_at are required")
	}
	st := job.New(j, tasks)
	j = st.Job
	spec, err := store.SpecArg(&j.Spec)
	if err != nil {
		return job.Job{}, false, fmt.Errorf("sqlite: create job: spec: %w", err)
	}
	errJ, err := store.ErrorArg(j.Error)
	if err != nil {
		return job.Job{}, false, fmt.Errorf("sqlite: create job: error: %w", err)
	}
	resJ, err := store.JobResultArg(j.Result)
	if err != nil {
		return job.Job{}, false, fmt.Errorf("sqlite: create job: result: %w", err)
	}
	var (
		out     job.Job
		created bool
	)
	err = s.write(ctx, func(tx *sql.Tx) error {
		if j.IdempotencyKey != "" {
			// Writes are serialized, so looking first cannot race an insert.
			prev, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs
				WHERE tenant = ? AND idempotency_key = ?`, j.Tenant, j.IdempotencyKey))
			switch {
			case err == nil && prev.RequestHash != j.RequestHash:
				return fmt.Errorf("key %q is job %s: %w", j.IdempotencyKey, prev.ID, store.ErrIdempotencyMismatch)
			case err == nil:
				out, created = prev, false
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("read job with the same idempotency key: %w", err)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO jobs (`+jobCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			j.ID, j.Tenant, string(j.Status), j.Stage, j.Progress, spec, j.IdempotencyKey, j.RequestHash,
			j.Attempts, errJ, resJ, j.ResultKey, ts(j.CreatedAt), ts(j.UpdatedAt), nullTSPtr(j.FinishedAt),
			j.ChunksTotal, j.ChunksDone)
		if err != nil {
			return fmt.Errorf("insert job: %w", mapErr(err))
		}
		endpoints, err := listEndpoints(ctx, tx, j.Tenant)
		if err != nil {
			return err
		}
		st.Endpoints = store.Targets(endpoints)
		ch, err := st.Create()
		if err != nil {
			return err
		}
		for i, t := range ch.Added {
			if err := insertTask(ctx, tx, t, i); err != nil {
				return err
			}
		}
		if err := writeEvent(ctx, tx, ch); err != nil {
			return err
		}
		if err := writeRollup(ctx, tx, []job.Change{ch}); err != nil {
			return err
		}
		if meta.CacheKey != "" || meta.Traceparent != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO job_meta (job_id, tenant, cache_key, traceparent) VALUES (?, ?, ?, ?)`,
				j.ID, j.Tenant, meta.CacheKey, meta.Traceparent); err != nil {
				return fmt.Errorf("insert job meta: %w", err)
			}
		}
		out, err = scanJob(tx.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ?`, j.ID))
		created = true
		return err
	})
	if err != nil {
		return job.Job{}, false, fmt.Errorf("sqlite: create job %s: %w", j.ID, err)
	}
	return out, created, nil
}

// GetJob returns a job; tenant "" matches any tenant.
func (s *Store) GetJob(ctx context.Context, tenant, id string) (job.Job, error) {
	j, err := getJob(ctx, s.r, tenant, id)
	if err != nil {
		return job.Job{}, fmt.Errorf("sqlite: get job %s: %w", id, err)
	}
	return j, nil
}

func getJob(ctx context.Context, q querier, tenant, id string) (job.Job, error) {
	j, err := scanJob(q.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs
		WHERE id = ? AND (? = '' OR tenant = ?)`, id, tenant, tenant))
	if err != nil {
		return j, mapErr(err)
	}
	return j, nil
}

// ListJobs returns jobs newest first, paging by (created_at, id).
func (s *Store) ListJobs(ctx context.Context, f store.JobFilter) ([]job.Job, string, error) {
	limit := store.PageLimit(f.Limit)
	var (
		where []string
		args  []any
	)
	if f.Tenant != "" {
		where = append(where, "tenant = ?")
		args = append(args, f.Tenant)
	}
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, string(f.Status))
	}
	if f.Cursor != "" {
		at, id, err := store.DecodeCursor(f.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("sqlite: list jobs: %w", err)
		}
		where = append(where, "(created_at, id) < (?, ?)")
		args = append(args, ts(at), id)
	}
	q := `SELECT ` + jobCols + ` FROM jobs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.r.QueryContext(ctx, q, args...)
	jobs, err := collect(rows, err, scanJob)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: list jobs: %w", err)
	}
	next := ""
	if len(jobs) > limit {
		jobs = jobs[:limit]
		next = store.EncodeCursor(jobs[limit-1])
	}
	return jobs, next, nil
}

// GetTask returns one task.
func (s *Store) GetTask(ctx context.Context, id string) (job.Task, error) {
	t, err := scanTask(s.r.QueryRowContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE id = ?`, id))
	if err != nil {
		return job.Task{}, fmt.Errorf("sqlite: get task %s: %w", id, mapErr(err))
	}
	return t, nil
}

// JobTasks returns a job's tasks in creation order.
func (s *Store) JobTasks(ctx context.Context, jobID string) ([]job.Task, error) {
	tasks, err := jobTasks(ctx, s.r, jobID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tasks of job %s: %w", jobID, err)
	}
	return tasks, nil
}

func jobTasks(ctx context.Context, q querier, jobID string) ([]job.Task, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE job_id = ? ORDER BY ord`, jobID)
	return collect(rows, err, scanTask)
}

// changeJob changes one job in a write transaction of its own.
func (s *Store) changeJob(ctx context.Context, op, tenant, id string, decide func(*job.State) (job.Change, error)) (job.Job, error) {
	var out job.Job
	err := s.write(ctx, func(tx *sql.Tx) error {
		states, err := store.ChangeJobs(ctx, stateTx{tx}, tenant, []string{id}, decide)
		if err != nil {
			return err
		}
		out = states[0].Job
		return nil
	})
	if err != nil {
		return job.Job{}, fmt.Errorf("sqlite: %s job %s: %w", op, id, err)
	}
	return out, nil
}

// CountUnfinished counts a tenant's queued and running jobs.
func (s *Store) CountUnfinished(ctx context.Context, tenant string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE tenant = ? AND status IN ('queued', 'running')`, tenant).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count unfinished jobs of %s: %w", tenant, err)
	}
	return n, nil
}
