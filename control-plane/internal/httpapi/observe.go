package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/internal/telemetry"
	"github.com/ytcaption/ytcaption/internal/tracing"
)

// ObserveDeps are the API's telemetry collaborators; all optional.
type ObserveDeps struct {
	Metrics  *telemetry.Metrics
	Gatherer prometheus.Gatherer // what /metrics serves
	Tracer   trace.TracerProvider
}

type observer struct {
	metrics  *telemetry.Metrics
	gatherer prometheus.Gatherer
	tracer   trace.Tracer
}

func newObserver(d ObserveDeps) observer {
	tp := d.Tracer
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return observer{metrics: d.Metrics, gatherer: d.Gatherer, tracer: tp.Tracer(telemetry.TracerName)}
}

func (o observer) jobFinished(s api.JobStatus) {
	if o.metrics != nil {
		o.metrics.JobFinished(s)
	}
}

// taskCompleted counts a completed task and the job it finished, if any,
// and names them on the request's span (the agent's report, which joins
// the job's trace).
func (o observer) taskCompleted(ctx context.Context, taskID string, j job.Job, res api.TaskResult) {
	annotate(ctx, taskID, j)
	if o.metrics == nil {
		return
	}
	o.metrics.TaskCompleted(j.Spec.URL, res)
	if j.Status.Final() {
		o.metrics.JobFinished(j.Status)
	}
}

// taskFailed counts a failed download and the job a failure finished, if
// any, and names them on the request's span.
func (o observer) taskFailed(ctx context.Context, taskID string, j job.Job, code string) {
	annotate(ctx, taskID, j)
	if o.metrics == nil {
		return
	}
	o.metrics.TaskFailed(code)
	switch code {
	case api.CodeDownloadFailed, api.CodeSourceNotFound, api.CodeSourcePrivate:
		if j.Spec.URL != "" {
			o.metrics.DownloadFailed(j.Spec.URL)
		}
	}
	if j.Status.Final() {
		o.metrics.JobFinished(j.Status)
	}
}

func annotate(ctx context.Context, taskID string, j job.Job) {
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("ytcaption.task_id", taskID),
		attribute.String("ytcaption.job_id", j.ID), attribute.String("ytcaption.job_status", string(j.Status)))
}

// auditWriteFailed counts an audit entry that could not be written.
func (o observer) auditWriteFailed() {
	if o.metrics != nil {
		o.metrics.AuditWriteFailed()
	}
}

// leased records how long leased tasks had been ready.
func (o observer) leased(tasks []store.Leased, now time.Time) {
	if o.metrics == nil {
		return
	}
	for _, t := range tasks {
		o.metrics.LeaseWait(now.Sub(t.RunAt))
	}
}

// leaseTrace records a leased task in its job's trace: a span under the
// submission, from when the task became ready to its lease, linked to the
// agent's lease request. The lease carries its traceparent, so the agent's
// spans hang under it.
func (o observer) leaseTrace(ctx context.Context, t store.Leased, agentID string) string {
	opts := []trace.SpanStartOption{trace.WithLinks(trace.LinkFromContext(ctx)), trace.WithAttributes(
		attribute.String("ytcaption.job_id", t.JobID), attribute.String("ytcaption.task_id", t.ID),
		attribute.Int("ytcaption.attempt", t.Attempt), attribute.String("ytcaption.agent_id", agentID))}
	if !t.RunAt.IsZero() {
		opts = append(opts, trace.WithTimestamp(t.RunAt))
	}
	// The parent is the job's submission, not the agent's request: a job
	// without trace context starts a trace of its own here.
	parent := tracing.WithTraceparent(context.Background(), t.Traceparent)
	ctx, span := o.tracer.Start(parent, "lease "+t.Kind, opts...)
	defer span.End()
	return tracing.Traceparent(ctx)
}

func (o observer) metricsHandler() fiber.Handler {
	if o.gatherer == nil {
		return func(c *fiber.Ctx) error { return fiber.ErrNotFound }
	}
	return adaptor.HTTPHandler(promhttp.HandlerFor(o.gatherer, promhttp.HandlerOpts{}))
}

// headerCarrier reads trace context from a Fiber request.
type headerCarrier struct{ c *fiber.Ctx }

func (h headerCarrier) Get(k string) string { return h.c.Get(k) }
func (h headerCarrier) Set(string, string)  {}
func (h headerCarrier) Keys() []string      { return []string{"traceparent", "tracestate"} }

var _ propagation.TextMapCarrier = headerCarrier{}

// observe wraps every request in a server span (joining the caller's trace
// when it sends traceparent, naming it in a traceresponse header) and
// records RED metrics by route pattern. It runs the error handler itself so
// the status it records is the one sent.
func (a *API) observe(c *fiber.Ctx) error {
	start := time.Now()
	// Fiber's strings alias buffers reused after the handler: copy them.
	method := strings.Clone(c.Method())
	ctx := tracing.Propagator().Extract(c.UserContext(), headerCarrier{c})
	ctx, span := a.obs.tracer.Start(ctx, method+" "+strings.Clone(c.Path()), trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	c.SetUserContext(ctx)
	if span.IsRecording() {
		// The client learns its request's trace (W3C Trace Context Level 2).
		c.Set("traceresponse", tracing.Traceparent(ctx))
	}
	if err := c.Next(); err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(http.StatusInternalServerError)
		}
	}
	route := c.Route().Path
	code := c.Response().StatusCode()
	if code == http.StatusNotFound && (route == "/" || route == "") {
		route = "unmatched"
	}
	span.SetName(method + " " + route)
	span.SetAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route),
		attribute.Int("http.response.status_code", code))
	if code >= 500 {
		span.SetStatus(codes.Error, http.StatusText(code))
	}
	if a.obs.metrics != nil {
		a.obs.metrics.HTTPRequest(method, route, code, time.Since(start))
	}
	return nil
}
