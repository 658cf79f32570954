package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/internal/telemetry"
	"github.com/ytcaption/ytcaption/internal/netguard"
	"github.com/ytcaption/ytcaption/internal/site"
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

// createJob stores a new job, answering it from the result cache when the
// same source was captioned with the same options before, and records the
// job's cache key and trace context.
func (a *API) createJob(ctx context.Context, j job.Job, uploadSum hash.Hash) (job.Job, bool, error) {
	if j.Spec.WebhookURL != "" && !a.cfg.AllowPrivateSources {
		if err := a.checkHost(ctx, j.Spec.WebhookURL); err != nil {
			return job.Job{}, false, err
		}
	}
	key := ""
	if src := a.sourceKey(ctx, j.Spec, uploadSum); src != "" {
		key = cacheKey(src, j.Spec)
	}
	tasks := job.Plan(j, a.newID, a.cfg.RetryPolicy.MaxAttempts)
	if key != "" && j.Spec.Cache {
		hit, ok := a.lookupCache(ctx, j.Tenant, key)
		a.obs.cacheLookup(ok)
		if ok {
			// The job is born succeeded: no task is ever leased.
			res := hit.Result
			res.Key = hit.ResultKey
			tasks[0].State, tasks[0].Result, tasks[0].Progress = job.TaskSucceeded, &res, 1
			j.ResultKey = hit.ResultKey
			j.Result = &api.JobResult{Cached: true, Language: res.Language, Duration: res.Duration, Engine: res.Engine,
				Model: res.Model, Title: res.Title, Origin: res.Origin, Segments: res.Segments, Words: res.Words}
			j.Stage = "cache"
		}
	}
	meta := store.JobMeta{CacheKey: key, Traceparent: telemetry.Traceparent(ctx)}
	out, created, err := a.store.CreateJob(ctx, j, tasks, meta)
	if err != nil || !created {
		return out, created, err
	}
	if out.Status.Final() {
		a.obs.jobFinished(out.Status)
	}
	return out, true, nil
}

// lookupCache returns a usable cache entry: one whose transcript still exists.
func (a *API) lookupCache(ctx context.Context, tenant, key string) (store.CacheEntry, bool) {
	e, err := a.store.LookupCache(ctx, tenant, key)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			a.log.Warn("cache lookup failed", "err", err)
		}
		return e, false
	}
	rc, err := a.blobs.Get(ctx, e.ResultKey)
	if err != nil {
		_ = a.store.DeleteCache(ctx, tenant, key)
		return e, false
	}
	_ = rc.Close()
	return e, true
}

// sourceKey names the media a job reads, independent of how it was spelled:
// a YouTube video id, the SHA-256 of an uploaded file, or, for other URLs,
// the normalized URL plus the validators a HEAD request returns (ETag, or
// Last-Modified with Content-Length). "" means not cacheable: a direct URL
// whose server gives no validator could change behind the same URL.
func (a *API) sourceKey(ctx context.Context, s job.Spec, uploadSum hash.Hash) string {
	if s.UploadKey != "" {
		if uploadSum == nil {
			return ""
		}
		return "sha256:" + hex.EncodeToString(uploadSum.Sum(nil))
	}
	if id := site.YouTubeID(s.URL); id != "" {
		return "youtube:" + id
	}
	norm := NormalizeURL(s.URL)
	if norm == "" {
		return ""
	}
	v := a.probe(ctx, s.URL)
	if v == "" {
		return ""
	}
	return "url:" + norm + "|" + v
}

// probe returns the validators of a direct media URL, or "".
func (a *API) probe(ctx context.Context, raw string) string {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Surface.ProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, raw, nil)
	if err != nil {
		return ""
	}
	d := netguard.Policy{AllowPrivate: a.cfg.AllowPrivateSources, Allow: a.cfg.SourceAllowList}.Dialer()
	d.Timeout = a.cfg.Surface.ProbeTimeout
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: a.cfg.Surface.ProbeTimeout}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		return ""
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return ""
	}
	if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		return "etag:" + et
	}
	if lm, cl := resp.Header.Get("Last-Modified"), resp.Header.Get("Content-Length"); lm != "" && cl != "" {
		return "lm:" + lm + "|len:" + cl
	}
	return ""
}

// cacheKey combines a source key with the options that change a transcript.
func cacheKey(source string, s job.Spec) string {
	h := sha256.New()
	for _, part := range []string{source, s.Language, s.Task, s.Model, s.Captions} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// YouTubeID extracts the video id from the usual YouTube URL shapes.
func YouTubeID(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	host := strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
	valid := func(id string) string {
		if len(id) != 11 {
			return ""
		}
		for _, r := range id {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return ""
			}
		}
		return id
	}
	switch host {
	case "youtu.be":
		return valid(strings.Trim(u.Path, "/"))
	case "youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com":
		if u.Path == "/watch" {
			return valid(u.Query().Get("v"))
		}
		for _, p := range []string{"/shorts/", "/embed/", "/live/", "/v/"} {
			if rest, ok := strings.CutPrefix(u.Path, p); ok {
				return valid(strings.Trim(rest, "/"))
			}
		}
	}
	return ""
}

// NormalizeURL lower-cases scheme and host, drops default ports and the
// fragment, and sorts the query, so spellings of one URL compare equal.
func NormalizeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	u.Host = host
	if port != "" {
		u.Host = net.JoinHostPort(host, port)
	}
	u.Fragment, u.RawFragment = "", ""
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := q[k]
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
	}
	u.RawQuery = strings.Join(parts, "&")
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String()
}
