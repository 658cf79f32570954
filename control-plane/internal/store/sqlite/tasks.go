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
		rows, err := tx.QueryContext(ctx, leaseSQL, ts(p.Now), string(kinds), string(engJ), string(labels), p.Max)
		candidates, err := collect(rows, err, scanTask)
		if err != nil {
			return fmt.Errorf("select ready tasks: %w", err)
		}
		leased, err = store.Lease(ctx, stateTx{tx}, p, candidates)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: lease tasks for agent %s: %w", p.AgentID, err)
	}
	return leased, nil
}

// report decides one report in a write transaction of its own.
func (s *Store) report(ctx context.Context, r store.Report) (store.Reported, error) {
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
		return store.Reported{}, fmt.Errorf("sqlite: %s task %s: %w", r.Op, r.TaskID, err)
	}
	return out, nil
}

const defaultRescueLimit = 100

// RescueExpired retries (or fails) up to limit tasks whose lease deadline passed.
func (s *Store) RescueExpired(ctx context.Context, now time.Time, p job.RetryPolicy, jitter func() float64, limit int) ([]job.Task, error) {
	if limit <= 0 {
		limit = defaultRescueLimit
	}
	var rescued []job.Task
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+taskCols+` FROM tasks
			WHERE state = 'leased' AND lease_deadline < ?
			ORDER BY lease_deadline, id LIMIT ?`, ts(now), limit)
		expired, err := collect(rows, err, scanTask)
		if err != nil {
			return fmt.Errorf("select expired leases: %w", err)
		}
		rescued, err = store.Rescue(ctx, stateTx{tx}, expired, p, jitter, now)
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
