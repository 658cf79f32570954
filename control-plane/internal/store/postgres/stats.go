package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// statsShards is how many rows a rollup key is spread over. A transaction
// writes the shard of its connection (connShard, shards.go), so the
// transactions in flight at once (creation and report batches, and every
// lease) do not touch the same row: a shared row would make each wait for
// the other's commit, fsync included, which serialized the whole hot path.
// Buckets that have closed are folded back into shard 0 by CompactStats,
// so reads of history sum one row per key.
const statsShards = 16

var (
	upsertJobStatsSQL = func() string {
		cols := store.StatsCounterCols
		ph := make([]string, len(cols))
		for i := range cols {
			ph[i] = "$" + strconv.Itoa(i+5)
		}
		return `INSERT INTO job_stats (res, minute, tenant, shard, ` + strings.Join(cols, ", ") + `)
			VALUES ($1, $2, $3, $4, ` + strings.Join(ph, ", ") + `)
			ON CONFLICT (res, minute, tenant, shard) DO UPDATE SET ` + store.StatsIncrements("job_stats")
	}()
	statsSumsSQL = store.StatsSums()
	// upsertAgentStatsSQL adds a batch's agent rows in one statement: a
	// completion adds one per resolution, so one statement per row was the
	// busiest statement of a burn-down by count. The rows come unique and
	// in key order (store.RollupOf), so one statement meets each once and
	// two writers sharing a shard lock them in the same order.
	upsertAgentStatsSQL = `INSERT INTO agent_stats (res, minute, agent_id, tenant, shard, succeeded, failed)
		SELECT * FROM ` + unnest("res, minute, agent_id, tenant, shard, succeeded, failed",
		"smallint", "bigint", "text", "text", "smallint", "int", "int") + `
		ON CONFLICT (res, minute, agent_id, tenant, shard) DO UPDATE SET succeeded = agent_stats.succeeded + excluded.succeeded,
		failed = agent_stats.failed + excluded.failed`
)

// queueRollup queues the statistics that changes add (store.RollupOf), on
// the given shard (connShard).
func queueRollup(b *pgx.Batch, changes []job.Change, shard int) {
	r := store.RollupOf(changes)
	if r.Empty() {
		return
	}
	for _, row := range r.Jobs {
		b.Queue(upsertJobStatsSQL, append([]any{row.Res, row.Minute, row.Tenant, shard}, row.Values()...)...)
	}
	var agents rows
	for _, a := range r.Agents {
		agents.add(a.Res, a.Minute, a.AgentID, a.Tenant, int64(shard), a.Succeeded, a.Failed)
	}
	agents.queue(b, upsertAgentStatsSQL)
	for _, e := range r.Errors {
		b.Queue(`INSERT INTO error_stats (res, minute, tenant, code, shard, n) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (res, minute, tenant, code, shard) DO UPDATE SET n = error_stats.n + excluded.n`,
			e.Res, e.Minute, e.Tenant, e.Code, shard, e.N)
	}
	for _, t := range r.Totals {
		b.Queue(`INSERT INTO job_totals (tenant, status, shard, n) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant, status, shard) DO UPDATE SET n = job_totals.n + excluded.n`,
			t.Tenant, string(t.Status), shard, t.N)
	}
}

