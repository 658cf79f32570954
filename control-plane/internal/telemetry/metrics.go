// Package telemetry holds the control plane's Prometheus metrics and the
// name of its OpenTelemetry tracer. Metrics live on a registry passed in (never
// the global default); gauges that describe the store (queue depth, oldest
// queued task, agents by state) are read at scrape time.
package telemetry

import (
	"cmp"
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/internal/site"
)

// source is what the scrape-time gauges read.
type source interface {
	QueueStats(ctx context.Context) ([]store.QueueStat, error)
	ListAgents(ctx context.Context) ([]store.Agent, error)
}

// Metrics are the control plane's metric families.
type Metrics struct {
	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	leaseWait     prometheus.Histogram
	stageDuration *prometheus.HistogramVec
	realtime      *prometheus.HistogramVec
	downloads     *prometheus.CounterVec
	webhooks      *prometheus.CounterVec
	cache         *prometheus.CounterVec
	jobs          *prometheus.CounterVec
	auditFailed   prometheus.Counter
	rescues       prometheus.Counter
	taskFailures  *prometheus.CounterVec
}

// NewMetrics registers the families on reg. now dates the scrape-time ages.
func NewMetrics(reg prometheus.Registerer, src source, now func() time.Time) *Metrics {
	m := &Metrics{
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ytcaption_http_requests_total", Help: "HTTP requests by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ytcaption_http_request_duration_seconds", Help: "HTTP request latency by method and route pattern.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method", "route"}),
		leaseWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ytcaption_lease_wait_seconds", Help: "Time a task waited, ready, before an agent leased it.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 14),
		}),
		stageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ytcaption_stage_duration_seconds", Help: "Pipeline stage durations reported by agents, by stage, engine and model.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 14),
		}, []string{"stage", "engine", "model"}),
		realtime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ytcaption_realtime_factor", Help: "Transcription time divided by media duration, by engine and model (lower is faster).",
			Buckets: []float64{.01, .02, .05, .1, .2, .3, .5, .75, 1, 1.5, 2, 4},
		}, []string{"engine", "model"}),
		downloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ytcaption_downloads_total", Help: "Source downloads by site and outcome (success, failure).",
		}, []string{"site", "outcome"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ytcaption_webhook_attempts_total", Help: "Webhook delivery attempts by outcome (delivered, retry, failed).",
		}, []string{"outcome"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ytcaption_cache_lookups_total", Help: "Result cache lookups by result (hit, miss).",
		}, []string{"result"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ytcaption_jobs_finished_total", Help: "Jobs that reached a final status, by status.",
		}, []string{"status"}),
		auditFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ytcaption_audit_write_failures_total", Help: "Audit log entries that could not be written (the actions themselves were done).",
		}),
		rescues: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ytcaption_lease_rescues_total", Help: "Tasks taken back from agents whose lease expired (counted by the sweeping replica).",
		}),
		taskFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ytcaption_task_failures_total", Help: "Task failures agents reported, by error code (retried or final).",
		}, []string{"code"}),
	}
	reg.MustRegister(m.httpRequests, m.httpDuration, m.leaseWait, m.stageDuration, m.realtime, m.downloads,
		m.webhooks, m.cache, m.jobs, m.auditFailed, m.rescues, m.taskFailures, &stateCollector{src: src, now: now})
	for _, o := range []string{"delivered", "retry", "failed"} {
		m.webhooks.WithLabelValues(o)
	}
	for _, r := range []string{"hit", "miss"} {
		m.cache.WithLabelValues(r)
	}
	return m
}

