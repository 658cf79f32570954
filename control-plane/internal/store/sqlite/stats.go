package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// SQLite has one writer, so the rollups' rows all use shard 0.

var (
	upsertJobStatsSQL = `INSERT INTO job_stats (res, minute, tenant, shard, ` + strings.Join(store.StatsCounterCols, ", ") + `)
		VALUES (?, ?, ?, 0` + strings.Repeat(", ?", len(store.StatsCounterCols)) + `)
		ON CONFLICT (res, minute, tenant, shard) DO UPDATE SET ` + store.StatsIncrements("job_stats")
	statsSumsSQL = store.StatsSums()
)

// writeRollup writes the statistics that changes add (store.RollupOf).
func writeRollup(ctx context.Context, tx *sql.Tx, changes []job.Change) error {
	r := store.RollupOf(changes)
	for _, row := range r.Jobs {
		if _, err := tx.ExecContext(ctx, upsertJobStatsSQL, append([]any{row.Res, row.Minute, row.Tenant}, row.Values()...)...); err != nil {
			return fmt.Errorf("write job stats: %w", err)
		}
	}
	for _, a := range r.Agents {
		if _, err := tx.ExecContext(ctx, `INSERT INTO agent_stats (res, minute, agent_id, tenant, shard, succeeded, failed)
			VALUES (?, ?, ?, ?, 0, ?, ?) ON CONFLICT (res, minute, agent_id, tenant, shard) DO UPDATE SET
			succeeded = agent_stats.succeeded + excluded.succeeded, failed = agent_stats.failed + excluded.failed`,
			a.Res, a.Minute, a.AgentID, a.Tenant, a.Succeeded, a.Failed); err != nil {
			return fmt.Errorf("write agent stats: %w", err)
		}
	}
	for _, e := range r.Errors {
		if _, err := tx.ExecContext(ctx, `INSERT INTO error_stats (res, minute, tenant, code, shard, n) VALUES (?, ?, ?, ?, 0, ?)
			ON CONFLICT (res, minute, tenant, code, shard) DO UPDATE SET n = error_stats.n + excluded.n`,
			e.Res, e.Minute, e.Tenant, e.Code, e.N); err != nil {
			return fmt.Errorf("write error stats: %w", err)
		}
	}
	for _, t := range r.Totals {
		if _, err := tx.ExecContext(ctx, `INSERT INTO job_totals (tenant, status, shard, n) VALUES (?, ?, 0, ?)
			ON CONFLICT (tenant, status, shard) DO UPDATE SET n = job_totals.n + excluded.n`,
			t.Tenant, string(t.Status), t.N); err != nil {
			return fmt.Errorf("write job totals: %w", err)
		}
	}
	return nil
}

