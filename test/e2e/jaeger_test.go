package e2e_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/test/testenv"
)

// jaegerEnv names a Jaeger binary to use instead of the one
// test/env/bootstrap.sh builds into .cache/bin.
const jaegerEnv = "YTCAPTION_JAEGER"

// jaegerConfig runs Jaeger v2 all-in-one: an OTLP/HTTP receiver, in-memory
// storage and the query API, each on the loopback port given, and nothing
// else (no own metrics, no other receivers).
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: %q
    grpc:
      endpoint: %q
receivers:
  otlp:
    protocols:
      http:
        endpoint: %q
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

// jaeger is a Jaeger started for one test.
type jaeger struct {
	otlp  string // base URL of the OTLP/HTTP receiver
	query string // base URL of the query API
}

// startJaeger starts Jaeger with in-memory storage on free loopback ports
// and waits until it takes spans and answers queries. It skips the test
// when no Jaeger binary is there.
func startJaeger(t *testing.T) jaeger {
	t.Helper()
	bin := os.Getenv(jaegerEnv)
	if bin == "" {
		root, err := filepath.Abs("../..")
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(root, ".cache", "bin", "jaeger")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no Jaeger binary (%v): run test/env/bootstrap.sh, which builds it into .cache/bin, or set %s", err, jaegerEnv)
	}
	otlp, query, grpc := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
	cfg := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, jaegerConfig, query, grpc, otlp), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testenv.StartProc(t, "jaeger", testenv.ChildEnv(), bin, "--config", cfg)
	j := jaeger{otlp: "http://" + otlp, query: "http://" + query}
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyWait)
	for {
		if p.Exited() {
			t.Fatalf("jaeger exited before it was ready (%v):\n%s", p.Err(), p.Tail(100))
		}
		var c net.Conn
		resp, err := hc.Get(j.query + "/api/services")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("query API: HTTP %d", resp.StatusCode)
			} else if c, err = net.DialTimeout("tcp", otlp, 2*time.Second); err == nil {
				_ = c.Close()
				return j
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger not ready after %s: %v\n%s", readyWait, err, p.Tail(100))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jaegerSpan is a span as the query API gives it: times in microseconds,
// the parent as a CHILD_OF reference, links as FOLLOWS_FROM ones.
type jaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	StartTime int64  `json:"startTime"`
	Duration  int64  `json:"duration"`
	ProcessID string `json:"processID"`
	Tags      []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
	service string // filled in from the trace's processes
}

// parent is the span's parent in its own trace ("" for a root).
func (s jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" && r.TraceID == s.TraceID {
			return r.SpanID
		}
	}
	return ""
}

// tag is the value of the span's attribute key, formatted ("" if absent).
func (s jaegerSpan) tag(key string) string {
	for _, t := range s.Tags {
		if t.Key == key {
			return fmt.Sprint(t.Value)
		}
	}
	return ""
}

// trace reads a trace back through the query API: its spans, or none while
// Jaeger does not have it.
func (j jaeger) trace(t *testing.T, traceID string) []jaegerSpan {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(j.query + "/api/traces/" + url.PathEscape(traceID))
	if err != nil {
		t.Fatalf("read trace %s: %v", traceID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	var body struct {
		Data []struct {
			Spans     []jaegerSpan `json:"spans"`
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
			} `json:"processes"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("read trace %s: HTTP %d", traceID, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("read trace %s: %v", traceID, err)
	}
	var spans []jaegerSpan
	for _, d := range body.Data {
		for _, s := range d.Spans {
			s.service = d.Processes[s.ProcessID].ServiceName
			spans = append(spans, s)
		}
	}
	return spans
}
