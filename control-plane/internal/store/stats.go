package store

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// Statistics are kept as rollups written with the changes that cause them
// (package job decides what a change adds: job.StatsDelta): per tenant and
// bucket in job_stats, per agent, tenant and bucket in agent_stats, and the
// number of jobs in each status per tenant in job_totals. Every counter is
// kept at each window's resolution (Resolutions: 1, 15 and 60 minutes), so
// reading a window sums at most its buckets' rows per tenant and shard,
// however many jobs there are. On PostgreSQL each row key also has a
// shard, picked per transaction, so that concurrent transactions rarely
// wait on each other's row of the current bucket; readers sum the shards.
// Failed jobs are also counted by error code in error_stats. The fleet's
// load is not a job change: the leader's sweeper samples it every few
// seconds into fleet_stats (samples, and the sums of busy and total slots,
// so a bucket's average is a division).

// Resolutions are the bucket lengths, in minutes, the rollups keep.
var Resolutions = []int64{1, 15, 60}

// StatsRow is one tenant's counters of one bucket (or, read back, of a
// window).
type StatsRow struct {
	Tenant string
	Res    int64 // the bucket's length in minutes
	// Minute is the bucket's start in Unix minutes; read back by bucket,
	// its index in the window.
	Minute                                 int64
	Submitted, Succeeded, Failed, Canceled int64
	// Queued is the net change of the number of queued jobs.
	Queued                   int64
	AudioSeconds, RunSeconds float64
	Wait, Proc               [job.HistBins]int64
}

// AgentRow counts the leases one agent ended for one tenant in one bucket.
type AgentRow struct {
	AgentID, Tenant   string
	Res, Minute       int64
	Succeeded, Failed int64
}

// ErrorRow counts the jobs of one tenant that failed with one error code
// in one bucket (read back: over the window, all tenants summed).
type ErrorRow struct {
	Tenant, Code string
	Res, Minute  int64
	N            int64
}

// FleetRow is the fleet's samples of one bucket: how many, and the sums of
// the busy and total slots they saw (read back, Minute is the bucket's
// index in the window).
type FleetRow struct {
	Res, Minute          int64
	Samples, Busy, Slots int64
}

// FleetSample is one sample of the fleet's load.
type FleetSample struct {
	At          time.Time
	Busy, Slots int64
}

// Rows are the sample's rows, one per resolution.
func (f FleetSample) Rows() []FleetRow {
	m := f.At.Unix() / 60
	out := make([]FleetRow, 0, len(Resolutions))
	for _, res := range Resolutions {
		out = append(out, FleetRow{Res: res, Minute: m - m%res, Samples: 1, Busy: f.Busy, Slots: f.Slots})
	}
	return out
}

// FleetOf is the load of agents at now (job.Fleet).
func FleetOf(agents []Agent, now time.Time) job.FleetLoad {
	loads := make([]job.AgentLoad, 0, len(agents))
	for _, a := range agents {
		loads = append(loads, job.AgentLoad{Slots: a.Capabilities.Slots, ActiveTasks: a.ActiveTasks, LastSeen: a.LastSeenAt,
			Revoked: a.RevokedAt != nil})
	}
	return job.Fleet(loads, now)
}

// TotalRow is a change of the number of a tenant's jobs in one status.
type TotalRow struct {
	Tenant string
	Status api.JobStatus
	N      int64
}

// Rollup is what a batch of changes adds to the statistics, summed per
// row key so that a transaction writes each row once.
type Rollup struct {
	Jobs   []StatsRow
	Agents []AgentRow
	Totals []TotalRow
	Errors []ErrorRow
}

// Empty reports whether there is nothing to write.
func (r Rollup) Empty() bool { return len(r.Jobs)+len(r.Agents)+len(r.Totals)+len(r.Errors) == 0 }

