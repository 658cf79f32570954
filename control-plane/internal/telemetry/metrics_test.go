package telemetry

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

func TestLeaseRescuedCounts(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, nil, nil)
	if got := testutil.ToFloat64(m.rescues); got != 0 {
		t.Fatalf("before any rescue: %v", got)
	}
	m.LeaseRescued(job.Task{})
	m.LeaseRescued(job.Task{})
	if got := testutil.ToFloat64(m.rescues); got != 2 {
		t.Fatalf("after two rescues: %v", got)
	}
}

func TestTaskFailedBoundsCodes(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, nil, nil)
	m.TaskFailed(api.CodeDownloadFailed)
	m.TaskFailed(api.CodeDownloadFailed)
	m.TaskFailed("made-up code from a misbehaving agent")
	for code, want := range map[string]float64{api.CodeDownloadFailed: 2, "other": 1} {
		if got := testutil.ToFloat64(m.taskFailures.WithLabelValues(code)); got != want {
			t.Errorf("%s: %v, want %v", code, got, want)
		}
	}
	if n := testutil.CollectAndCount(m.taskFailures); n != 2 {
		t.Errorf("%d series, want 2", n)
	}
}

// TestLatencyHistogramHasSLOBoundary: the latency SLO (50 ms) is read from
// the le="0.05" bucket, so that boundary must exist.
func TestLatencyHistogramHasSLOBoundary(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, nil, nil)
	m.HTTPRequest("GET", "/v1/jobs/:id", 200, 40*time.Millisecond)
	m.HTTPRequest("GET", "/v1/jobs/:id", 200, 60*time.Millisecond)
	h, err := m.httpDuration.MetricVec.GetMetricWithLabelValues("GET", "/v1/jobs/:id")
	if err != nil {
		t.Fatal(err)
	}
	var out dto.Metric
	if err := h.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, b := range out.GetHistogram().GetBucket() {
		if b.GetUpperBound() == 0.05 {
			if b.GetCumulativeCount() != 1 {
				t.Fatalf("le=0.05 counts %d requests, want 1", b.GetCumulativeCount())
			}
			return
		}
	}
	t.Fatal("no le=0.05 bucket in ytcaption_http_request_duration_seconds")
}
