package telemetry

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

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
