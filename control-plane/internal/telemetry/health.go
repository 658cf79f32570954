package telemetry

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Breaker is a circuit breaker whose state the metrics report.
type Breaker interface {
	Open() bool    // refusing calls (open or half-open)
	Trips() uint64 // times it has opened since the process started
}

// Health describes the replica's dependencies at scrape time.
type Health struct {
	// Checks are named dependency probes (database, object_store,
	// redis_wakeups, ...), each reported as ytcaption_dependency_up.
	Checks map[string]func(context.Context) error
	// Breakers are named circuit breakers (object_store, ...).
	Breakers map[string]Breaker
}

var (
	descDependencyUp = prometheus.NewDesc("ytcaption_dependency_up",
		"1 when the dependency answered this scrape's probe, 0 when it did not.", []string{"dependency"}, nil)
	descBreakerOpen = prometheus.NewDesc("ytcaption_circuit_breaker_open",
		"1 while the circuit breaker refuses calls (open or half-open), else 0.", []string{"breaker"}, nil)
	descBreakerTrips = prometheus.NewDesc("ytcaption_circuit_breaker_trips_total",
		"Times the circuit breaker has opened.", []string{"breaker"}, nil)
)

// probeTimeout bounds each probe so that a hung dependency still leaves the
// scrape time to answer (Prometheus's default scrape timeout is 10 s).
const probeTimeout = 2 * time.Second

// RegisterHealth registers the collector of h on reg.
func RegisterHealth(reg prometheus.Registerer, h Health) error {
	return reg.Register(healthCollector(h))
}

type healthCollector Health

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDependencyUp
	ch <- descBreakerOpen
	ch <- descBreakerTrips
}

// Collect probes every dependency at once, so one slow probe costs the
// scrape its own timeout only.
func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	for name, check := range c.Checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
			defer cancel()
			up := 1.0
			if check(ctx) != nil {
				up = 0
			}
			ch <- prometheus.MustNewConstMetric(descDependencyUp, prometheus.GaugeValue, up, name)
		})
	}
	for name, b := range c.Breakers {
		open := 0.0
		if b.Open() {
			open = 1
		}
		ch <- prometheus.MustNewConstMetric(descBreakerOpen, prometheus.GaugeValue, open, name)
		ch <- prometheus.MustNewConstMetric(descBreakerTrips, prometheus.CounterValue, float64(b.Trips()), name)
	}
	wg.Wait()
}
