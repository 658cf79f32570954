package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// leaseSQL picks ready tasks in lease order from the partial index
// tasks_ready, filtering by the agent's capabilities in SQL (the same test as
// job.Requirements.SatisfiedBy, so tasks this agent cannot run never fill the
// LIMIT; job.State.Lease applies the rule itself, and wins should they
// disagree). Parameters: now, kinds, engines (JSON arrays), labels (JSON
// object), limit.
const leaseSQL = `SELECT ` + taskColsT + `
FROM tasks t
WHERE t.state = 'queued' AND t.run_at <= ?1
  AND (json_array_length(?2) = 0 OR t.kind IN (SELECT value FROM json_each(?2)))
  AND (coalesce(json_extract(t.requires, '$.engine'), '') = ''
       OR json_extract(t.requires, '$.engine') IN (SELECT value FROM json_each(?3)))
  AND NOT EXISTS (
      SELECT 1 FROM json_each(t.requires, '$.labels') AS l
      WHERE coalesce((SELECT c.value FROM json_each(?4) AS c WHERE c.key = l.key), '') <> l.value)
ORDER BY t.priority DESC, t.run_at, t.id
LIMIT ?5`

// LeaseTasks leases up to p.Max ready tasks that p.Capabilities can run.
func (s *Store) LeaseTasks(ctx context.Context, p store.LeaseParams) ([]store.Leased, error) {
	if p.Max <= 0 {
		return nil, nil
	}
	caps := p.Capabilities
	engines := make([]string, 0, len(caps.Engines))
	for _, e := range caps.Engines {
		engines = append(engines, e.Name)
	}
	kinds, err := json.Marshal(append([]string{}, caps.Kinds...))
	if err != nil {
		return nil, fmt.Errorf("sqlite: lease: kinds: %w", err)
	}
	engJ, err := json.Marshal(engines)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lease: engines: %w", err)
	}
	labels := []byte("{}")
	if caps.Labels != nil {
		if labels, err = json.Marshal(caps.Labels); err != nil {
			return nil, fmt.Errorf("sqlite: lease: labels: %w", err)
		}
	}
	var leased []store.Leased
	err = s.write(ctx, func(tx *sql.Tx) error {
		leased = nil
		rows, err := tx.QueryContext(ctx, leaseSQL, ts(p.Now), string(kinds), string(engJ), string(labels), p.Max)
		candidates, err := collect(rows, err, scanTask)
		if err != nil {
			return fmt.Errorf("select ready tasks: %w", err)
		}
		_, err = store.ChangeJobs(ctx, stateTx{tx}, "", store.JobIDs(candidates), func(st *job.State) (job.Change, error) {
			got, ch, err := st.Lease(store.TaskIDs(candidates), p.AgentID, caps, p.Now, p.Deadline)
			// Each task comes with its job as written.
			for _, t := range got {
				leased = append(leased, store.Leased{Task: t, Job: ch.Job, Traceparent: st.Traceparent})
			}
			return ch, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: lease tasks for agent %s: %w", p.AgentID, err)
	}
	return leased, nil
}

// report decides one report in a write transaction of its own.
func (s *Store) report(ctx context.Context, op string, r store.Report) (store.Reported, error) {
	var out store.Reported
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := store.ApplyReports(ctx, stateTx{tx}, []store.Report{r})
		if err != nil {
			return err
		}
		out = res[0]
		return out.Err
	})
	if err != nil {
		return store.Reported{}, fmt.Errorf("sqlite: %s task %s: %w", op, r.TaskID, err)
	}
	return out, nil
}

// Heartbeat extends a lease and records progress on the task and its job.
func (s *Store) Heartbeat(ctx context.Context, h store.Heartbeat) (job.Task, error) {
	res, err := s.report(ctx, "heartbeat", store.HeartbeatReport(h))
	return res.Task, err
}

// CompleteTask records a task's result and updates its job.
func (s *Store) CompleteTask(ctx context.Context, c store.Completion) (job.Job, error) {
	res, err := s.report(ctx, "complete", store.CompleteReport(c))
	return res.Job, err
}

// FailTask records a failed attempt.
func (s *Store) FailTask(ctx context.Context, f store.Failure) (job.Job, error) {
	res, err := s.report(ctx, "fail", store.FailReport(f))
	return res.Job, err
}

// ReleaseTask hands a leased task back for immediate re-lease.
func (s *Store) ReleaseTask(ctx context.Context, taskID, holder string, token int64, now time.Time) error {
	_, err := s.report(ctx, "release", store.ReleaseReport(taskID, holder, token, now))
	return err
}

const defaultRescueLimit = 100

// RescueExpired retries (or fails) up to limit tasks whose lease deadline passed.
func (s *Store) RescueExpired(ctx context.Context, now time.Time, p job.RetryPolicy, jitter func() float64, limit int) ([]job.Task, error) {
	if limit <= 0 {
		limit = defaultRescueLimit
	}
	var rescued []job.Task
	err := s.write(ctx, func(tx *sql.Tx) error {
		rescued = nil
		rows, err := tx.QueryContext(ctx, `SELECT `+taskCols+` FROM tasks
			WHERE state = 'leased' AND lease_deadline < ?
			ORDER BY lease_deadline, id LIMIT ?`, ts(now), limit)
		expired, err := collect(rows, err, scanTask)
		if err != nil {
			return fmt.Errorf("select expired leases: %w", err)
		}
		_, err = store.ChangeJobs(ctx, stateTx{tx}, "", store.JobIDs(expired), func(st *job.State) (job.Change, error) {
			got, ch, err := st.Expire(store.TaskIDs(expired), p, jitter, now)
			rescued = append(rescued, got...)
			return ch, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: rescue expired leases: %w", err)
	}
	return rescued, nil
}

// NextRunAt is the earliest RunAt of a queued task, zero if none.
func (s *Store) NextRunAt(ctx context.Context) (time.Time, error) {
	var us sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT min(run_at) FROM tasks WHERE state = 'queued'`).Scan(&us); err != nil {
		return time.Time{}, fmt.Errorf("sqlite: next run at: %w", err)
	}
	if !us.Valid {
		return time.Time{}, nil
	}
	return fromTS(us.Int64), nil
}
