package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// leaseSQL picks ready tasks in lease order from the partial index
// tasks_ready, filtering by the agent's capabilities in SQL (the same test as
// job.Requirements.SatisfiedBy, so tasks this agent cannot run never fill the
// LIMIT). Parameters: now, kinds, engines (JSON arrays), labels (JSON object), limit.
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
		perJob := map[string]int{}
		for _, c := range candidates {
			if !c.Requires.SatisfiedBy(c.Kind, caps) {
				continue // the SQL filter and the rule disagree; the rule wins
			}
			t, err := job.Lease(c, p.AgentID, p.Now, p.Deadline)
			if err != nil {
				continue
			}
			if err := saveTask(ctx, tx, t); err != nil {
				return err
			}
			leased = append(leased, store.Leased{Task: t})
			perJob[t.JobID]++
		}
		jobs := map[string]job.Job{}
		for _, id := range sortedKeys(perJob) {
			j, err := getJob(ctx, tx, "", id)
			if err != nil {
				return fmt.Errorf("read job %s: %w", id, err)
			}
			if err := refresh(ctx, tx, &j, p.Now); err != nil {
				return err
			}
			jobs[id] = j
		}
		for i := range leased {
			l := &leased[i]
			l.Job = jobs[l.JobID]
			m, err := jobMeta(ctx, tx, l.JobID)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("read meta of job %s: %w", l.JobID, err)
			}
			l.Traceparent = m.Traceparent
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: lease tasks for agent %s: %w", p.AgentID, err)
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

// onTask runs fn on a task and its job in one write transaction; when fn
// reports a change it saves the task and re-derives the job.
func (s *Store) onTask(ctx context.Context, op, taskID string, now time.Time,
	fn func(j *job.Job, t job.Task) (job.Task, bool, error)) (job.Job, job.Task, error) {
	var (
		outJ job.Job
		outT job.Task
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		t, err := scanTask(tx.QueryRowContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE id = ?`, taskID))
		if err != nil {
			return mapErr(err)
		}
		j, err := getJob(ctx, tx, "", t.JobID)
		if err != nil {
			return err
		}
		nt, changed, err := fn(&j, t)
		if err != nil {
			return mapErr(err)
		}
		if changed {
			if err := saveTask(ctx, tx, nt); err != nil {
				return err
			}
			if err := refresh(ctx, tx, &j, now); err != nil {
				return err
			}
		}
		outJ, outT = j, nt
		return nil
	})
	if err != nil {
		return job.Job{}, job.Task{}, fmt.Errorf("sqlite: %s task %s: %w", op, taskID, err)
	}
	return outJ, outT, nil
}

// Heartbeat extends a lease and records progress on the task and its job.
func (s *Store) Heartbeat(ctx context.Context, h store.Heartbeat) (job.Task, error) {
	_, t, err := s.onTask(ctx, "heartbeat", h.TaskID, h.Now, store.HeartbeatChange(h))
	return t, err
}

// CompleteTask records a task's result and updates its job.
func (s *Store) CompleteTask(ctx context.Context, c store.Completion) (job.Job, error) {
	j, _, err := s.onTask(ctx, "complete", c.TaskID, c.Now, store.CompleteChange(c))
	return j, err
}

// FailTask records a failed attempt. A task's own MaxAttempts, when set,
// bounds its retries in place of the policy's.
func (s *Store) FailTask(ctx context.Context, f store.Failure) (job.Job, error) {
	j, _, err := s.onTask(ctx, "fail", f.TaskID, f.Now, store.FailChange(f))
	return j, err
}

// ReleaseTask hands a leased task back for immediate re-lease.
func (s *Store) ReleaseTask(ctx context.Context, taskID, holder string, token int64, now time.Time) error {
	_, _, err := s.onTask(ctx, "release", taskID, now, store.ReleaseChange(holder, token, now))
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
			j, err := getJob(ctx, tx, "", id)
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
