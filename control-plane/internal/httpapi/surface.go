package httpapi

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
)

// SurfaceConfig tunes the developer-facing routes.
type SurfaceConfig struct {
	// OpenAIModels maps an OpenAI model name to a job model ("" is the
	// fleet's default engine); other names are refused. Default: whisper-1,
	// gpt-4o-transcribe and gpt-4o-mini-transcribe map to "".
	OpenAIModels map[string]string
	// TranscriptionTimeout bounds a synchronous transcription; default 10 min.
	TranscriptionTimeout time.Duration
	// ProbeTimeout bounds the HEAD request that keys the cache for direct
	// media URLs; default 3 s.
	ProbeTimeout time.Duration
}

func (c *SurfaceConfig) defaults() {
	if c.OpenAIModels == nil {
		c.OpenAIModels = map[string]string{"whisper-1": "", "gpt-4o-transcribe": "", "gpt-4o-mini-transcribe": ""}
	}
	if c.TranscriptionTimeout <= 0 {
		c.TranscriptionTimeout = 10 * time.Minute
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = 3 * time.Second
	}
}

// mountSurface adds the OpenAI-compatible endpoint, webhooks, /metrics and
// /openapi.json.
func (a *API) mountSurface(app *fiber.App, v1 fiber.Router) {
	app.Get("/openapi.json", a.openapi)
	app.Get("/metrics", a.obs.metricsHandler())

	v1.Post("/audio/transcriptions", a.openaiErrors, a.requireKey(auth.SubmitJobs), a.transcriptions)

	v1.Post("/webhooks/endpoints", a.requireKey(auth.SubmitJobs), a.createEndpoint)
	v1.Get("/webhooks/endpoints", a.requireKey(auth.ReadJobs), a.listEndpoints)
	v1.Delete("/webhooks/endpoints/:id", a.requireKey(auth.SubmitJobs), a.deleteEndpoint)
	v1.Get("/webhooks/deliveries", a.requireKey(auth.ReadJobs), a.listDeliveries)
	v1.Get("/webhooks/deliveries/:id", a.requireKey(auth.ReadJobs), a.getDelivery)
	v1.Post("/webhooks/deliveries/:id/redeliver", a.requireKey(auth.SubmitJobs), a.redeliver)
	v1.Get("/webhooks/secret", a.requireKey(auth.SubmitJobs), a.webhookSecret)
	v1.Post("/webhooks/secret/rotate", a.requireKey(auth.SubmitJobs), a.rotateWebhookSecret)
}
