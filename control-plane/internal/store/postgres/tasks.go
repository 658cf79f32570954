package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// leaseSQL picks ready tasks in lease order. It walks the partial index
// tasks_ready and filters by the agent's capabilities in SQL (the same test as
// job.Requirements.SatisfiedBy, so tasks no agent here can run never fill the
// LIMIT); SKIP LOCKED on the task and its job means concurrent leasers and job
// updates never make it wait.
const leaseSQL = `SELECT ` + taskColsT + `
FROM tasks t JOIN jobs j ON j.id = t.job_id
WHERE t.state = 'queued' AND t.run_at <= $1
  AND (cardinality($2::text[]) = 0 OR t.kind = ANY($2::text[]))
  AND (coalesce(t.requires->>'engine', '') = '' OR t.requires->>'engine' = ANY($3::text[]))
  AND NOT EXISTS (
      SELECT 1 FROM jsonb_each_text(CASE WHEN jsonb_typeof(t.requires->'labels') = 'object'
                                         THEN t.requires->'labels' ELSE '{}'::jsonb END) AS l
      WHERE coalesce($4::jsonb->>l.key, '') <> l.value)
ORDER BY t.priority DESC, t.run_at, t.id
LIMIT $5
FOR UPDATE OF t, j SKIP LOCKED`

// LeaseTasks leases up to p.Max ready tasks that p.Capabilities can run.
func (s *Store) LeaseTasks(ctx context.Context, p store.LeaseParams) ([]job.Task, error) {
	if p.Max <= 0 {
		return nil, nil
	}
	caps := p.Capabilities
	kinds := append([]string{}, caps.Kinds...)
	engines := make([]string, 0, len(caps.Engines))
	for _, e := range caps.Engines {
		engines = append(engines, e.Name)
	}
	labels, err := json.Marshal(caps.Labels)
	if err != nil {
		return nil, fmt.Errorf("postgres: lease: labels: %w", err)
	}
	if caps.Labels == nil {
		labels = []byte("{}")
	}
	var leased []job.Task
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		leased = nil
		candidates, err := collectTasks(tx.Query(ctx, leaseSQL, p.Now, kinds, engines, string(labels), p.Max))
		if err != nil {
			return fmt.Errorf("select ready tasks: %w", err)
		}
		perJob := map[string]int{}
		b := &pgx.Batch{}
		for _, c := range candidates {
			if !c.Requires.SatisfiedBy(c.Kind, caps) {
				continue // the SQL filter and the rule disagree; the rule wins
			}
			t, err := job.Lease(c, p.AgentID, p.Now, p.Deadline)
			if err != nil {
				continue
			}
			if err := queueSaveTask(b, t); err != nil {
				return err
			}
			leased = append(leased, t)
			perJob[t.JobID]++
		}
		if len(leased) == 0 {
			return nil
		}
		// The task updates and the reads of their jobs (every job row here
		// was locked by the SELECT above) share one round trip.
		ids := sortedKeys(perJob)
		for _, id := range ids {
			b.Queue(`SELECT `+jobCols+` FROM jobs WHERE id = $1`, id)
		}
		br := tx.SendBatch(ctx, b)
		for _, t := range leased {
			if _, err := br.Exec(); err != nil {
				_ = br.Close()
				return fmt.Errorf("update task %s: %w", t.ID, err)
			}
		}
		jobs := make([]job.Job, 0, len(ids))
		for _, id := range ids {
			j, err := scanJob(br.QueryRow())
			if err != nil {
				_ = br.Close()
				return fmt.Errorf("read job %s: %w", id, err)
			}
			jobs = append(jobs, j)
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("lease: %w", err)
		}
		for i := range jobs {
			if err := refresh(ctx, tx, &jobs[i], p.Now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: lease tasks for agent %s: %w", p.AgentID, err)
	}
	return leased, nil
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// onTask runs fn on a task while holding its job's lock, then its own; when fn
// reports a change it saves the task and re-derives the job.
func (s *Store) onTask(ctx context.Context, op, taskID string, now time.Time,
	fn func(j *job.Job, t job.Task) (job.Task, bool, error)) (job.Job, job.Task, error) {
	var (
		outJ job.Job
		outT job.Task
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Job lock first, then the task's (the order every writer uses), in
		// one round trip: the statements of a batch run in order.
		b := &pgx.Batch{}
		b.Queue(`SELECT `+jobCols+` FROM jobs WHERE id = (SELECT job_id FROM tasks WHERE id = $1) FOR UPDATE`, taskID)
		b.Queue(`SELECT `+taskCols+` FROM tasks WHERE id = $1 FOR UPDATE`, taskID)
		br := tx.SendBatch(ctx, b)
		j, err := scanJob(br.QueryRow())
		if err != nil {
			_ = br.Close()
			return fmt.Errorf("lock job: %w", mapErr(err))
		}
		t, err := scanTask(br.QueryRow())
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("lock task: %w", mapErr(err))
		}
		nt, changed, err := fn(&j, t)
		if err != nil {
			return mapErr(err)
		}
		if changed {
			b := &pgx.Batch{}
			if err := queueSaveTask(b, nt); err != nil {
				return err
			}
			if err := refreshAfter(ctx, tx, &j, now, b); err != nil {
				return err
			}
		}
		outJ, outT = j, nt
		return nil
	})
	if err != nil {
		return job.Job{}, job.Task{}, fmt.Errorf("postgres: %s task %s: %w", op, taskID, err)
	}
	return outJ, outT, nil
}

