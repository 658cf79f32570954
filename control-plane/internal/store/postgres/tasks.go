package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// leaseSQL picks ready tasks in fair-share order (docs/architecture.md,
// "Fair share"). A recursive skip scan over tasks_ready_tenant lists the
// (tenant, kind) pairs with queued work, one index probe each; a LATERAL
// probe per pair reads its best few ready tasks; so the cost follows the
// number of tenants, never the length of the queue. Each tenant's r-th task
// is ranked by (running + r - 1) / weight, so the tenant furthest below its
// share of the running slots goes first, then the one served least recently
// (tenants.served), then priority and age; tenants at max_running get
// nothing. Capabilities are filtered in SQL (the same test as
// job.Requirements.SatisfiedBy, so tasks this agent cannot run never fill
// the LIMIT; job.State.Lease applies the rule itself, and wins should they
// disagree); SKIP LOCKED on the task and its job means concurrent leasers
// and job updates never make it wait, and the per-pair slack ($6) leaves
// candidates when some are locked; only the best $6 are joined to their
// rows and locked. The state test is repeated on t so a row
// leased since the snapshot is dropped when re-checked under its lock.
// The ids of the jobs it locked are left in pickedJobsVar for the state
// reads queued behind it.
// Parameters: now, kinds, engines, labels (jsonb), max, per-pair limit.
const leaseSQL = `WITH RECURSIVE pairs AS (
    (SELECT tenant, kind FROM tasks WHERE state = 'queued' ORDER BY tenant, kind LIMIT 1)
    UNION ALL
    SELECT n.tenant, n.kind FROM pairs p CROSS JOIN LATERAL (
        SELECT tenant, kind FROM tasks
        WHERE state = 'queued' AND (tenant, kind) > (p.tenant, p.kind)
        ORDER BY tenant, kind LIMIT 1) n
),
running AS (
    SELECT tenant, count(*) AS n FROM tasks WHERE state = 'leased' GROUP BY tenant
),
share AS (
    SELECT d.tenant, coalesce(s.weight, 1) AS weight, coalesce(s.max_running, 0) AS cap,
           coalesce(s.served, 0) AS served, coalesce(r.n, 0) AS running
    FROM (SELECT DISTINCT tenant FROM pairs) d
    LEFT JOIN tenants s ON s.name = d.tenant
    LEFT JOIN running r ON r.tenant = d.tenant
    WHERE coalesce(s.max_running, 0) = 0 OR coalesce(r.n, 0) < s.max_running
),
ready AS (
    SELECT c.id, c.priority, c.run_at, sh.weight, sh.cap, sh.served, sh.running,
           row_number() OVER (PARTITION BY sh.tenant ORDER BY c.priority DESC, c.run_at, c.id) AS r
    FROM share sh
    JOIN pairs p ON p.tenant = sh.tenant AND (cardinality($2::text[]) = 0 OR p.kind = ANY($2::text[]))
    CROSS JOIN LATERAL (
        SELECT t.id, t.priority, t.run_at FROM tasks t
        WHERE t.state = 'queued' AND t.tenant = p.tenant AND t.kind = p.kind AND t.run_at <= $1
          AND (coalesce(t.requires->>'engine', '') = '' OR t.requires->>'engine' = ANY($3::text[]))
          AND NOT EXISTS (
              SELECT 1 FROM jsonb_each_text(CASE WHEN jsonb_typeof(t.requires->'labels') = 'object'
                                                 THEN t.requires->'labels' ELSE '{}'::jsonb END) AS l
              WHERE coalesce($4::jsonb->>l.key, '') <> l.value)
        ORDER BY t.priority DESC, t.run_at, t.id
        LIMIT $6) c
),
ranked AS (
    SELECT id, (running + r - 1) / weight AS fair, served, priority, run_at FROM ready
    WHERE cap = 0 OR running + r <= cap
    ORDER BY fair, served, priority DESC, run_at, id
    LIMIT $6
),
picked AS MATERIALIZED (
    SELECT ` + taskColsT + `, c.fair, c.served
    FROM ranked c JOIN tasks t ON t.id = c.id JOIN jobs j ON j.id = t.job_id
    WHERE t.state = 'queued' AND t.run_at <= $1
    ORDER BY c.fair, c.served, c.priority DESC, c.run_at, c.id
    LIMIT $5
    FOR UPDATE OF t, j SKIP LOCKED
)
SELECT ` + taskCols + ` FROM picked
WHERE set_config('` + pickedJobsVar + `', (SELECT array_agg(DISTINCT job_id)::text FROM picked), true) <> ''
ORDER BY fair, served, priority DESC, run_at, id`

