// Package httpapi is the control plane's HTTP surface (Fiber): the public job
// API, the agent protocol, the fleet and key administration routes, health
// and readiness. It authenticates callers, validates input, and maps every
// error to one status and stable code; the work itself is delegated to the
// submit service, the store (each group of routes through its own small
// interface), the key and agent lookups, the dispatcher and the blob store.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	segjson "github.com/segmentio/encoding/json"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/internal/submit"
)

// Blobs is the artifact storage the API needs: uploads and transcripts
// (submit.Blobs), and presigned URLs for agents.
type Blobs interface {
	submit.Blobs
	PresignPut(ctx context.Context, key string, ttl time.Duration) (api.Presigned, error)
	PresignGet(ctx context.Context, key string, ttl time.Duration) (api.Presigned, error)
}

// Dispatcher answers lease long-polls.
type Dispatcher interface {
	Lease(ctx context.Context, agentID string, caps api.Capabilities, max int, wait time.Duration) ([]store.Leased, error)
	// Took tells of a lease made outside Lease (a completion's next tasks)
	// that took n of the max tasks asked.
	Took(n, max int)
}

// Notifier wakes waiting agents after work was queued.
type Notifier interface {
	Notify(ctx context.Context)
}

// Config tunes the API.
type Config struct {
	AllowPrivateSources bool
	// SourceAllowList names non-public sources accepted anyway: CIDRs,
	// addresses, or address:port pairs.
	SourceAllowList []string
	MaxUploadBytes  int64 // multipart uploads; default 512 MiB
	// MaxArtifactBytes caps a pushed model or tool; default
	// MaxArtifactSize. Its bytes bypass the API's body limit: they stream
	// to the blob store (blobstream.go).
	MaxArtifactBytes int64
	// KeyRate and TenantRate cap requests a second per API key and per
	// tenant (0: no limit); MaxUnfinished caps a tenant's queued and running
	// jobs (0: no cap).
	KeyRate, TenantRate int
	MaxUnfinished       int
	MaxJSONBytes        int           // JSON bodies; default 1 MiB
	MaxDuration         time.Duration // longest media accepted; default 4 h
	LeaseDuration       time.Duration // reported to agents
	HeartbeatInterval   time.Duration // reported to agents
	MaxLeaseWait        time.Duration
	PresignTTL          time.Duration // lifetime of URLs handed to agents; default 12 h
	RetryPolicy         job.RetryPolicy
	// BlobHandler, if set, serves the local blob store's presigned URLs
	// under /v1/blobs/.
	BlobHandler http.Handler
	// Ready checks back /readyz; a failing check makes it 503.
	Ready map[string]func(context.Context) error
	// Fleet is the Nomad view behind /v1/fleet; nil without Nomad.
	Fleet Fleet
	// Degraded reports optional parts that may fail without making the
	// replica unready (e.g. Redis wake-ups: dispatch falls back to polling);
	// each returns "" when healthy, else what is degraded.
	Degraded map[string]func() string
	// Surface tunes the OpenAI-compatible endpoint and the result cache.
	Surface SurfaceConfig
	// AgentTokenTTL is the lifetime of agent tokens (registration and
	// renewal); default 24 h.
	AgentTokenTTL time.Duration
	// AgentClientCert makes the /v1/agent/ routes require a client
	// certificate verified by the TLS layer (agentcert.go).
	AgentClientCert bool
}

// API holds the handlers' dependencies. Each group of routes reaches the
// store through its own small interface.
type API struct {
	cfg       Config
	jobs      jobStore
	eventLog  eventLog
	protocol  protocolStore
	admin     adminStore
	hooks     webhookStore
	rollups   statsStore
	auditLog  auditStore
	artifacts artifactStore
	fresh     statsCache // recent statistics, for streams
	keys      Keys
	agents    Agents
	submit    *submit.Service
	blobs     Blobs
	dispatch  Dispatcher
	notify    Notifier
	console   Console
	limiter   RateLimiter
	now       func() time.Time
	log       *slog.Logger
	obs       observer
}

