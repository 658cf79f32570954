package worker

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

const tracerName = "github.com/ytcaption/ytcaption/agent"

// trace starts the task's span as a child of the trace context the lease
// carries, and wraps progress so each pipeline stage gets its own span. end
// closes them, recording err.
func (w *Worker) trace(ctx context.Context, l api.Lease, progress *func(string, float64)) (context.Context, func(error)) {
	tp := w.cfg.TracerProvider
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	tracer := tp.Tracer(tracerName)
	ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": l.Traceparent})
	ctx, span := tracer.Start(ctx, "task "+l.Kind, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		attribute.String("ytcaption.job_id", l.JobID), attribute.String("ytcaption.task_id", l.TaskID),
		attribute.Int("ytcaption.attempt", l.Attempt)))
	var (
		mu    sync.Mutex
		name  string
		stage trace.Span
	)
	inner := *progress
	*progress = func(s string, p float64) {
		mu.Lock()
		if s != name && s != "" {
			if stage != nil {
				stage.End()
			}
			name = s
			_, stage = tracer.Start(ctx, "stage "+s, trace.WithAttributes(attribute.String("ytcaption.stage", s)))
		}
		mu.Unlock()
		inner(s, p)
	}
	return ctx, func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if stage != nil {
			stage.End()
		}
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}