// Stats reads the rollups of q's window in one round trip; see store.Store.
func (s *Store) Stats(ctx context.Context, q store.StatsQuery) (api.Stats, error) {
	from, to, size, err := q.Span()
	if err != nil {
		return api.Stats{}, fmt.Errorf("postgres: stats: %w", err)
	}
	const scope = `($4::text = '' OR tenant = $4::text)`
	b := &pgx.Batch{}
	// The batch runs in one implicit transaction. Its statements are
	// cached, and a generic plan (chosen after five runs) cannot use the
	// window's bounds: planned for them each time, the scans stay on the
	// window's rows (a generic plan doubled the read of agent_stats).
	b.Queue(`SELECT set_config('plan_cache_mode', 'force_custom_plan', true)`)
	// One scan sums both the buckets and the tenants.
	b.Queue(`SELECT (minute - $1) / $3 AS b, tenant, `+statsSumsSQL+` FROM job_stats
		WHERE res = $3 AND minute >= $1 AND minute < $2 AND `+scope+` GROUP BY GROUPING SETS ((b), (tenant))`,
		from, to, size, q.Tenant)
	b.Queue(`SELECT `+statsSumsSQL+` FROM job_stats WHERE res = $3 AND minute >= $1 AND ($2::text = '' OR tenant = $2::text)`,
		to, q.Tenant, size)
	b.Queue(`SELECT status, COALESCE(SUM(n), 0) FROM job_totals WHERE ($1::text = '' OR tenant = $1::text) GROUP BY status`, q.Tenant)
	// With series, by agent and bucket (Fold sums the agents' totals).
	byBucket, groupBy := "-1", "agent_id"
	if q.AgentSeries {
		byBucket, groupBy = "(minute - $1) / $4", "agent_id, b"
	}
	b.Queue(`SELECT agent_id, `+byBucket+` AS b, COALESCE(SUM(succeeded), 0), COALESCE(SUM(failed), 0) FROM agent_stats
		WHERE res = $4 AND minute >= $1 AND minute < $2 AND ($3::text = '' OR tenant = $3::text) GROUP BY `+groupBy,
		from, to, q.Tenant, size)
	b.Queue(`SELECT code, SUM(n) FROM error_stats WHERE res = $3 AND minute >= $1 AND minute < $2 AND `+scope+`
		GROUP BY code ORDER BY 2 DESC, code LIMIT $5`, from, to, size, q.Tenant, store.TopErrors)
	if q.Tenant == "" {
		b.Queue(`SELECT (minute - $1) / $3, SUM(samples), SUM(busy)::bigint, SUM(slots)::bigint FROM fleet_stats
			WHERE res = $3 AND minute >= $1 AND minute < $2 GROUP BY 1`, from, to, size)
	}
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	var d store.StatsData
	if _, err := br.Exec(); err != nil {
		return api.Stats{}, fmt.Errorf("postgres: stats plan mode: %w", err)
	}
	rows, _ := br.Query()
	for rows.Next() {
		var (
			row    store.StatsRow
			bucket *int64
			tenant *string
		)
		if err := rows.Scan(append([]any{&bucket, &tenant}, row.Dest()...)...); err != nil {
			rows.Close()
			return api.Stats{}, fmt.Errorf("postgres: stats buckets: %w", err)
		}
		if bucket != nil {
			row.Minute = *bucket
			d.Buckets = append(d.Buckets, row)
		} else if tenant != nil {
			row.Tenant = *tenant
			d.Tenants = append(d.Tenants, row)
		}
	}
	if err := rows.Err(); err != nil {
		return api.Stats{}, fmt.Errorf("postgres: stats buckets: %w", err)
	}
	if err := br.QueryRow().Scan(d.After.Dest()...); err != nil {
		return api.Stats{}, fmt.Errorf("postgres: stats after the window: %w", err)
	}
	rows, _ = br.Query()
	d.Totals = map[api.JobStatus]int64{}
	var (
		status string
		n      int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error { d.Totals[api.JobStatus(status)] = n; return nil }); err != nil {
		return api.Stats{}, fmt.Errorf("postgres: stats totals: %w", err)
	}
	rows, _ = br.Query()
	d.Agents, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AgentRow, error) {
		var a store.AgentRow
		return a, r.Scan(&a.AgentID, &a.Minute, &a.Succeeded, &a.Failed)
	})
	if err != nil {
		return api.Stats{}, fmt.Errorf("postgres: stats by agent: %w", err)
	}
	rows, _ = br.Query()
	d.Errors, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.ErrorRow, error) {
		var e store.ErrorRow
		return e, r.Scan(&e.Code, &e.N)
	})
	if err != nil {
		return api.Stats{}, fmt.Errorf("postgres: stats by error: %w", err)
	}
	if q.Tenant == "" {
		rows, _ = br.Query()
		d.Fleet, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.FleetRow, error) {
			var f store.FleetRow
			return f, r.Scan(&f.Minute, &f.Samples, &f.Busy, &f.Slots)
		})
		if err != nil {
			return api.Stats{}, fmt.Errorf("postgres: stats of the fleet: %w", err)
		}
	}
	return q.Fold(d), nil
}

// RecordFleetSample adds a sample to fleet_stats; see store.Store.
func (s *Store) RecordFleetSample(ctx context.Context, f store.FleetSample) error {
	b := &pgx.Batch{}
	for _, r := range f.Rows() {
		b.Queue(`INSERT INTO fleet_stats (res, minute, samples, busy, slots) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (res, minute) DO UPDATE SET samples = fleet_stats.samples + excluded.samples,
			busy = fleet_stats.busy + excluded.busy, slots = fleet_stats.slots + excluded.slots`,
			r.Res, r.Minute, r.Samples, r.Busy, r.Slots)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: record fleet sample: %w", err)
	}
	return nil
}

// CompactStats folds the rollup rows of buckets that ended before before
// into shard 0, one row per key, keeping every sum; see statsShards. A
// late write to a folded bucket only adds a shard row again, folded next
// time.
func (s *Store) CompactStats(ctx context.Context, before time.Time) error {
	m := before.Unix() / 60
	sums := func(cols ...string) (string, string) {
		sel := make([]string, len(cols))
		upd := make([]string, len(cols))
		for i, c := range cols {
			sel[i] = "sum(" + c + ")"
			upd[i] = c + " = t." + c + " + excluded." + c
		}
		return strings.Join(sel, ", "), strings.Join(upd, ", ")
	}
	fold := func(table string, key, cols []string) string {
		sel, upd := sums(cols...)
		k := strings.Join(key, ", ")
		return `WITH moved AS (DELETE FROM ` + table + ` WHERE shard <> 0 AND minute + res <= $1 RETURNING *)
			INSERT INTO ` + table + ` AS t (` + k + `, shard, ` + strings.Join(cols, ", ") + `)
			SELECT ` + k + `, 0, ` + sel + ` FROM moved GROUP BY ` + k + `
			ON CONFLICT (` + k + `, shard) DO UPDATE SET ` + upd
	}
	err := s.inPipe(ctx, func(tx *pipeTx) error {
		for _, q := range []string{
			fold("job_stats", []string{"res", "minute", "tenant"}, store.StatsCounterCols),
			fold("agent_stats", []string{"res", "minute", "agent_id", "tenant"}, []string{"succeeded", "failed"}),
			fold("error_stats", []string{"res", "minute", "tenant", "code"}, []string{"n"}),
		} {
			if _, err := tx.Exec(ctx, q, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: compact statistics: %w", mapErr(err))
	}
	return nil
}
