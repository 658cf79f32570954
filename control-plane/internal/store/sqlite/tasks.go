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

// Lease in fair-share order (docs/architecture.md, "Fair share"), the same
// policy as the PostgreSQL query, in steps: the single writer makes them
// one consistent view. A skip scan over tasks_ready_tenant lists the
// (tenant, kind) pairs with queued work, one index probe each; readySQL
// reads each pair's best few ready tasks; fairOrder ranks them. The cost
// follows the number of tenants, never the length of the queue.

// nextPairSQL is one step of the skip scan: the (tenant, kind) after ?1, ?2.
const nextPairSQL = `SELECT tenant, kind FROM tasks
WHERE state = 'queued' AND (tenant, kind) > (?1, ?2)
ORDER BY tenant, kind LIMIT 1`

// readySQL reads one (tenant, kind)'s best ready tasks that the agent can
// run, filtering by capabilities in SQL (the same test as
// job.Requirements.SatisfiedBy, so tasks this agent cannot run never fill the
// LIMIT; job.State.Lease applies the rule itself, and wins should they
// disagree). Parameters: now, engines (JSON array), labels (JSON object),
// limit, tenant, kind.
const readySQL = `SELECT ` + taskColsT + `
FROM tasks t
WHERE t.state = 'queued' AND t.tenant = ?5 AND t.kind = ?6 AND t.run_at <= ?1
  AND (coalesce(json_extract(t.requires, '$.engine'), '') = ''
       OR json_extract(t.requires, '$.engine') IN (SELECT value FROM json_each(?2)))
  AND NOT EXISTS (
      SELECT 1 FROM json_each(t.requires, '$.labels') AS l
      WHERE coalesce((SELECT c.value FROM json_each(?3) AS c WHERE c.key = l.key), '') <> l.value)
ORDER BY t.priority DESC, t.run_at, t.id
LIMIT ?4`

// tenantLoad is a tenant's share and what it has now.
type tenantLoad struct {
	weight  float64
	cap     int
	served  int64
	running int
}

// LeaseTasks leases up to p.Max ready tasks that p.Capabilities can run,
// sharing them fairly across tenants.
func (s *Store) LeaseTasks(ctx context.Context, p store.LeaseParams) ([]store.Leased, error) {
	if p.Max <= 0 {
		return nil, nil
	}
	var leased []store.Leased
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		leased, err = leaseTx(ctx, tx, p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: lease tasks for agent %s: %w", p.AgentID, err)
	}
	return leased, nil
}

// leaseTx is LeaseTasks inside tx.
func leaseTx(ctx context.Context, tx *sql.Tx, p store.LeaseParams) ([]store.Leased, error) {
	caps := p.Capabilities
	engines := make([]string, 0, len(caps.Engines))
	for _, e := range caps.Engines {
		engines = append(engines, e.Name)
	}
	engJ, err := json.Marshal(engines)
	if err != nil {
		return nil, fmt.Errorf("engines: %w", err)
	}
	labels := []byte("{}")
	if caps.Labels != nil {
		if labels, err = json.Marshal(caps.Labels); err != nil {
			return nil, fmt.Errorf("labels: %w", err)
		}
	}
	candidates, err := readyFair(ctx, tx, p, string(engJ), string(labels))
	if err != nil {
		return nil, fmt.Errorf("select ready tasks: %w", err)
	}
	leased, err := store.Lease(ctx, stateTx{tx}, p, candidates)
	if err != nil {
		return nil, err
	}
	return leased, stampServed(ctx, tx, leased, p.Now)
}

