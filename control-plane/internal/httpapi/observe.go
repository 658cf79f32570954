package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/telemetry"
)

// ObserveDeps are the API's telemetry collaborators; all optional.
type ObserveDeps struct {
	Metrics  *telemetry.Metrics
	Gatherer prometheus.Gatherer // what /metrics serves
	Tracer   trace.TracerProvider
}

type observer struct {
	metrics  *telemetry.Metrics
	gatherer prometheus.Gatherer
	tracer   trace.Tracer
}

func newObserver(d ObserveDeps) observer {
	tp := d.Tracer
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return observer{metrics: d.Metrics, gatherer: d.Gatherer, tracer: tp.Tracer(telemetry.TracerName)}
}

func (o observer) cacheLookup(hit bool) {
	if o.metrics != nil {
		o.metrics.CacheLookup(hit)
	}
}

func (o observer) jobFinished(s api.JobStatus) {
	if o.metrics != nil {
		o.metrics.JobFinished(s)
	}
}

func (o observer) metricsHandler() fiber.Handler {
	if o.gatherer == nil {
		return func(c *fiber.Ctx) error { return fiber.ErrNotFound }
	}
	return adaptor.HTTPHandler(promhttp.HandlerFor(o.gatherer, promhttp.HandlerOpts{}))
}

// headerCarrier reads trace context from a Fiber request.
type headerCarrier struct{ c *fiber.Ctx }

func (h headerCarrier) Get(k string) string { return h.c.Get(k) }
func (h headerCarrier) Set(string, string)  {}
func (h headerCarrier) Keys() []string      { return []string{"traceparent", "tracestate"} }

var _ propagation.TextMapCarrier = headerCarrier{}

// observe wraps every request in a server span (joining the caller's trace
// when it sends traceparent) and records RED metrics by route pattern. It
// runs the error handler itself so the status it records is the one sent.
func (a *API) observe(c *fiber.Ctx) error {
	start := time.Now()
	// Fiber's strings alias buffers reused after the handler: copy them.
	method := strings.Clone(c.Method())
	ctx := telemetry.Propagator().Extract(c.UserContext(), headerCarrier{c})
	ctx, span := a.obs.tracer.Start(ctx, method+" "+strings.Clone(c.Path()), trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	c.SetUserContext(ctx)
	if err := c.Next(); err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(http.StatusInternalServerError)
		}
	}
	route := c.Route().Path
	code := c.Response().StatusCode()
	if code == http.StatusNotFound && (route == "/" || route == "") {
		route = "unmatched"
	}
	span.SetName(method + " " + route)
	span.SetAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route),
		attribute.Int("http.response.status_code", code))
	if code >= 500 {
		span.SetStatus(codes.Error, http.StatusText(code))
	}
	if a.obs.metrics != nil {
		a.obs.metrics.HTTPRequest(method, route, code, time.Since(start))
	}
	return nil
}