// pickedJobsVar names the transaction-local setting in which leaseSQL
// leaves the ids of the jobs whose tasks it locked, so that the reads of
// their states can follow it in the same round trip (jobsPicked): the
// reads cannot be given ids a statement of the same batch returns. A query
// that picks nothing leaves the setting as it was: the reads then find
// nothing, or the jobs an earlier lease of the transaction picked, which
// nothing asks for (TestLeaseBatch).
const pickedJobsVar = "ytcaption.picked_jobs"

// Each (tenant, kind) offers leaseSpread times the batch's tasks plus
// leaseSlack candidates, for the rows other leasers hold: up to four lease
// and report batches run side by side, each holding the head of the queue
// until it commits, and a batch offered only its own count plus the slack
// came back short and sent its agents to long-polls (docs/performance.md,
// "Round two, fourth pass").
const (
	leaseSpread = 4
	leaseSlack  = 4
)

// servedSQL stamps the tenants just served ($1) with the next value of
// tenant_served, creating rows for tenants that have none. A row another
// leaser is stamping is skipped rather than waited for: its stamp is as
// recent as ours would be. Only names without a row are inserted: an
// insert that meets a row being stamped waits for that stamp's commit.
const servedSQL = `WITH ins AS (
    INSERT INTO tenants (name, created_at, served)
    SELECT n.name, $2, nextval('tenant_served') FROM unnest($1::text[]) AS n(name)
    WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.name = n.name)
    ON CONFLICT (name) DO NOTHING
),
mine AS (SELECT name FROM tenants WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE SKIP LOCKED)
UPDATE tenants s SET served = nextval('tenant_served') FROM mine WHERE s.name = mine.name`

// Leases are group-committed too (batch.go). The calls of a batch that
// share capabilities are served by one fair-share query for all their
// tasks, which then go to the calls in arrival order; a busy replica pays
// one query, one write and one commit for many agents' leases. Batches are
// large because most lease calls find nothing: 10,000 agents starting their
// long-polls at once must all get an answer within the dispatcher's query
// timeout, also on a loaded machine (the idle benchmark under stress-ng).
const (
	leaseWriters  = 2
	leaseMaxBatch = 256
)

// LeaseTasks leases up to p.Max ready tasks that p.Capabilities can run,
// sharing them fairly across tenants. A draining or revoked agent gets
// nothing: a long-poll that began before the drain must not take work
// after it.
func (s *Store) LeaseTasks(ctx context.Context, p store.LeaseParams) ([]store.Leased, error) {
	if p.Max <= 0 {
		return nil, nil
	}
	leased, err := s.leases.do(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("postgres: lease tasks for agent %s: %w", p.AgentID, err)
	}
	return leased, nil
}

// leaseBatch leases for a batch of calls in one transaction (see
// groupCommit) and answers every call. A call whose context has ended is
// answered with its error and leased nothing: its agent has gone.
func (s *Store) leaseBatch(batch []*call[store.LeaseParams, []store.Leased]) {
	groupCommit(s, batch, func(ctx context.Context, tx *pipeTx, batch []*call[store.LeaseParams, []store.Leased]) (func(context.Context), error) {
		ps := make([]store.LeaseParams, len(batch))
		errs := make([]error, len(batch))
		for i, c := range batch {
			ps[i], errs[i] = c.req, c.ctx.Err()
			if errs[i] != nil {
				ps[i].Max = 0
			}
		}
		out, err := s.leaseAll(ctx, tx, ps)
		if err != nil {
			return nil, err
		}
		return func(context.Context) {
			for i, c := range batch {
				c.answer(out[i], errs[i])
			}
		}, nil
	})
}

