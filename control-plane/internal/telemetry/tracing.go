package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracerName names the control plane's tracer.
const TracerName = "github.com/ytcaption/ytcaption/control-plane"

// Propagator carries W3C trace context (traceparent) in headers and leases.
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// NewTracerProvider returns an OTLP/HTTP-exporting provider when endpoint
// is set (e.g. "http://otel-collector:4318"), else a no-op one. shutdown
// flushes pending spans.
func NewTracerProvider(ctx context.Context, endpoint, service string) (trace.TracerProvider, func(context.Context) error, error) {
	if endpoint == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, nil, fmt.Errorf("otlp exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))))
	return tp, tp.Shutdown, nil
}

// Traceparent returns the W3C traceparent of ctx's span ("" if none).
func Traceparent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	Propagator().Inject(ctx, c)
	return c["traceparent"]
}