// RollupOf sums the statistics deltas of changes, the rows in key order
// (a fixed lock order for concurrent writers).
func RollupOf(changes []job.Change) Rollup {
	type jobKey struct {
		tenant      string
		res, minute int64
	}
	type agentKey struct {
		agent, tenant string
		res, minute   int64
	}
	type totalKey struct {
		tenant string
		status api.JobStatus
	}
	type errorKey struct {
		tenant, code string
		res, minute  int64
	}
	jobs := map[jobKey]*StatsRow{}
	errs := map[errorKey]int64{}
	agents := map[agentKey]*AgentRow{}
	totals := map[totalKey]int64{}
	for _, ch := range changes {
		d := ch.Stats
		if d.Empty() {
			continue
		}
		var r StatsRow
		failed := "" // the error code, when the change fails the job
		if d.From != d.To {
			if d.From == "" {
				r.Submitted++
			} else {
				totals[totalKey{d.Tenant, d.From}]--
			}
			totals[totalKey{d.Tenant, d.To}]++
			if !d.From.Final() || d.From == "" {
				switch d.To {
				case api.JobSucceeded:
					r.Succeeded++
				case api.JobFailed:
					r.Failed++
					failed = d.ErrorCode
				case api.JobCanceled:
					r.Canceled++
				}
			}
			if d.To == api.JobQueued {
				r.Queued++
			}
			if d.From == api.JobQueued {
				r.Queued--
			}
		}
		if d.QueueWait != nil {
			r.Wait[job.HistBin(*d.QueueWait)]++
		}
		if d.Processing != nil {
			r.Proc[job.HistBin(*d.Processing)]++
		}
		r.AudioSeconds, r.RunSeconds = d.AudioSeconds, d.RunSeconds
		m := d.At.Unix() / 60
		for _, res := range Resolutions {
			start := m - m%res
			k := jobKey{d.Tenant, res, start}
			if jobs[k] == nil {
				jobs[k] = &StatsRow{Tenant: d.Tenant, Res: res, Minute: start}
			}
			*jobs[k] = addRows(*jobs[k], r)
			if failed != "" {
				errs[errorKey{d.Tenant, failed, res, start}]++
			}
			for _, a := range d.Agents {
				k := agentKey{a.AgentID, d.Tenant, res, start}
				ar := agents[k]
				if ar == nil {
					ar = &AgentRow{AgentID: a.AgentID, Tenant: d.Tenant, Res: res, Minute: start}
					agents[k] = ar
				}
				ar.Succeeded += int64(a.Succeeded)
				ar.Failed += int64(a.Failed)
			}
		}
	}
	var out Rollup
	for _, r := range jobs {
		if *r != (StatsRow{Tenant: r.Tenant, Res: r.Res, Minute: r.Minute}) {
			out.Jobs = append(out.Jobs, *r)
		}
	}
	slices.SortFunc(out.Jobs, func(a, b StatsRow) int {
		return cmp.Or(cmp.Compare(a.Res, b.Res), cmp.Compare(a.Minute, b.Minute), cmp.Compare(a.Tenant, b.Tenant))
	})
	for _, r := range agents {
		out.Agents = append(out.Agents, *r)
	}
	slices.SortFunc(out.Agents, func(a, b AgentRow) int {
		return cmp.Or(cmp.Compare(a.Res, b.Res), cmp.Compare(a.Minute, b.Minute), cmp.Compare(a.AgentID, b.AgentID),
			cmp.Compare(a.Tenant, b.Tenant))
	})
	for k, n := range totals {
		if n != 0 {
			out.Totals = append(out.Totals, TotalRow{Tenant: k.tenant, Status: k.status, N: n})
		}
	}
	slices.SortFunc(out.Totals, func(a, b TotalRow) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Status, b.Status))
	})
	for k, n := range errs {
		out.Errors = append(out.Errors, ErrorRow{Tenant: k.tenant, Code: k.code, Res: k.res, Minute: k.minute, N: n})
	}
	slices.SortFunc(out.Errors, func(a, b ErrorRow) int {
		return cmp.Or(cmp.Compare(a.Res, b.Res), cmp.Compare(a.Minute, b.Minute), cmp.Compare(a.Tenant, b.Tenant),
			cmp.Compare(a.Code, b.Code))
	})
	return out
}

// StatsCounterCols are job_stats' counter columns in StatsRow.Values order.
var StatsCounterCols = statsCounterCols()

