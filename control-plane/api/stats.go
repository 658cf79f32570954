package api

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// PathStats serves the queue and throughput statistics (GET).
const PathStats = "/v1/stats"

// StatsWindow is the span GET /v1/stats covers.
type StatsWindow string

// The windows and their buckets: 1h in 60 one-minute buckets, 24h in 96
// buckets of 15 minutes, 7d in 168 hourly buckets.
const (
	Window1h  StatsWindow = "1h"
	Window24h StatsWindow = "24h"
	Window7d  StatsWindow = "7d"
)

// Buckets returns the window's bucket count and length; ok is false for an
// unknown window.
func (w StatsWindow) Buckets() (n int, size time.Duration, ok bool) {
	switch w {
	case Window1h:
		return 60, time.Minute, true
	case Window24h:
		return 96, 15 * time.Minute, true
	case Window7d:
		return 168, time.Hour, true
	}
	return 0, 0, false
}

// Stats is the body of GET /v1/stats: a time series over the window, the
// current totals by status, and breakdowns by tenant and agent over the
// window. A non-admin key sees its own tenant only.
type Stats struct {
	Window        StatsWindow   `json:"window"`
	BucketSeconds int           `json:"bucket_seconds"`
	From          time.Time     `json:"from"` // start of the first bucket
	To            time.Time     `json:"to"`   // end of the last bucket
	Buckets       []StatsBucket `json:"buckets"`
	// Totals counts the jobs in each status now.
	Totals  map[JobStatus]int64 `json:"totals"`
	Summary StatsCounts         `json:"summary"` // the whole window
	Tenants []TenantStats       `json:"tenants"`
	Agents  []AgentStats        `json:"agents"`
}

// StatsCounts are the counters of a span of time. Percentiles are in
// seconds, estimated from histograms with bins doubling from 100 ms (off
// by at most a factor of two); zero when nothing was measured.
type StatsCounts struct {
	Submitted int64 `json:"submitted"`
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	Canceled  int64 `json:"canceled"`
	// QueueWaitP50/P95: from submission to a job's first lease, of the jobs
	// first leased in the span.
	QueueWaitP50 float64 `json:"queue_wait_p50"`
	QueueWaitP95 float64 `json:"queue_wait_p95"`
	// ProcessingP50/P95: from the start of the lease of the job's first
	// task (its last attempt) to the end, of the jobs that finished in the
	// span after running.
	ProcessingP50 float64 `json:"processing_p50"`
	ProcessingP95 float64 `json:"processing_p95"`
	// AudioSeconds is the media transcribed by jobs that succeeded in the
	// span (results served from the cache excluded), and RealTimeFactor
	// those jobs' processing time over it (0: none).
	AudioSeconds   float64 `json:"audio_seconds"`
	RealTimeFactor float64 `json:"real_time_factor"`
}

// StatsBucket is one bucket of the series.
type StatsBucket struct {
	Start time.Time `json:"start"`
	StatsCounts
	// QueueDepth is the number of queued jobs at the end of the bucket
	// (exact: replayed back from the current count).
	QueueDepth int64 `json:"queue_depth"`
}

// TenantStats is one tenant's counters over the window.
type TenantStats struct {
	Tenant string `json:"tenant"`
	StatsCounts
}

// AgentStats counts the leases an agent ended in the window: succeeded, or
// failed (for good or to be retried, expired leases included).
type AgentStats struct {
	AgentID   string `json:"agent_id"`
	Succeeded int64  `json:"succeeded"`
	Failed    int64  `json:"failed"`
}

// Stats reads the statistics over window.
func (c *Client) Stats(ctx context.Context, window StatsWindow) (Stats, error) {
	var s Stats
	err := c.Do(ctx, http.MethodGet, PathStats+"?window="+url.QueryEscape(string(window)), nil, &s, nil)
	return s, err
}
