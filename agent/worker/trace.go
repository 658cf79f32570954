package worker

import (
	"context"
	"net/http"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/tracing"
)

const tracerName = "github.com/ytcaption/ytcaption/agent"

// tracer follows tasks in OpenTelemetry spans (runner.Tracer): a span per
// task under the lease's span in the job's trace, and one per pipeline
// stage and per upload under it.
type tracer struct{ t trace.Tracer }

func newTracer(tp trace.TracerProvider) tracer { return tracer{tp.Tracer(tracerName)} }

// Task starts the task's span as a child of the trace context the lease
// carries.
func (tr tracer) Task(ctx context.Context, l api.Lease) (context.Context, func(error)) {
	ctx = tracing.WithTraceparent(ctx, l.Traceparent)
	ctx, span := tr.t.Start(ctx, "task "+l.Kind, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		attribute.String("ytcaption.job_id", l.JobID), attribute.String("ytcaption.task_id", l.TaskID),
		attribute.Int("ytcaption.attempt", l.Attempt)))
	return ctx, func(err error) { endSpan(span, err) }
}

// Step starts the span of one stage of ctx's task.
func (tr tracer) Step(ctx context.Context, stage string) (context.Context, func(error)) {
	ctx, span := tr.t.Start(ctx, "stage "+stage, trace.WithAttributes(attribute.String("ytcaption.stage", stage)))
	return ctx, func(err error) { endSpan(span, err) }
}

// stages wraps progress so that each pipeline stage it reports gets a span
// under ctx's task; end closes the last one with the pipeline's outcome.
func (tr tracer) stages(ctx context.Context, progress func(string, float64)) (_ func(string, float64), end func(error)) {
	var (
		mu        sync.Mutex
		name      string
		stopStage = func(error) {}
	)
	return func(s string, p float64) {
			mu.Lock()
			if s != name && s != "" {
				stopStage(nil)
				name = s
				_, stopStage = tr.Step(ctx, s)
			}
			mu.Unlock()
			progress(s, p)
		}, func(err error) {
			mu.Lock()
			defer mu.Unlock()
			stopStage(err)
		}
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// propagating returns a copy of hc (nil: a default client) that sends the
// trace context of each call's context, so the control plane's span of a
// task's report joins the task's trace.
func propagating(hc *http.Client) *http.Client {
	cp := http.Client{}
	if hc != nil {
		cp = *hc
	}
	cp.Transport = tracing.Transport(cp.Transport)
	return &cp
}