// leaseAll leases for several calls in tx (those with Max 0 take nothing):
// the calls that share capabilities are served by one fair-share query,
// and the tenants served are stamped once. out[i] is what ps[i] leased.
// The first query goes in one round trip with the reads of the agents'
// states and of the picked jobs' states, and the writes go with the
// transaction's next round trip: a lease costs two (query, commit),
// whether it finds work or not. The leases count towards the next vacuum
// (a transaction rolled back after all only brings it a little closer).
func (s *Store) leaseAll(ctx context.Context, tx *pipeTx, ps []store.LeaseParams) ([][]store.Leased, error) {
	out := make([][]store.Leased, len(ps))
	groups, err := leaseGroups(ps)
	if err != nil {
		return nil, err
	}
	var (
		all     []store.Leased
		stopped []string
	)
	for i, g := range groups {
		calls := make([]store.LeaseParams, len(g))
		for j, c := range g {
			calls[j] = ps[c]
		}
		var agents []string
		if i == 0 {
			agents = leasingAgents(ps)
		}
		candidates, states, st, err := selectReady(ctx, tx, calls, agents)
		if err != nil {
			return nil, err
		}
		stopped = append(stopped, st...)
		// A draining or revoked agent's call gets nothing; the query
		// counted its tasks, which stay queued.
		g = slices.DeleteFunc(g, func(c int) bool { return slices.Contains(stopped, ps[c].AgentID) })
		calls = slices.DeleteFunc(calls, func(p store.LeaseParams) bool { return slices.Contains(stopped, p.AgentID) })
		got, err := store.LeaseMany(ctx, stateTx{tx: tx, read: states}, calls, candidates)
		if err != nil {
			return nil, err
		}
		for j, c := range g {
			out[c] = got[j]
			all = append(all, got[j]...)
		}
	}
	if len(all) > 0 {
		b := &pgx.Batch{}
		b.Queue(servedSQL, servedTenants(all), store.LeaseNow(ps))
		tx.sendLater(b)
	}
	s.vacuum.leasedN(len(all))
	return out, nil
}

// leasingAgents lists the agents of the calls that may lease (Max > 0).
func leasingAgents(ps []store.LeaseParams) []string {
	var agents []string
	for _, p := range ps {
		if p.Max > 0 {
			agents = append(agents, p.AgentID)
		}
	}
	return agents
}