// Store is everything the routes read and write; store.Store satisfies it.
type Store interface {
	jobStore
	eventLog
	protocolStore
	adminStore
	webhookStore
	statsStore
	auditStore
	artifactStore
	submit.Store
	keyStore
	agentStore
}

// Deps are the collaborators of the API.
type Deps struct {
	Store      Store
	Blobs      Blobs
	Dispatcher Dispatcher
	Notifier   Notifier
	Resolver   submit.Resolver // nil: net.DefaultResolver
	Now        func() time.Time
	NewID      func() string
	// Console, if set, is served under /console/, and its session cookies
	// authenticate API requests that carry no Authorization header.
	Console Console
	// Limiter enforces KeyRate and TenantRate (nil: no rate limits).
	Limiter RateLimiter
	// Telemetry: metrics (nil: none), /metrics contents and tracing.
	Observe ObserveDeps
	// Keys and Agents serve the lookups behind every request, possibly from
	// caches, and make every change to keys and agents (nil: Store, uncached).
	Keys   Keys
	Agents Agents
}

// SessionVerifier checks console session cookies.
type SessionVerifier interface {
	// Session returns the API key id behind the request's session cookie and
	// whether the request carries that session's CSRF token; ok is false
	// when there is no valid session.
	Session(c *fiber.Ctx) (keyID string, csrf, ok bool)
}

// Console is the operator console.
type Console interface {
	SessionVerifier
	// Mount adds the console's routes to the /console group; verify checks
	// an API key exactly as the API does.
	Mount(r fiber.Router, verify func(ctx context.Context, key string) (auth.Principal, error))
}

// New builds the API.
func New(cfg Config, d Deps, log *slog.Logger) *API {
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = 512 << 20
	}
	if cfg.MaxJSONBytes <= 0 {
		cfg.MaxJSONBytes = 1 << 20
	}
	if cfg.MaxArtifactBytes <= 0 {
		cfg.MaxArtifactBytes = MaxArtifactSize
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = 4 * time.Hour
	}
	if cfg.PresignTTL <= 0 {
		cfg.PresignTTL = 12 * time.Hour
	}
	if cfg.RetryPolicy.MaxAttempts == 0 {
		cfg.RetryPolicy = job.DefaultRetryPolicy()
	}
	if cfg.AgentTokenTTL <= 0 {
		cfg.AgentTokenTTL = DefaultAgentTokenTTL
	}
	cfg.Surface.defaults()
	if d.Keys == nil {
		d.Keys = uncachedKeys{d.Store}
	}
	if d.Agents == nil {
		d.Agents = uncachedAgents{d.Store}
	}
	var m submit.Metrics
	if d.Observe.Metrics != nil {
		m = d.Observe.Metrics
	}
	obs := newObserver(d.Observe)
	sub := submit.New(submit.Config{AllowPrivateSources: cfg.AllowPrivateSources, SourceAllowList: cfg.SourceAllowList,
		ProbeTimeout: cfg.Surface.ProbeTimeout, MaxAttempts: cfg.RetryPolicy.MaxAttempts},
		submit.Deps{Store: d.Store, Blobs: d.Blobs, Notifier: d.Notifier, Resolver: d.Resolver, Metrics: m,
			Tracer: obs.tracer, Now: d.Now, NewID: d.NewID, Log: log})
	return &API{cfg: cfg, jobs: d.Store, eventLog: d.Store, protocol: d.Store, admin: d.Store, hooks: d.Store, rollups: d.Store, auditLog: d.Store, artifacts: d.Store,
		keys: d.Keys, agents: d.Agents, submit: sub, blobs: d.Blobs, dispatch: d.Dispatcher, notify: d.Notifier,
		console: d.Console, limiter: d.Limiter, now: d.Now, log: log, obs: obs}
}

