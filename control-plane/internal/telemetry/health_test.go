package telemetry

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type breakerState struct {
	open  bool
	trips uint64
}

func (b breakerState) Open() bool    { return b.open }
func (b breakerState) Trips() uint64 { return b.trips }

func TestHealthReportsProbesAndBreakers(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	err := RegisterHealth(reg, Health{
		Checks: map[string]func(context.Context) error{
			"database":     func(context.Context) error { return nil },
			"object_store": func(context.Context) error { return errors.New("connection refused") },
			// A hung probe must not hold the scrape past its own timeout.
			"redis_wakeups": func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
		},
		Breakers: map[string]Breaker{"object_store": breakerState{open: true, trips: 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP ytcaption_circuit_breaker_open 1 while the circuit breaker refuses calls (open or half-open), else 0.
# TYPE ytcaption_circuit_breaker_open gauge
ytcaption_circuit_breaker_open{breaker="object_store"} 1
# HELP ytcaption_circuit_breaker_trips_total Times the circuit breaker has opened.
# TYPE ytcaption_circuit_breaker_trips_total counter
ytcaption_circuit_breaker_trips_total{breaker="object_store"} 3
# HELP ytcaption_dependency_up 1 when the dependency answered this scrape's probe, 0 when it did not.
# TYPE ytcaption_dependency_up gauge
ytcaption_dependency_up{dependency="database"} 1
ytcaption_dependency_up{dependency="object_store"} 0
ytcaption_dependency_up{dependency="redis_wakeups"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
