package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Stats times GET /v1/stats?window=24h&series=agents, as an admin (every
// tenant, with the breakdown by tenant, the per-agent series, the top error
// codes and the fleet's figures), over StatsJobs jobs spread over the past
// week and StatsTenants tenants, finished by 20 agents, with a fleet sample
// every 10 s.
func Stats(ctx context.Context, cfg Config, r *Results) error {
	s, err := StartServer(ctx, cfg, "stats")
	if err != nil {
		return err
	}
	defer s.Stop()
	if err := seedFinished(ctx, s, cfg.Scale.StatsJobs, cfg.Scale.StatsTenants); err != nil {
		return err
	}
	hc := hostClient(s.URL, 1)
	path := api.PathStats + "?window=" + string(api.Window24h) + "&series=" + api.SeriesAgents
	var st api.Stats
	if err := doJSON(hc, s, http.MethodGet, path, nil, &st); err != nil {
		return err
	}
	if st.Summary.Submitted == 0 || len(st.Tenants) == 0 || len(st.Errors) == 0 || len(st.Agents) == 0 ||
		len(st.Agents[0].SucceededSeries) != len(st.Buckets) || st.Buckets[0].Slots == 0 {
		return fmt.Errorf("stats over seeded jobs: summary %+v, %d tenants, %d error codes, %d agents, first bucket %+v",
			st.Summary, len(st.Tenants), len(st.Errors), len(st.Agents), st.Buckets[0])
	}
	var lat Latencies
	n := cfg.Scale.StatsSamples
	for i := range n + n/10 {
		t0 := time.Now()
		if err := doJSON(hc, s, http.MethodGet, path, nil, nil); err != nil {
			return err
		}
		if i >= n/10 { // the first calls warm connections and caches
			lat.Add(time.Since(t0))
		}
	}
	r.Set("stats_p50_ms_1m_jobs", lat.Pct(50), "ms")
	r.Set("stats_p99_ms_1m_jobs", lat.Pct(99), "ms")
	r.Set("stats_jobs", float64(cfg.Scale.StatsJobs), "jobs")
	return nil
}

// seedFinished clones a submitted job n-1 times with COPY, spread evenly
// over the past week and round-robin over tenants, most succeeded, some
// failed or canceled, and writes their statistics rollups as the server
// would have.
func seedFinished(ctx context.Context, s *Server, n, tenants int) error {
	ids, err := submitJobs(ctx, s, 1, 1)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	cols, row, err := templateRow(ctx, conn, `SELECT * FROM jobs WHERE id = $1`, ids[0])
	if err != nil {
		return err
	}
	jobIDs := make([]string, n-1)
	for i := range jobIDs {
		jobIDs[i] = uuid.Must(uuid.NewV7()).String()
	}
	now := time.Now()
	week := 7 * 24 * time.Hour
	step := week / time.Duration(n)
	created := func(i int) time.Time { return now.Add(-week).Add(time.Duration(i) * step) }
	status := func(i int) api.JobStatus {
		switch i % 20 {
		case 0:
			return api.JobFailed
		case 1:
			return api.JobCanceled
		}
		return api.JobSucceeded
	}
	result, _ := json.Marshal(api.JobResult{Result: api.Result{Language: "en", Duration: 60}})
	over := map[string]func(int) any{
		"id":          func(i int) any { return jobIDs[i] },
		"tenant":      func(i int) any { return fmt.Sprintf("bench-%03d", i%tenants) },
		"status":      func(i int) any { return string(status(i)) },
		"progress":    func(int) any { return 1.0 },
		"created_at":  func(i int) any { return created(i) },
		"updated_at":  func(i int) any { return created(i).Add(30 * time.Second) },
		"finished_at": func(i int) any { return created(i).Add(30 * time.Second) },
		"result": func(i int) any {
			if status(i) == api.JobSucceeded {
				return result
			}
			return nil
		},
	}
	if err := copyClones(ctx, conn, "jobs", cols, row, jobIDs, over); err != nil {
		return err
	}
	// The rollups of the clones: submitted in their creation minute, waited
	// about 2 s (bin 5) and ran about 28 s (bin 9) in their finishing one.
	// Every resolution's rows, on 4 shards: more rows than the server keeps
	// once the sweeper has folded ended buckets into shard 0.
	const bucket = `(VALUES (1), (15), (60)) r(res), LATERAL (SELECT floor(extract(epoch FROM %s) / 60)::bigint AS m) t`
	for _, q := range []string{
		`INSERT INTO job_stats (res, minute, tenant, shard, submitted, w5)
		SELECT res, m - m % res, tenant, abs(hashtext(id)) % 4, count(*), count(*)
		FROM jobs, ` + fmt.Sprintf(bucket, "created_at") + ` WHERE id <> $1 GROUP BY 1, 2, 3, 4`,
		`INSERT INTO job_stats AS s (res, minute, tenant, shard, succeeded, failed, canceled, audio_seconds, run_seconds, p9)
		SELECT res, m - m % res, tenant, abs(hashtext(id)) % 4,
			count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'failed'),
			count(*) FILTER (WHERE status = 'canceled'), 60 * count(*) FILTER (WHERE status = 'succeeded'),
			28 * count(*) FILTER (WHERE status = 'succeeded'), count(*)
		FROM jobs, ` + fmt.Sprintf(bucket, "finished_at") + ` WHERE id <> $1 GROUP BY 1, 2, 3, 4
		ON CONFLICT (res, minute, tenant, shard) DO UPDATE SET succeeded = excluded.succeeded, failed = excluded.failed,
			canceled = excluded.canceled, audio_seconds = excluded.audio_seconds, run_seconds = excluded.run_seconds, p9 = excluded.p9`,
		`INSERT INTO job_totals AS t (tenant, status, shard, n)
		SELECT tenant, status, 0, count(*) FROM jobs WHERE id <> $1 GROUP BY 1, 2
		ON CONFLICT (tenant, status, shard) DO UPDATE SET n = t.n + excluded.n`,
		// Each finished job's lease ended by one of 20 agents, each failed
		// job's error one of 12 codes. In time order, as the server appends
		// them (a scattered bulk load reads several times the pages).
		`INSERT INTO agent_stats (res, minute, agent_id, tenant, shard, succeeded, failed)
		SELECT res, m - m % res, 'bench-agent-' || abs(hashtext(id)) % 20, tenant, abs(hashtext(id)) / 20 % 4,
			count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'failed')
		FROM jobs, ` + fmt.Sprintf(bucket, "finished_at") + ` WHERE id <> $1 AND status IN ('succeeded', 'failed')
		GROUP BY 1, 2, 3, 4, 5 ORDER BY 2, 1`,
		`INSERT INTO error_stats (res, minute, tenant, code, shard, n)
		SELECT res, m - m % res, tenant, 'bench_error_' || abs(hashtext(id)) % 12, abs(hashtext(id)) / 12 % 4, count(*)
		FROM jobs, ` + fmt.Sprintf(bucket, "finished_at") + ` WHERE id <> $1 AND status = 'failed' GROUP BY 1, 2, 3, 4, 5 ORDER BY 2, 1`,
	} {
		if _, err := conn.Exec(ctx, q, ids[0]); err != nil {
			return fmt.Errorf("seed stats rollups: %w", err)
		}
	}
	// A week of fleet samples every 10 s (the server's own sampler may
	// have written the current minute already).
	if _, err := conn.Exec(ctx, `INSERT INTO fleet_stats AS f (res, minute, samples, busy, slots)
		SELECT res, m - m % res, count(*), sum(10 + m % 7), 20 * count(*)
		FROM generate_series(now() - interval '7 days', now(), interval '10 seconds') g(at), `+fmt.Sprintf(bucket, "at")+`
		GROUP BY 1, 2
		ON CONFLICT (res, minute) DO UPDATE SET samples = f.samples + excluded.samples, busy = f.busy + excluded.busy,
			slots = f.slots + excluded.slots`); err != nil {
		return fmt.Errorf("seed fleet samples: %w", err)
	}
	return settle(ctx, conn, "jobs", "job_stats", "job_totals", "agent_stats", "error_stats", "fleet_stats")
}
