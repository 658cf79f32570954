package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// Reads of one job (GET /v1/jobs/{id}, the busiest read, and the API's
// other per-job routes) are batched like the busiest writes (batch.go):
// the calls waiting at a moment share one statement, so a busy replica
// pays one round trip for many reads. A call is queued before its read
// runs, so it sees every write committed before it was made. Two readers:
// fewer readers make larger batches, and one or two served the most reads
// a second (four and eight fewer; docs/performance.md).
const (
	jobReaders      = 2
	jobReadMaxBatch = 64
	readTimeout     = 10 * time.Second
)

// jobRead is one GetJob call.
type jobRead struct{ tenant, id string }

// GetJob returns a job; tenant "" matches any tenant.
func (s *Store) GetJob(ctx context.Context, tenant, id string) (job.Job, error) {
	j, err := s.jobReads.do(ctx, jobRead{tenant: tenant, id: id})
	if err != nil {
		return job.Job{}, fmt.Errorf("postgres: get job %s: %w", id, err)
	}
	return j, nil
}

// readJobs answers a batch of GetJob calls with one query. The ids are
// joined by position, so a job asked for twice is decoded twice and no two
// callers share its slices and maps.
func (s *Store) readJobs(batch []*call[jobRead, job.Job]) {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	ids := make([]string, len(batch))
	for i, c := range batch {
		ids[i] = c.req.id
	}
	jobs := make([]job.Job, len(batch)) // a zero ID: not found
	rows, err := s.pool.Query(ctx, `SELECT r.n, `+jobColsJ+`
		FROM unnest($1::text[]) WITH ORDINALITY AS r(id, n) JOIN jobs j ON j.id = r.id`, ids)
	if err == nil {
		err = scanEach(rows, func(n int, j job.Job) { jobs[n-1] = j })
	}
	for i, c := range batch {
		switch j := jobs[i]; {
		case err != nil:
			c.answer(job.Job{}, err)
		case j.ID == "" || (c.req.tenant != "" && j.Tenant != c.req.tenant):
			c.answer(job.Job{}, store.ErrNotFound)
		default:
			c.answer(j, nil)
		}
	}
}

// ListJobs returns jobs newest first, paging by (created_at, id).
func (s *Store) ListJobs(ctx context.Context, f store.JobFilter) ([]job.Job, string, error) {
	limit := store.PageLimit(f.Limit)
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Tenant != "" {
		where = append(where, "tenant = "+arg(f.Tenant))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(string(f.Status)))
	}
	if f.Cursor != "" {
		ts, id, err := store.DecodeCursor(f.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("postgres: list jobs: %w", err)
		}
		where = append(where, "(created_at, id) < ("+arg(ts)+"::timestamptz, "+arg(id)+"::text)")
	}
	q := `SELECT ` + jobCols + ` FROM jobs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT " + arg(limit+1)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("postgres: list jobs: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (job.Job, error) { return scanJob(r) })
	if err != nil {
		return nil, "", fmt.Errorf("postgres: list jobs: %w", err)
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
	t, err := scanTask(s.pool.QueryRow(ctx, `SELECT `+taskCols+` FROM tasks WHERE id = $1`, id))
	if err != nil {
		return job.Task{}, fmt.Errorf("postgres: get task %s: %w", id, mapErr(err))
	}
	return t, nil
}

// JobTasks returns a job's tasks in creation order.
func (s *Store) JobTasks(ctx context.Context, jobID string) ([]job.Task, error) {
	tasks, err := jobTasks(ctx, s.pool, jobID)
	if err != nil {
		return nil, fmt.Errorf("postgres: tasks of job %s: %w", jobID, err)
	}
	return tasks, nil
}

func jobTasks(ctx context.Context, q querier, jobID string) ([]job.Task, error) {
	return collectTasks(q.Query(ctx, `SELECT `+taskCols+` FROM tasks WHERE job_id = $1 ORDER BY ord`, jobID))
}

// changeJob changes one job in a transaction of its own.
func (s *Store) changeJob(ctx context.Context, op, tenant, id string, decide func(*job.State) (job.Change, error)) (job.Job, error) {
	var out job.Job
	err := s.inPipe(ctx, func(tx *pipeTx) error {
		states, err := store.ChangeJobs(ctx, stateTx{tx: tx}, tenant, []string{id}, decide)
		if err != nil {
			return err
		}
		out = states[0].Job
		return nil
	})
	if err != nil {
		return job.Job{}, fmt.Errorf("postgres: %s job %s: %w", op, id, err)
	}
	return out, nil
}

// CountUnfinished counts a tenant's queued and running jobs.
func (s *Store) CountUnfinished(ctx context.Context, tenant string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE tenant = $1 AND status IN ('queued', 'running')`, tenant).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: count unfinished jobs of %s: %w", tenant, err)
	}
	return n, nil
}