func statsCounterCols() []string {
	cols := []string{"submitted", "succeeded", "failed", "canceled", "queued", "audio_seconds", "run_seconds"}
	for i := range job.HistBins {
		cols = append(cols, fmt.Sprintf("w%d", i))
	}
	for i := range job.HistBins {
		cols = append(cols, fmt.Sprintf("p%d", i))
	}
	return cols
}

// Values are the row's counters in StatsCounterCols order.
func (r *StatsRow) Values() []any {
	v := []any{r.Submitted, r.Succeeded, r.Failed, r.Canceled, r.Queued, r.AudioSeconds, r.RunSeconds}
	for i := range r.Wait {
		v = append(v, r.Wait[i])
	}
	for i := range r.Proc {
		v = append(v, r.Proc[i])
	}
	return v
}

// Dest are scan destinations for the row's counters in StatsCounterCols order.
func (r *StatsRow) Dest() []any {
	d := []any{&r.Submitted, &r.Succeeded, &r.Failed, &r.Canceled, &r.Queued, &r.AudioSeconds, &r.RunSeconds}
	for i := range r.Wait {
		d = append(d, &r.Wait[i])
	}
	for i := range r.Proc {
		d = append(d, &r.Proc[i])
	}
	return d
}

// StatsSums is the SQL selecting the sum of every counter column, in
// StatsCounterCols order.
func StatsSums() string {
	var b strings.Builder
	for i, c := range StatsCounterCols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "COALESCE(SUM(%s), 0)", c)
	}
	return b.String()
}

// StatsIncrements is the SQL of an upsert's update adding the excluded
// row's counters to the table's (table is the table's name).
func StatsIncrements(table string) string {
	var b strings.Builder
	for i, c := range StatsCounterCols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = %s.%s + excluded.%s", c, table, c, c)
	}
	return b.String()
}

// StatsQuery selects statistics.
type StatsQuery struct {
	// Tenant is "" for every tenant; the fleet's figures are read only
	// then (they are fleet-wide).
	Tenant string
	Window api.StatsWindow
	Now    time.Time
	// AgentSeries also reads each agent's counters per bucket.
	AgentSeries bool
}

// TopErrors is how many error codes statistics list.
const TopErrors = 10

// Span is the query's window in Unix minutes, [From, To), cut in buckets
// of Size minutes; the last bucket holds Now.
func (q StatsQuery) Span() (from, to, size int64, err error) {
	n, d, ok := q.Window.Buckets()
	if !ok {
		return 0, 0, 0, fmt.Errorf("unknown stats window %q", q.Window)
	}
	size = int64(d / time.Minute)
	to = (q.Now.Unix()/60/size + 1) * size
	return to - int64(n)*size, to, size, nil
}

// StatsData is what a backend reads for a StatsQuery: the sums of each
// bucket that has any (Minute is the bucket's index), the sums of the
// minutes after the window (changes stamped by a clock ahead), the current
// totals, and the window's sums per tenant and per agent — per agent and
// bucket instead (Minute the bucket's index) with AgentSeries. Errors are
// the window's TopErrors most frequent codes (any order), Fleet the
// fleet's samples per bucket (Minute the bucket's index; none for a
// tenant).
type StatsData struct {
	Buckets []StatsRow
	After   StatsRow
	Totals  map[api.JobStatus]int64
	Tenants []StatsRow
	Agents  []AgentRow
	Errors  []ErrorRow
	Fleet   []FleetRow
}