// HTTPRequest records one served request.
func (m *Metrics) HTTPRequest(method, route string, code int, d time.Duration) {
	m.httpRequests.WithLabelValues(method, route, itoa(code)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

// LeaseWait records how long a leased task had been ready.
func (m *Metrics) LeaseWait(d time.Duration) { m.leaseWait.Observe(max(d, 0).Seconds()) }

// CacheLookup records a hit or a miss.
func (m *Metrics) CacheLookup(hit bool) {
	if hit {
		m.cache.WithLabelValues("hit").Inc()
		return
	}
	m.cache.WithLabelValues("miss").Inc()
}

// WebhookOutcome implements webhook.Outcomes.
func (m *Metrics) WebhookOutcome(outcome string) { m.webhooks.WithLabelValues(outcome).Inc() }

// AuditWriteFailed counts an audit entry that could not be written.
func (m *Metrics) AuditWriteFailed() { m.auditFailed.Inc() }

// LeaseRescued counts a task rescued from an expired lease (sweep.Sweeper.OnRescue).
func (m *Metrics) LeaseRescued(job.Task) { m.rescues.Inc() }

// JobFinished records a job's final status.
func (m *Metrics) JobFinished(status api.JobStatus) { m.jobs.WithLabelValues(string(status)).Inc() }

// TaskCompleted records what a completed task reports: stage timings, the
// real-time factor of transcription, and a successful download from site.
func (m *Metrics) TaskCompleted(sourceURL string, res api.TaskResult) {
	engine, model := res.Engine, res.Model
	for stage, secs := range res.Timings {
		m.stageDuration.WithLabelValues(stage, engine, model).Observe(secs)
	}
	if t, ok := res.Timings["transcribe"]; ok && res.Duration > 0 {
		m.realtime.WithLabelValues(engine, model).Observe(t / res.Duration)
	}
	if sourceURL != "" && res.Origin != "cache" {
		m.downloads.WithLabelValues(siteLabel(sourceURL), "success").Inc()
	}
}

// TaskFailed records a failure an agent reported, by its error code; codes
// outside the pipeline's own are counted as "other", since agents send them.
func (m *Metrics) TaskFailed(code string) {
	switch code {
	case api.CodeUnsupportedURL, api.CodeSourceNotFound, api.CodeSourcePrivate, api.CodeNoAudio, api.CodeUndecodable,
		api.CodeTooLong, api.CodeMediaTooLarge, api.CodeDownloadFailed, api.CodeTranscribeFailed, api.CodeUnsupportedLang,
		api.CodeLeaseExpired, api.CodeMaxAttempts, api.CodeCanceled, api.CodeChunkMissing:
	default:
		code = "other"
	}
	m.taskFailures.WithLabelValues(code).Inc()
}

// DownloadFailed records a failed download from site.
func (m *Metrics) DownloadFailed(sourceURL string) {
	m.downloads.WithLabelValues(siteLabel(sourceURL), "failure").Inc()
}

// siteLabel keeps the label's cardinality to sites, not URLs.
func siteLabel(sourceURL string) string { return cmp.Or(site.Of(sourceURL), "other") }

func itoa(n int) string {
	const digits = "0123456789"
	if n >= 100 && n < 1000 {
		return string([]byte{digits[n/100], digits[n/10%10], digits[n%10]})
	}
	return "other"
}

// stateCollector reads queue and fleet state at scrape time.
type stateCollector struct {
	src source
	now func() time.Time
}

var (
	descQueueDepth = prometheus.NewDesc("ytcaption_queue_depth", "Unfinished tasks by state (queued, leased).", []string{"state"}, nil)
	descQueueAge   = prometheus.NewDesc("ytcaption_queue_oldest_age_seconds",
		"Age of the oldest unfinished task by state (queued: since it became ready; leased: since its last update).", []string{"state"}, nil)
	descAgents = prometheus.NewDesc("ytcaption_agents", "Registered agents by state (idle, busy, draining, offline, revoked).", []string{"state"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descQueueDepth
	ch <- descQueueAge
	ch <- descAgents
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	now := c.now()
	if stats, err := c.src.QueueStats(ctx); err == nil {
		for _, q := range stats {
			ch <- prometheus.MustNewConstMetric(descQueueDepth, prometheus.GaugeValue, float64(q.Count), q.State)
			age := 0.0
			if !q.Oldest.IsZero() {
				age = max(now.Sub(q.Oldest).Seconds(), 0)
			}
			ch <- prometheus.MustNewConstMetric(descQueueAge, prometheus.GaugeValue, age, q.State)
		}
	}
	if agents, err := c.src.ListAgents(ctx); err == nil {
		counts := map[string]int{"idle": 0, "busy": 0, "draining": 0, "offline": 0, "revoked": 0}
		for _, a := range agents {
			counts[AgentState(a, now)]++
		}
		for s, n := range counts {
			ch <- prometheus.MustNewConstMetric(descAgents, prometheus.GaugeValue, float64(n), s)
		}
	}
}

// AgentState classifies an agent for the agents gauge.
func AgentState(a store.Agent, now time.Time) string {
	switch {
	case a.RevokedAt != nil:
		return "revoked"
	case a.Draining:
		return "draining"
	case now.Sub(a.LastSeenAt) > 2*time.Minute:
		return "offline"
	case a.ActiveTasks > 0:
		return "busy"
	}
	return "idle"
}