// Heartbeat extends a lease and records progress on the task and its job.
func (s *Store) Heartbeat(ctx context.Context, h store.Heartbeat) (job.Task, error) {
	_, t, err := s.onTask(ctx, "heartbeat", h.TaskID, h.Now, store.HeartbeatChange(h))
	return t, err
}

// CompleteTask records a task's result and updates its job.
func (s *Store) CompleteTask(ctx context.Context, taskID string, token int64, res api.TaskResult, now time.Time) (job.Job, error) {
	j, _, err := s.onTask(ctx, "complete", taskID, now, store.CompleteChange(token, res, now))
	return j, err
}

// FailTask records a failed attempt. A task's own MaxAttempts, when set,
// bounds its retries in place of the policy's.
func (s *Store) FailTask(ctx context.Context, f store.Failure) (job.Job, error) {
	j, _, err := s.onTask(ctx, "fail", f.TaskID, f.Now, store.FailChange(f))
	return j, err
}

// ReleaseTask hands a leased task back for immediate re-lease.
func (s *Store) ReleaseTask(ctx context.Context, taskID string, token int64, now time.Time) error {
	_, _, err := s.onTask(ctx, "release", taskID, now, store.ReleaseChange(token, now))
	return err
}

const defaultRescueLimit = 100

// RescueExpired retries (or fails) up to limit tasks whose lease deadline
// passed. Tasks or jobs busy in another transaction are left for the next run.
func (s *Store) RescueExpired(ctx context.Context, now time.Time, p job.RetryPolicy, jitter func() float64, limit int) ([]job.Task, error) {
	if limit <= 0 {
		limit = defaultRescueLimit
	}
	var rescued []job.Task
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rescued = nil
		expired, err := collectTasks(tx.Query(ctx, `SELECT `+taskColsT+`
			FROM tasks t JOIN jobs j ON j.id = t.job_id
			WHERE t.state = 'leased' AND t.lease_deadline < $1
			ORDER BY t.lease_deadline, t.id
			LIMIT $2
			FOR UPDATE OF t, j SKIP LOCKED`, now, limit))
		if err != nil {
			return fmt.Errorf("select expired leases: %w", err)
		}
		perJob := map[string]int{}
		for _, t := range expired {
			r, err := job.Expire(t, store.PolicyFor(t, p), now, jitter())
			if err != nil {
				continue
			}
			if err := saveTask(ctx, tx, r); err != nil {
				return err
			}
			rescued = append(rescued, r)
			perJob[r.JobID]++
		}
		for _, id := range sortedKeys(perJob) {
			j, err := scanJob(tx.QueryRow(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = $1`, id))
			if err != nil {
				return fmt.Errorf("read job %s: %w", id, err)
			}
			if err := refresh(ctx, tx, &j, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: rescue expired leases: %w", err)
	}
	return rescued, nil
}

// NextRunAt is the earliest RunAt of a queued task, zero if none.
func (s *Store) NextRunAt(ctx context.Context) (time.Time, error) {
	var t *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT min(run_at) FROM tasks WHERE state = 'queued'`).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("postgres: next run at: %w", err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}
