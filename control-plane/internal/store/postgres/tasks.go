package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// leaseSQL picks ready tasks in lease order. It walks the partial index
// tasks_ready and filters by the agent's capabilities in SQL (the same test as
// job.Requirements.SatisfiedBy, so tasks no agent here can run never fill the
// LIMIT; job.State.Lease applies the rule itself, and wins should they
// disagree); SKIP LOCKED on the task and its job means concurrent leasers
// and job updates never make it wait.
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
func (s *Store) LeaseTasks(ctx context.Context, p store.LeaseParams) ([]store.Leased, error) {
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
	var leased []store.Leased
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		candidates, err := collectTasks(tx.Query(ctx, leaseSQL, p.Now, kinds, engines, string(labels), p.Max))
		if err != nil {
			return fmt.Errorf("select ready tasks: %w", err)
		}
		leased, err = store.Lease(ctx, stateTx{tx}, p, candidates)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: lease tasks for agent %s: %w", p.AgentID, err)
	}
	return leased, nil
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
		expired, err := collectTasks(tx.Query(ctx, `SELECT `+taskColsT+`
			FROM tasks t JOIN jobs j ON j.id = t.job_id
			WHERE t.state = 'leased' AND t.lease_deadline < $1
			ORDER BY t.lease_deadline, t.id
			LIMIT $2
			FOR UPDATE OF t, j SKIP LOCKED`, now, limit))
		if err != nil {
			return fmt.Errorf("select expired leases: %w", err)
		}
		rescued, err = store.Rescue(ctx, stateTx{tx}, expired, p, jitter, now)
		return err
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
