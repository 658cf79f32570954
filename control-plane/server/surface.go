package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"

	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
	"github.com/ytcaption/ytcaption/control-plane/internal/httpapi"
	"github.com/ytcaption/ytcaption/control-plane/internal/telemetry"
	"github.com/ytcaption/ytcaption/control-plane/internal/webhook"
	"github.com/ytcaption/ytcaption/internal/tracing"
)

// SurfaceConfig configures the developer-facing features: tracing, the
// OpenAI-compatible endpoint and webhook delivery. Zero values take defaults.
type SurfaceConfig struct {
	// OTLPEndpoint exports traces by OTLP/HTTP (e.g. http://collector:4318);
	// empty: no export. TracerProvider, if set, is used instead (tests).
	OTLPEndpoint   string
	TracerProvider trace.TracerProvider
	// OpenAIModels maps OpenAI model names to job models; see httpapi.SurfaceConfig.
	OpenAIModels         map[string]string
	TranscriptionTimeout time.Duration
	Webhooks             WebhookConfig
}

// WebhookConfig tunes webhook delivery (defaults: 10 s per attempt,
// backoff from 5 s to 1 h, retried for 24 h, outbox polled every second).
// Targets on loopback/private addresses are allowed only with
// AllowPrivateSources.
type WebhookConfig struct {
	Timeout    time.Duration
	MinBackoff time.Duration
	MaxBackoff time.Duration
	MaxAge     time.Duration
	Poll       time.Duration
}

// surface is the running developer-facing machinery of a replica.
type surface struct {
	reg     *prometheus.Registry
	metrics *telemetry.Metrics
	tracer  trace.TracerProvider
	sender  *webhook.Sender
}

func (s *Server) newSurface(ctx context.Context) error {
	c := s.cfg.Surface
	s.surface.reg = prometheus.NewRegistry()
	s.surface.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.surface.metrics = telemetry.NewMetrics(s.surface.reg, s.store, time.Now)
	s.surface.tracer = c.TracerProvider
	if s.surface.tracer == nil {
		tp, shutdown, err := tracing.NewProvider(ctx, c.OTLPEndpoint, "ytcaption")
		if err != nil {
			return err
		}
		s.surface.tracer = tp
		s.closers = append(s.closers, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return shutdown(ctx)
		})
	}
	w := c.Webhooks
	s.surface.sender = webhook.New(s.store, webhook.Config{AllowPrivate: s.cfg.AllowPrivateSources, Timeout: w.Timeout,
		MinBackoff: w.MinBackoff, MaxBackoff: w.MaxBackoff, MaxAge: w.MaxAge, Poll: w.Poll}, time.Now, s.log, s.surface.metrics)
	return nil
}

func (s *Server) surfaceAPIConfig() httpapi.SurfaceConfig {
	return httpapi.SurfaceConfig{OpenAIModels: s.cfg.Surface.OpenAIModels, TranscriptionTimeout: s.cfg.Surface.TranscriptionTimeout}
}

func (s *Server) observeDeps() httpapi.ObserveDeps {
	return httpapi.ObserveDeps{Metrics: s.surface.metrics, Gatherer: s.surface.reg, Tracer: s.surface.tracer}
}

// errWakeupsDown reports that cross-replica wake-ups are not being received.
var errWakeupsDown = errors.New("redis wake-up subscription down")

// instrument connects the replica's parts to its metrics: dependency probes
// and breakers read at scrape time, and the sweeper's lease rescues.
func (s *Server) instrument(blobs blobStore) error {
	h := telemetry.Health{
		Checks:   map[string]func(context.Context) error{"database": s.store.Ping, "object_store": blobs.Ping},
		Breakers: map[string]telemetry.Breaker{},
	}
	if s.bus != nil {
		h.Checks["redis_wakeups"] = func(context.Context) error {
			if s.bus.Healthy() {
				return nil
			}
			return errWakeupsDown
		}
	}
	if b, ok := blobs.(*blob.Breaker); ok {
		h.Breakers["object_store"] = b
	}
	s.sweeper.OnRescue = s.surface.metrics.LeaseRescued
	if err := telemetry.RegisterHealth(s.surface.reg, h); err != nil {
		return fmt.Errorf("register health metrics: %w", err)
	}
	return nil
}
