package worker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

const leaseTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// reportHeader makes a call as the runner reports a task, under ctx, and
// returns the traceparent the control plane received.
func reportHeader(ctx context.Context, t *testing.T) string {
	t.Helper()
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("traceparent")
	}))
	defer srv.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := propagating(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return <-got
}

// TestTraceTask: the task's span is a child of the lease's, its stages and
// upload children of it, and the report carries the task's span.
func TestTraceTask(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tr := newTracer(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	ctx, end := tr.Task(context.Background(), api.Lease{Kind: api.KindCaption, JobID: "j", TaskID: "t", Traceparent: leaseTraceparent})
	var reported []string
	progress, endStages := tr.stages(ctx, func(s string, _ float64) { reported = append(reported, s) })
	progress("download", 0.1)
	progress("download", 0.2)
	progress("transcribe", 0.5)
	endStages(errors.New("engine crashed"))
	_, endUpload := tr.Step(ctx, "upload")
	endUpload(nil)
	task := trace.SpanContextFromContext(ctx)
	if got, want := reportHeader(ctx, t), "00-"+task.TraceID().String()+"-"+task.SpanID().String()+"-01"; got != want {
		t.Errorf("report traceparent %q, want %q", got, want)
	}
	end(nil)

	if len(reported) != 3 {
		t.Errorf("progress reached the runner %d times, want 3", len(reported))
	}
	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		spans[s.Name()] = s
	}
	if len(spans) != 4 || len(rec.Ended()) != 4 {
		t.Fatalf("spans %v, want task caption and three stages", spans)
	}
	if p := spans["task caption"].Parent(); p.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || p.SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("task span's parent %v, want the lease's", p)
	}
	for _, name := range []string{"stage download", "stage transcribe", "stage upload"} {
		if s, ok := spans[name]; !ok || s.Parent().SpanID() != task.SpanID() {
			t.Errorf("%s: not a child of the task span", name)
		}
	}
	if st := spans["stage transcribe"].Status(); st.Description != "engine crashed" {
		t.Errorf("the failing stage's status %+v", st)
	}
}

// TestTraceTaskNotExported: an agent that exports nothing still reports
// under the lease's span, so the control plane's span of the report stays
// in the job's trace.
func TestTraceTaskNotExported(t *testing.T) {
	t.Parallel()
	ctx, end := newTracer(noop.NewTracerProvider()).Task(context.Background(), api.Lease{Traceparent: leaseTraceparent})
	defer end(nil)
	if got := reportHeader(ctx, t); got != leaseTraceparent {
		t.Errorf("report traceparent %q, want the lease's %q", got, leaseTraceparent)
	}
}
