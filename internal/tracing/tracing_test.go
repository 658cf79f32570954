package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/ytcaption/ytcaption/internal/tracing"
)

func TestTracesURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://collector:4318":             "http://collector:4318/v1/traces",
		"http://collector:4318/":            "http://collector:4318/v1/traces",
		"https://otlp.example.com/ingest/x": "https://otlp.example.com/ingest/x",
	} {
		if got, err := tracing.TracesURL(in); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"collector:4318", "grpc://collector:4317", "http://", "::"} {
		if _, err := tracing.TracesURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
		if _, _, err := tracing.NewProvider(context.Background(), bad, "x"); err == nil {
			t.Errorf("NewProvider accepted %s", bad)
		}
	}
}

// TestTraceparentRoundTrip: a span's traceparent, taken up again, makes the
// parent of the next span, as a lease hands a job's trace to an agent.
func TestTraceparentRoundTrip(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "submit")
	defer span.End()
	tpHeader := tracing.Traceparent(ctx)
	if tpHeader == "" {
		t.Fatal("no traceparent for a recording span")
	}
	_, child := tp.Tracer("t").Start(tracing.WithTraceparent(context.Background(), tpHeader), "lease")
	defer child.End()
	ro := child.(sdktrace.ReadOnlySpan)
	if ro.Parent().SpanID() != span.SpanContext().SpanID() || ro.SpanContext().TraceID() != span.SpanContext().TraceID() {
		t.Errorf("child of %v: parent %v", span.SpanContext(), ro.Parent())
	}
	for _, bad := range []string{"", "00-zz-zz-01"} {
		if sc := trace.SpanContextFromContext(tracing.WithTraceparent(context.Background(), bad)); sc.IsValid() {
			t.Errorf("%q gave a span context %v", bad, sc)
		}
	}
}

// TestTransport: calls made under a span carry its traceparent; others
// carry none, and the caller's request is left as it was.
func TestTransport(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("traceparent")
	}))
	defer srv.Close()
	hc := &http.Client{Transport: tracing.Transport(nil)}
	call := func(ctx context.Context) (string, *http.Request) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return <-got, req
	}
	if h, _ := call(context.Background()); h != "" {
		t.Errorf("no span, yet traceparent %q", h)
	}
	ctx, span := sdktrace.NewTracerProvider().Tracer("t").Start(context.Background(), "task")
	defer span.End()
	h, req := call(ctx)
	if want := tracing.Traceparent(ctx); h != want {
		t.Errorf("traceparent %q, want %q", h, want)
	}
	if req.Header.Get("traceparent") != "" {
		t.Error("the caller's request was changed")
	}
}