// App returns the Fiber application with every route mounted.
func (a *API) App() *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:               "ytcaption",
		DisableStartupMessage: true,
		BodyLimit:             int(a.bodyLimit()),
		ErrorHandler:          errorHandler(a.log),
		ReadTimeout:           5 * time.Minute,
		IdleTimeout:           2 * time.Minute,
		// Long-polls hold a request for up to MaxLeaseWait.
		WriteTimeout: a.cfg.MaxLeaseWait + time.Minute,
		// Bodies arrive as streams; bufferBody reads every one but the
		// local blob store's PUTs, which stream to disk (blobstream.go).
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		// segmentio's encoder writes what encoding/json writes, byte for
		// byte (FuzzResponseEncoding), in half the time.
		JSONEncoder: segjson.Marshal,
	})
	app.Use(recover.New())
	app.Use(a.bufferBody)
	app.Use(a.deadline)
	app.Use(a.logRequest)
	app.Use(a.observe)
	app.Use(a.agentClientCert)
	app.Use(a.audit)

	app.Get("/healthz", a.healthz)
	app.Get("/readyz", a.readyz)
	if a.console != nil {
		a.console.Mount(app.Group("/console"), a.verifyLogin)
	}

	v1 := app.Group("/v1")
	v1.Post("/jobs", a.requireKey(auth.SubmitJobs), a.submitJob)
	v1.Get("/jobs", a.requireKey(auth.ReadJobs), a.listJobs)
	v1.Get("/jobs/:id", a.requireKey(auth.ReadJobs), a.getJob)
	v1.Post("/jobs/:id/cancel", a.requireKey(auth.CancelJobs), a.cancelJob)
	v1.Post("/jobs/:id/retry", a.requireKey(auth.SubmitJobs), a.retryJob)
	v1.Get("/jobs/:id/tasks", a.requireKey(auth.ReadJobs), a.jobTasks)
	v1.Get("/jobs/:id/captions", a.requireKey(auth.ReadJobs), a.captions)
	v1.Get("/jobs/:id/events", a.requireKey(auth.ReadJobs), a.events)
	v1.Get("/jobs/:id/media", a.requireKey(auth.ReadJobs), a.media)
	v1.Get("/stats", a.requireKey(auth.ReadJobs), a.stats)
	v1.Get("/stats/stream", a.requireKey(auth.ReadJobs), a.statsStream)

	v1.Post("/keys", a.requireKey(auth.ManageKeys), a.createKey)
	v1.Get("/keys", a.requireKey(auth.ManageKeys), a.listKeys)
	v1.Post("/keys/:id/revoke", a.requireKey(auth.ManageKeys), a.revokeKey)
	v1.Put("/tenants/:name/share", a.requireKey(auth.ManageKeys), a.setTenantShare)
	v1.Get("/tenants", a.requireKey(auth.ManageKeys), a.listTenants)
	v1.Get("/audit", a.requireKey(auth.ManageKeys), a.listAudit)

	v1.Post("/artifacts", a.requireKey(auth.ManageArtifacts), a.pushArtifact)
	v1.Get("/artifacts", a.requireKey(auth.ReadJobs), a.listArtifacts)
	v1.Post("/artifacts/:id/commit", a.requireKey(auth.ManageArtifacts), a.commitArtifact)
	v1.Delete("/artifacts/:id", a.requireKey(auth.ManageArtifacts), a.deleteArtifact)

	v1.Post("/agents/enrollments", a.requireKey(auth.ManageFleet), a.createEnrollment)
	v1.Get("/agents/enrollments", a.requireKey(auth.ManageFleet), a.listEnrollments)
	v1.Post("/agents/enrollments/:id/revoke", a.requireKey(auth.ManageFleet), a.revokeEnrollment)
	v1.Get("/agents", a.requireKey(auth.ManageFleet), a.listAgents)
	v1.Post("/agents/:id/:action", a.requireKey(auth.ManageFleet), a.agentAction)
	a.mountFleet(v1)
	a.mountSurface(app, v1)

	v1.Post("/agent/register", a.register)
	v1.Post("/agent/renew", a.requireAgent, a.renew)
	v1.Post("/agent/lease", a.requireAgent, a.lease)
	v1.Post("/agent/tasks/:id/heartbeat", a.requireAgent, a.heartbeat)
	v1.Post("/agent/tasks/:id/uploads", a.requireAgent, a.uploads)
	v1.Post("/agent/tasks/:id/complete", a.requireAgent, a.complete)
	v1.Post("/agent/tasks/:id/fail", a.requireAgent, a.fail)
	v1.Post("/agent/tasks/:id/release", a.requireAgent, a.release)
	v1.Get("/agent/artifacts", a.requireAgent, a.agentArtifacts)

	if a.cfg.BlobHandler != nil {
		app.Put("/v1/blobs/*", a.streamBlobPut)
		app.All("/v1/blobs/*", adaptor.HTTPHandler(a.cfg.BlobHandler))
	}
	app.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
	return app
}