// Fold renders what a backend read as the API's statistics.
func (q StatsQuery) Fold(d StatsData) api.Stats {
	from, to, size, _ := q.Span()
	n := int((to - from) / size)
	out := api.Stats{
		Window: q.Window, BucketSeconds: int(size * 60),
		From: time.Unix(from*60, 0).UTC(), To: time.Unix(to*60, 0).UTC(),
		Buckets: make([]api.StatsBucket, n),
		Totals:  map[api.JobStatus]int64{},
		Tenants: []api.TenantStats{}, Agents: []api.AgentStats{},
	}
	for _, s := range []api.JobStatus{api.JobQueued, api.JobRunning, api.JobSucceeded, api.JobFailed, api.JobCanceled} {
		out.Totals[s] = max(d.Totals[s], 0)
	}
	rows := make([]StatsRow, n)
	var sum StatsRow
	for _, r := range d.Buckets {
		if r.Minute >= 0 && r.Minute < int64(n) {
			rows[r.Minute] = r
			sum = addRows(sum, r)
		}
	}
	// The queue depth at the end of a bucket is the current depth less
	// the net change since.
	depth := d.Totals[api.JobQueued] - d.After.Queued
	for i := n - 1; i >= 0; i-- {
		out.Buckets[i] = api.StatsBucket{Start: time.Unix((from+int64(i)*size)*60, 0).UTC(),
			StatsCounts: counts(rows[i]), QueueDepth: max(depth, 0)}
		depth -= rows[i].Queued
	}
	out.Summary = counts(sum)
	for _, r := range d.Tenants {
		out.Tenants = append(out.Tenants, api.TenantStats{Tenant: r.Tenant, StatsCounts: counts(r)})
	}
	slices.SortFunc(out.Tenants, func(a, b api.TenantStats) int { return cmp.Compare(a.Tenant, b.Tenant) })
	out.Agents = q.foldAgents(d.Agents, n)
	for _, r := range d.Fleet {
		if r.Minute >= 0 && r.Minute < int64(n) && r.Samples > 0 {
			b := &out.Buckets[r.Minute]
			b.BusySlots, b.Slots = float64(r.Busy)/float64(r.Samples), float64(r.Slots)/float64(r.Samples)
		}
	}
	out.Errors = []api.ErrorCount{}
	for _, r := range d.Errors {
		out.Errors = append(out.Errors, api.ErrorCount{Code: r.Code, Count: r.N})
	}
	slices.SortFunc(out.Errors, func(a, b api.ErrorCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Code, b.Code))
	})
	if len(out.Errors) > TopErrors {
		out.Errors = out.Errors[:TopErrors]
	}
	return out
}

// foldAgents sums the agents' rows (per bucket with AgentSeries, into n
// buckets), sorted by agent.
func (q StatsQuery) foldAgents(rows []AgentRow, n int) []api.AgentStats {
	out := []api.AgentStats{}
	at := map[string]int{}
	for _, r := range rows {
		i, ok := at[r.AgentID]
		if !ok {
			i = len(out)
			at[r.AgentID] = i
			a := api.AgentStats{AgentID: r.AgentID}
			if q.AgentSeries {
				a.SucceededSeries, a.FailedSeries = make([]int64, n), make([]int64, n)
			}
			out = append(out, a)
		}
		a := &out[i]
		if q.AgentSeries {
			if r.Minute < 0 || r.Minute >= int64(n) {
				continue
			}
			a.SucceededSeries[r.Minute] += r.Succeeded
			a.FailedSeries[r.Minute] += r.Failed
		}
		a.Succeeded += r.Succeeded
		a.Failed += r.Failed
	}
	slices.SortFunc(out, func(a, b api.AgentStats) int { return cmp.Compare(a.AgentID, b.AgentID) })
	return out
}

func addRows(a, b StatsRow) StatsRow {
	a.Submitted += b.Submitted
	a.Succeeded += b.Succeeded
	a.Failed += b.Failed
	a.Canceled += b.Canceled
	a.Queued += b.Queued
	a.AudioSeconds += b.AudioSeconds
	a.RunSeconds += b.RunSeconds
	for i := range a.Wait {
		a.Wait[i] += b.Wait[i]
		a.Proc[i] += b.Proc[i]
	}
	return a
}

func counts(r StatsRow) api.StatsCounts {
	c := api.StatsCounts{Submitted: r.Submitted, Succeeded: r.Succeeded, Failed: r.Failed, Canceled: r.Canceled,
		QueueWaitP50: job.HistQuantile(r.Wait[:], 0.5), QueueWaitP95: job.HistQuantile(r.Wait[:], 0.95),
		ProcessingP50: job.HistQuantile(r.Proc[:], 0.5), ProcessingP95: job.HistQuantile(r.Proc[:], 0.95),
		AudioSeconds: r.AudioSeconds}
	if r.AudioSeconds > 0 {
		c.RealTimeFactor = r.RunSeconds / r.AudioSeconds
	}
	return c
}