// leaseGroups groups the calls that may lease (Max > 0) by capabilities,
// in arrival order (indexes into ps).
func leaseGroups(ps []store.LeaseParams) ([][]int, error) {
	var groups [][]int
	index := map[string]int{}
	for i, p := range ps {
		if p.Max <= 0 {
			continue
		}
		key, err := json.Marshal(p.Capabilities)
		if err != nil {
			return nil, fmt.Errorf("capabilities: %w", err)
		}
		g, ok := index[string(key)]
		if !ok {
			g = len(groups)
			index[string(key)] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups, nil
}

// selectReady locks the ready tasks for calls that share capabilities,
// one fair-share query for all of them, best first, and reads their jobs'
// states (by job id) in the same round trip. Given agents, it also reads
// there which of them are draining or revoked.
func selectReady(ctx context.Context, tx *pipeTx, calls []store.LeaseParams, agents []string) (candidates []job.Task, states map[string]*job.State, stopped []string, err error) {
	caps := calls[0].Capabilities
	kinds := append([]string{}, caps.Kinds...)
	engines := make([]string, 0, len(caps.Engines))
	for _, e := range caps.Engines {
		engines = append(engines, e.Name)
	}
	labels, err := json.Marshal(caps.Labels)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("labels: %w", err)
	}
	if caps.Labels == nil {
		labels = []byte("{}")
	}
	total := 0
	for _, p := range calls {
		total += p.Max
	}
	b := &pgx.Batch{}
	if len(agents) > 0 {
		b.Queue(`SELECT id FROM agents WHERE id = ANY($1) AND (draining OR revoked_at IS NOT NULL)`, agents)
	}
	b.Queue(leaseSQL, store.LeaseNow(calls), kinds, engines, string(labels), total, leaseSpread*total+leaseSlack)
	queueStateReads(b, jobsPicked, nil, "")
	br := tx.SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("select ready tasks: %w", cerr)
		}
	}()
	if len(agents) > 0 {
		rows, err := br.Query()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("agent states: %w", err)
		}
		if stopped, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return nil, nil, nil, fmt.Errorf("agent states: %w", err)
		}
	}
	if candidates, err = collectTasks(br.Query()); err != nil {
		return nil, nil, nil, fmt.Errorf("select ready tasks: %w", err)
	}
	if states, err = scanStates(br); err != nil {
		return nil, nil, nil, fmt.Errorf("picked jobs: %w", err)
	}
	return candidates, states, stopped, nil
}

// servedTenants lists the tenants of leased tasks once each, sorted so that
// leasers creating the same new tenant rows insert them in one order.
func servedTenants(ls []store.Leased) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.Tenant)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// SetTenantShare sets a tenant's weight and cap on running tasks, creating
// the tenant if needed.
func (s *Store) SetTenantShare(ctx context.Context, tenant string, weight float64, maxRunning int) error {
	sh := store.TenantShare{Tenant: tenant, Weight: weight, MaxRunning: maxRunning}
	if err := sh.Validate(); err != nil {
		return fmt.Errorf("postgres: set share of tenant %s: %w", tenant, err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tenants (name, created_at, weight, max_running) VALUES ($1, now(), $2, $3)
		ON CONFLICT (name) DO UPDATE SET weight = excluded.weight, max_running = excluded.max_running`,
		tenant, weight, maxRunning)
	if err != nil {
		return fmt.Errorf("postgres: set share of tenant %s: %w", tenant, err)
	}
	return nil
}

// TenantShare returns a tenant's share; a tenant never configured has the
// default one.
func (s *Store) TenantShare(ctx context.Context, tenant string) (store.TenantShare, error) {
	sh := store.DefaultShare(tenant)
	err := s.pool.QueryRow(ctx, `SELECT weight, max_running FROM tenants WHERE name = $1`, tenant).Scan(&sh.Weight, &sh.MaxRunning)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return store.TenantShare{}, fmt.Errorf("postgres: share of tenant %s: %w", tenant, err)
	}
	return sh, nil
}

const defaultRescueLimit = 100

// RescueExpired retries (or fails) up to limit tasks whose lease deadline
// passed. Tasks or jobs busy in another transaction are left for the next run.
func (s *Store) RescueExpired(ctx context.Context, now time.Time, p job.RetryPolicy, jitter func() float64, limit int) ([]job.Task, error) {
	if limit <= 0 {
		limit = defaultRescueLimit
	}
	var rescued []job.Task
	err := s.inPipe(ctx, func(tx *pipeTx) error {
		expired, err := collectTasks(tx.Query(ctx, `SELECT `+taskColsT+`
			FROM tasks t JOIN jobs j ON j.id = t.job_id
			WHERE t.state = 'leased' AND t.lease_deadline < $1
			ORDER BY t.lease_deadline, t.id
			LIMIT $2
			FOR UPDATE OF t, j SKIP LOCKED`, now, limit))
		if err != nil {
			return fmt.Errorf("select expired leases: %w", err)
		}
		rescued, err = store.Rescue(ctx, stateTx{tx: tx}, expired, p, jitter, now)
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