// requestTimeout bounds ordinary requests, so a stuck backend turns into a
// 503 instead of a hung client.
const requestTimeout = 15 * time.Second

// deadline gives every request a context with a time limit fitting its
// route: long-polls hold up to MaxLeaseWait, uploads stream large bodies.
func (a *API) deadline(c *fiber.Ctx) error {
	d := requestTimeout
	switch p := c.Path(); {
	case p == api.PathAgentLease:
		d = a.cfg.MaxLeaseWait + requestTimeout
	case p == PathTranscriptions:
		d = a.cfg.Surface.TranscriptionTimeout + time.Minute
	case p == api.PathJobs && c.Method() == fiber.MethodPost:
		d = 10 * time.Minute
	case strings.HasPrefix(p, "/v1/blobs/"):
		d = 30 * time.Minute
	case strings.HasPrefix(p, api.PathArtifacts+"/") && strings.HasSuffix(p, "/commit"):
		d = artifactCommitTimeout
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), d)
	defer cancel()
	c.SetUserContext(ctx)
	return c.Next()
}

// logRequest writes one debug line per request: route, status, time. The
// query string is left out: presigned URLs carry their signature there.
func (a *API) logRequest(c *fiber.Ctx) error {
	if !a.log.Enabled(c.UserContext(), slog.LevelDebug) {
		return c.Next()
	}
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		status, _ = mapError(err)
	}
	a.log.Debug("request", "method", c.Method(), "path", c.Path(), "status", status, "took", time.Since(start))
	return err
}

func (a *API) healthz(c *fiber.Ctx) error {
	return c.JSON(api.Health{Status: "ok"})
}

func (a *API) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
	defer cancel()
	h := api.Health{Status: "ok", Checks: map[string]string{}}
	for name, check := range a.cfg.Ready {
		if err := check(ctx); err != nil {
			h.Status = "unavailable"
			h.Checks[name] = "failing"
			a.log.Warn("readiness check failed", "check", name, "err", err)
			continue
		}
		h.Checks[name] = "ok"
	}
	for name, check := range a.cfg.Degraded {
		h.Checks[name] = "ok"
		if msg := check(); msg != "" {
			h.Checks[name] = "degraded: " + msg
		}
	}
	if h.Status != "ok" {
		return c.Status(http.StatusServiceUnavailable).JSON(h)
	}
	return c.JSON(h)
}

// decodeJSON reads a bounded JSON body into v.
func (a *API) decodeJSON(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(body) > a.cfg.MaxJSONBytes {
		return errorf(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "JSON body larger than the limit")
	}
	if len(body) == 0 {
		return nil
	}
	if err := strictUnmarshal(body, v); err != nil {
		return badRequest("invalid JSON body: " + err.Error())
	}
	return nil
}