// readyFair returns up to p.Max ready tasks in fair-share order, none for a
// draining or revoked agent (a long-poll that began before the drain must
// not take work after it).
func readyFair(ctx context.Context, tx *sql.Tx, p store.LeaseParams, engines, labels string) ([]job.Task, error) {
	var stopped bool
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM agents WHERE id = ? AND (draining OR revoked_at IS NOT NULL))`, p.AgentID).Scan(&stopped)
	if err != nil {
		return nil, fmt.Errorf("agent state: %w", err)
	}
	if stopped {
		return nil, nil
	}
	loads, err := tenantLoads(ctx, tx)
	if err != nil {
		return nil, err
	}
	kinds := map[string]bool{}
	for _, k := range p.Capabilities.Kinds {
		kinds[k] = true
	}
	byTenant := map[string][]job.Task{}
	tenant, kind := "", ""
	for {
		err := tx.QueryRowContext(ctx, nextPairSQL, tenant, kind).Scan(&tenant, &kind)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("next tenant: %w", err)
		}
		l := loads[tenant]
		if (len(kinds) > 0 && !kinds[kind]) || (l.cap > 0 && l.running >= l.cap) {
			continue
		}
		rows, err := tx.QueryContext(ctx, readySQL, ts(p.Now), engines, labels, p.Max, tenant, kind)
		got, err := collect(rows, err, scanTask)
		if err != nil {
			return nil, err
		}
		byTenant[tenant] = append(byTenant[tenant], got...)
	}
	return fairOrder(byTenant, loads, p.Max), nil
}

// tenantLoads reads every tenant's share and running count; a tenant with no
// row has the default share.
func tenantLoads(ctx context.Context, tx *sql.Tx) (map[string]tenantLoad, error) {
	loads := map[string]tenantLoad{}
	rows, err := tx.QueryContext(ctx, `SELECT name, weight, max_running, served FROM tenants`)
	if err != nil {
		return nil, fmt.Errorf("read shares: %w", err)
	}
	for rows.Next() {
		var name string
		var l tenantLoad
		if err := rows.Scan(&name, &l.weight, &l.cap, &l.served); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("read shares: %w", err)
		}
		loads[name] = l
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read shares: %w", err)
	}
	rows, err = tx.QueryContext(ctx, `SELECT tenant, count(*) FROM tasks WHERE state = 'leased' GROUP BY tenant`)
	if err != nil {
		return nil, fmt.Errorf("count running: %w", err)
	}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("count running: %w", err)
		}
		l, ok := loads[name]
		if !ok {
			l.weight = 1
		}
		l.running = n
		loads[name] = l
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("count running: %w", err)
	}
	return loads, nil
}

// fairOrder ranks each tenant's r-th best task by (running + r - 1) /
// weight, then by the tenant served least recently, then priority and age,
// drops tasks beyond a tenant's cap, and keeps the first max.
func fairOrder(byTenant map[string][]job.Task, loads map[string]tenantLoad, max int) []job.Task {
	type cand struct {
		t      job.Task
		key    float64
		served int64
	}
	var cs []cand
	for tenant, ts := range byTenant {
		l, ok := loads[tenant]
		if !ok || l.weight <= 0 {
			l.weight = 1
		}
		sort.Slice(ts, func(i, j int) bool { return before(ts[i], ts[j]) })
		for r, t := range ts {
			if l.cap > 0 && l.running+r+1 > l.cap {
				break
			}
			cs = append(cs, cand{t, float64(l.running+r) / l.weight, l.served})
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.key != b.key {
			return a.key < b.key
		}
		if a.served != b.served {
			return a.served < b.served
		}
		return before(a.t, b.t)
	})
	out := make([]job.Task, 0, min(max, len(cs)))
	for i := 0; i < len(cs) && i < max; i++ {
		out = append(out, cs[i].t)
	}
	return out
}

// before is the order within a tenant: priority, then age, then id.
func before(a, b job.Task) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	if !a.RunAt.Equal(b.RunAt) {
		return a.RunAt.Before(b.RunAt)
	}
	return a.ID < b.ID
}

// stampServed marks the tenants just served as the most recent, creating
// rows for tenants that have none.
func stampServed(ctx context.Context, tx *sql.Tx, leased []store.Leased, now time.Time) error {
	seen := map[string]bool{}
	for _, l := range leased {
		if seen[l.Tenant] {
			continue
		}
		seen[l.Tenant] = true
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO tenants (name, created_at) VALUES (?, ?)`, l.Tenant, ts(now)); err != nil {
			return fmt.Errorf("stamp served tenant: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tenants SET served = (SELECT max(served) FROM tenants) + 1 WHERE name = ?`, l.Tenant); err != nil {
			return fmt.Errorf("stamp served tenant: %w", err)
		}
	}
	return nil
}

// SetTenantShare sets a tenant's weight and cap on running tasks, creating
// the tenant if needed.
func (s *Store) SetTenantShare(ctx context.Context, tenant string, weight float64, maxRunning int) error {
	sh := store.TenantShare{Tenant: tenant, Weight: weight, MaxRunning: maxRunning}
	if err := sh.Validate(); err != nil {
		return fmt.Errorf("sqlite: set share of tenant %s: %w", tenant, err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tenants (name, created_at, weight, max_running) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET weight = excluded.weight, max_running = excluded.max_running`,
			tenant, ts(time.Now()), weight, maxRunning)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: set share of tenant %s: %w", tenant, err)
	}
	return nil
}

// TenantShare returns a tenant's share; a tenant never configured has the
// default one.
func (s *Store) TenantShare(ctx context.Context, tenant string) (store.TenantShare, error) {
	sh := store.DefaultShare(tenant)
	err := s.r.QueryRowContext(ctx, `SELECT weight, max_running FROM tenants WHERE name = ?`, tenant).Scan(&sh.Weight, &sh.MaxRunning)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return store.TenantShare{}, fmt.Errorf("sqlite: share of tenant %s: %w", tenant, err)
	}
	return sh, nil
}

// report decides one report in a write transaction of its own, and leases
// the agent's next tasks in it when the report asks (inside a savepoint: a
// lease that fails leases nothing and leaves the report standing).
func (s *Store) report(ctx context.Context, r store.Report) (store.Reported, error) {
	var out store.Reported
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := store.ApplyReports(ctx, stateTx{tx}, []store.Report{r})
		if err != nil {
			return err
		}
		if out = res[0]; out.Err != nil || r.Next == nil || r.Next.Max <= 0 {
			return out.Err
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT next_lease`); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		out.Next, err = leaseTx(ctx, tx, *r.Next)
		if err != nil {
			out.Next = nil
			s.log.WarnContext(ctx, "sqlite: lease after a report failed; the agent will lease again", "agent", r.Next.AgentID, "err", err)
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO next_lease`); err != nil {
				return fmt.Errorf("roll back the lease: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE next_lease`); err != nil {
			return fmt.Errorf("release savepoint: %w", err)
		}
		return nil
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
