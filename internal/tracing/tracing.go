// Package tracing is the OpenTelemetry setup the control plane and the agent
// share: a tracer provider that exports by OTLP/HTTP, and the W3C trace
// context (traceparent) that carries one job's trace from the submitting
// request through the store and the lease to the agent and back.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// tracesPath is where an OTLP/HTTP receiver takes spans.
const tracesPath = "/v1/traces"

// NewProvider returns a provider that exports spans by OTLP/HTTP to
// endpoint, else (endpoint "") a no-op one. endpoint is a receiver's base
// URL such as "http://otel-collector:4318", to which /v1/traces is
// appended, or a full URL with its own path. shutdown flushes pending
// spans.
func NewProvider(ctx context.Context, endpoint, service string) (trace.TracerProvider, func(context.Context) error, error) {
	if endpoint == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	traces, err := TracesURL(endpoint)
	if err != nil {
		return nil, nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(traces))
	if err != nil {
		return nil, nil, fmt.Errorf("otlp exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))))
	return tp, tp.Shutdown, nil
}

// TracesURL is where spans for endpoint go: its /v1/traces unless it has
// a path of its own. It refuses what is not an http(s) URL with a host.
func TracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("otlp endpoint %q: want http(s)://host:port", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = tracesPath
	}
	return u.String(), nil
}

// Propagator carries W3C trace context (traceparent) in headers and leases.
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// Traceparent returns the W3C traceparent of ctx's span ("" if none).
func Traceparent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	Propagator().Inject(ctx, c)
	return c["traceparent"]
}

// WithTraceparent returns ctx with the remote span that traceparent names
// as its parent; an empty or malformed traceparent leaves ctx as it is.
func WithTraceparent(ctx context.Context, traceparent string) context.Context {
	return Propagator().Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// Transport sends the trace context of each request's context in its
// headers, so the server's span of the call joins the caller's trace.
func Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return transport{base}
}

type transport struct{ base http.RoundTripper }

func (t transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if trace.SpanContextFromContext(r.Context()).IsValid() {
		r = r.Clone(r.Context()) // a RoundTripper must not change the caller's request
		Propagator().Inject(r.Context(), propagation.HeaderCarrier(r.Header))
	}
	return t.base.RoundTrip(r)
}