// Stats reads the rollups of q's window; see store.Store.
func (s *Store) Stats(ctx context.Context, q store.StatsQuery) (api.Stats, error) {
	from, to, size, err := q.Span()
	if err != nil {
		return api.Stats{}, fmt.Errorf("sqlite: stats: %w", err)
	}
	var d store.StatsData
	scan := func(query string, args []any, lead func(*store.StatsRow) []any) ([]store.StatsRow, error) {
		rows, err := s.r.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []store.StatsRow
		for rows.Next() {
			var row store.StatsRow
			if err := rows.Scan(append(lead(&row), row.Dest()...)...); err != nil {
				return nil, err
			}
			out = append(out, row)
		}
		return out, rows.Err()
	}
	d.Buckets, err = scan(`SELECT (minute - ?) / ?, `+statsSumsSQL+` FROM job_stats
		WHERE res = ? AND minute >= ? AND minute < ? AND (? = '' OR tenant = ?) GROUP BY 1`,
		[]any{from, size, size, from, to, q.Tenant, q.Tenant}, func(r *store.StatsRow) []any { return []any{&r.Minute} })
	if err != nil {
		return api.Stats{}, fmt.Errorf("sqlite: stats buckets: %w", err)
	}
	if err := s.r.QueryRowContext(ctx, `SELECT `+statsSumsSQL+` FROM job_stats WHERE res = ? AND minute >= ? AND (? = '' OR tenant = ?)`,
		size, to, q.Tenant, q.Tenant).Scan(d.After.Dest()...); err != nil {
		return api.Stats{}, fmt.Errorf("sqlite: stats after the window: %w", err)
	}
	d.Tenants, err = scan(`SELECT tenant, `+statsSumsSQL+` FROM job_stats
		WHERE res = ? AND minute >= ? AND minute < ? AND (? = '' OR tenant = ?) GROUP BY tenant`,
		[]any{size, from, to, q.Tenant, q.Tenant}, func(r *store.StatsRow) []any { return []any{&r.Tenant} })
	if err != nil {
		return api.Stats{}, fmt.Errorf("sqlite: stats by tenant: %w", err)
	}
	d.Totals = map[api.JobStatus]int64{}
	rows, err := s.r.QueryContext(ctx, `SELECT status, SUM(n) FROM job_totals WHERE (? = '' OR tenant = ?) GROUP BY status`, q.Tenant, q.Tenant)
	if err != nil {
		return api.Stats{}, fmt.Errorf("sqlite: stats totals: %w", err)
	}
	for rows.Next() {
		var (
			status string
			n      int64
		)
		if err := rows.Scan(&status, &n); err != nil {
			rows.Close()
			return api.Stats{}, fmt.Errorf("sqlite: stats totals: %w", err)
		}
		d.Totals[api.JobStatus(status)] = n
	}
	rows.Close()
	// With series, by agent and bucket (Fold sums the agents' totals).
	byBucket, groupBy := "-1", "agent_id"
	if q.AgentSeries {
		byBucket, groupBy = "(minute - ?) / ?", "agent_id, b"
	}
	args := []any{size, from, to, q.Tenant, q.Tenant}
	if q.AgentSeries {
		args = append([]any{from, size}, args...)
	}
	rows, err = s.r.QueryContext(ctx, `SELECT agent_id, `+byBucket+` AS b, SUM(succeeded), SUM(failed) FROM agent_stats
		WHERE res = ? AND minute >= ? AND minute < ? AND (? = '' OR tenant = ?) GROUP BY `+groupBy, args...)
	d.Agents, err = collect(rows, err, func(r scanner) (a store.AgentRow, err error) {
		return a, r.Scan(&a.AgentID, &a.Minute, &a.Succeeded, &a.Failed)
	})
	if err != nil {
		return api.Stats{}, fmt.Errorf("sqlite: stats by agent: %w", err)
	}
	rows, err = s.r.QueryContext(ctx, `SELECT code, SUM(n) FROM error_stats
		WHERE res = ? AND minute >= ? AND minute < ? AND (? = '' OR tenant = ?) GROUP BY code ORDER BY 2 DESC, code LIMIT ?`,
		size, from, to, q.Tenant, q.Tenant, store.TopErrors)
	d.Errors, err = collect(rows, err, func(r scanner) (e store.ErrorRow, err error) { return e, r.Scan(&e.Code, &e.N) })
	if err != nil {
		return api.Stats{}, fmt.Errorf("sqlite: stats by error: %w", err)
	}
	if q.Tenant == "" {
		rows, err = s.r.QueryContext(ctx, `SELECT (minute - ?) / ?, SUM(samples), SUM(busy), SUM(slots) FROM fleet_stats
			WHERE res = ? AND minute >= ? AND minute < ? GROUP BY 1`, from, size, size, from, to)
		d.Fleet, err = collect(rows, err, func(r scanner) (f store.FleetRow, err error) {
			return f, r.Scan(&f.Minute, &f.Samples, &f.Busy, &f.Slots)
		})
		if err != nil {
			return api.Stats{}, fmt.Errorf("sqlite: stats of the fleet: %w", err)
		}
	}
	return q.Fold(d), nil
}

// RecordFleetSample adds a sample to fleet_stats; see store.Store.
func (s *Store) RecordFleetSample(ctx context.Context, f store.FleetSample) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, r := range f.Rows() {
			if _, err := tx.ExecContext(ctx, `INSERT INTO fleet_stats (res, minute, samples, busy, slots) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (res, minute) DO UPDATE SET samples = fleet_stats.samples + excluded.samples,
				busy = fleet_stats.busy + excluded.busy, slots = fleet_stats.slots + excluded.slots`,
				r.Res, r.Minute, r.Samples, r.Busy, r.Slots); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: record fleet sample: %w", err)
	}
	return nil
}

// CompactStats does nothing: SQLite's rollup rows all use shard 0.
func (s *Store) CompactStats(context.Context, time.Time) error { return nil }
