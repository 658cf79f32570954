package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PathStats serves the queue and throughput statistics (GET), and
// PathStatsStream the same as server-sent events, refreshed (GET).
const (
	PathStats       = "/v1/stats"
	PathStatsStream = "/v1/stats/stream"
)

// SeriesAgents is the series parameter that adds per-agent series.
const SeriesAgents = "agents"

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
	// Errors are the most frequent error codes of the jobs that failed in
	// the window, most frequent first (at most 10).
	Errors []ErrorCount `json:"errors"`
	// Fleet is the fleet now. Fleet figures (here and in the buckets) are
	// fleet-wide: zero for a key scoped to a tenant.
	Fleet FleetNow `json:"fleet"`
}

// ErrorCount is how many jobs failed with an error code.
type ErrorCount struct {
	Code  string `json:"code"`
	Count int64  `json:"count"`
}

// FleetNow is the fleet at the moment of the reply: agents registered (not
// revoked), those online (seen within 2 minutes, draining or not), the
// tasks the online agents hold and the slots they offer.
type FleetNow struct {
	Agents    int `json:"agents"`
	Online    int `json:"online"`
	BusySlots int `json:"busy_slots"`
	Slots     int `json:"slots"`
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
	// BusySlots and Slots are the average number of tasks held by online
	// agents and of their slots over the bucket, sampled every few seconds
	// (0 where nothing was sampled, and for a key scoped to a tenant).
	BusySlots float64 `json:"busy_slots"`
	Slots     float64 `json:"slots"`
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
	// SucceededSeries and FailedSeries are the same per bucket, aligned to
	// Stats.Buckets; only with series=agents.
	SucceededSeries []int64 `json:"succeeded_series,omitempty"`
	FailedSeries    []int64 `json:"failed_series,omitempty"`
}

// StatsParams select statistics: the window ("" for 1h), Series
// (SeriesAgents for per-agent series, or "") and, for a stream, the
// seconds between events (0 for the server's default of 5).
type StatsParams struct {
	Window   StatsWindow
	Series   string
	Interval int
}

func (p StatsParams) query() string {
	v := url.Values{}
	if p.Window != "" {
		v.Set("window", string(p.Window))
	}
	if p.Series != "" {
		v.Set("series", p.Series)
	}
	if p.Interval != 0 {
		v.Set("interval", strconv.Itoa(p.Interval))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// Stats reads the statistics over window.
func (c *Client) Stats(ctx context.Context, window StatsWindow) (Stats, error) {
	return c.StatsWith(ctx, StatsParams{Window: window})
}

// StatsWith reads the statistics p selects.
func (c *Client) StatsWith(ctx context.Context, p StatsParams) (Stats, error) {
	var s Stats
	err := c.Do(ctx, http.MethodGet, PathStats+p.query(), nil, &s, nil)
	return s, err
}

// StreamStats follows GET /v1/stats/stream, calling fn with each event's
// statistics until fn returns an error (returned), ctx ends, or the server
// ends the stream (nil: reconnect to go on).
func (c *Client) StreamStats(ctx context.Context, p StatsParams, fn func(Stats) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+PathStatsStream+p.query(), nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET stats stream: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return decodeError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "data:"):
			data = strings.TrimSpace(line[5:])
		case line == "" && data != "":
			var s Stats
			if err := json.Unmarshal([]byte(data), &s); err != nil {
				return fmt.Errorf("decode stats event: %w", err)
			}
			data = ""
			if err := fn(s); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("read stats stream: %w", err)
	}
	return ctx.Err()
}
