// Package submit is the one way a job enters the control plane, whichever
// route it comes by (the job API, the OpenAI-compatible endpoint): it checks
// the addresses the job will reach, stores an upload, keys the result cache,
// answers from the cache when it can, creates the job with its tasks and
// metadata, and wakes the dispatchers.
package submit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/internal/netguard"
	"github.com/ytcaption/ytcaption/internal/tracing"
)

// Store is what submission reads and writes.
type Store interface {
	CreateJob(ctx context.Context, j job.Job, tasks []job.Task, meta store.JobMeta) (job.Job, bool, error)
	LookupCache(ctx context.Context, tenant, key string) (store.CacheEntry, error)
	DeleteCache(ctx context.Context, tenant, key string) error
}

// Blobs holds uploads and the transcripts cache hits point to.
type Blobs interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
}

// Notifier wakes waiting agents after work was queued.
type Notifier interface {
	Notify(ctx context.Context)
}

// Resolver looks up source and webhook hosts.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Metrics counts cache lookups and jobs born finished.
type Metrics interface {
	CacheLookup(hit bool)
	JobFinished(status api.JobStatus)
}

// Config tunes submission.
type Config struct {
	AllowPrivateSources bool
	// SourceAllowList names non-public sources accepted anyway: CIDRs,
	// addresses, or address:port pairs.
	SourceAllowList []string
	// ProbeTimeout bounds the HEAD request that keys the cache for direct
	// media URLs; default 3 s.
	ProbeTimeout time.Duration
	MaxAttempts  int // per task
}

// Deps are the collaborators of the service; Metrics, Resolver and Tracer
// may be nil.
type Deps struct {
	Store    Store
	Blobs    Blobs
	Notifier Notifier
	Resolver Resolver // nil: net.DefaultResolver
	Metrics  Metrics
	Tracer   trace.Tracer
	Now      func() time.Time
	NewID    func() string
	Log      *slog.Logger
}

// Service submits jobs.
type Service struct {
	cfg Config
	d   Deps
	// probes makes the cache key's HEAD requests, reusing connections to
	// a source's host across submissions.
	probes *http.Client
}

// New returns the service.
func New(cfg Config, d Deps) *Service {
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 3 * time.Second
	}
	if d.Resolver == nil {
		d.Resolver = net.DefaultResolver
	}
	d.Resolver = timedResolver{d.Resolver}
	if d.Metrics == nil {
		d.Metrics = noMetrics{}
	}
	if d.Tracer == nil {
		d.Tracer = noop.NewTracerProvider().Tracer("")
	}
	s := &Service{cfg: cfg, d: d}
	dial := s.policy().Dialer()
	dial.Timeout = cfg.ProbeTimeout
	s.probes = &http.Client{Timeout: cfg.ProbeTimeout, Transport: &http.Transport{
		DialContext: dial.DialContext, MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second}}
	return s
}

// Request is a job to submit.
type Request struct {
	Tenant         string
	Spec           job.Spec // as job.Normalize returns it
	IdempotencyKey string
	Upload         *Upload // the media, when sent rather than fetched
}

// Upload is media sent with the request.
type Upload struct {
	Filename string
	Size     int64
	Body     io.Reader
}

// Submit creates the job, or returns the one an earlier request with the
// same idempotency key created (created false). A job whose result is in
// the cache is born succeeded, and no task of it is ever leased.
func (s *Service) Submit(ctx context.Context, r Request) (_ job.Job, created bool, err error) {
	// The job keeps this span's context: its tasks' leases join the trace
	// under it.
	ctx, span := s.d.Tracer.Start(ctx, "submit")
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	if r.Spec.URL != "" {
		if err := s.CheckHost(ctx, r.Spec.URL); err != nil {
			return job.Job{}, false, err
		}
	}
	now := s.d.Now()
	j := job.Job{
		ID: s.d.NewID(), Tenant: r.Tenant, Status: api.JobQueued, Spec: r.Spec,
		IdempotencyKey: r.IdempotencyKey, CreatedAt: now, UpdatedAt: now,
	}
	uploadSum := sha256.New() // the cache key of an upload is its content hash
	if u := r.Upload; u != nil {
		j.Spec.Filename, j.Spec.Size, j.Spec.UploadKey = sanitizeFilename(u.Filename), u.Size, blob.UploadKey(j.ID)
		if err := s.d.Blobs.Put(ctx, j.Spec.UploadKey, io.TeeReader(u.Body, uploadSum), u.Size, "application/octet-stream"); err != nil {
			return job.Job{}, false, fmt.Errorf("store upload: %w", err)
		}
	}
	// The hash covers what the client sent, not the generated upload key.
	hashed := j.Spec
	hashed.UploadKey = ""
	j.RequestHash = hashed.Hash()
	out, created, err := s.create(ctx, j, uploadSum)
	if (err != nil || !created) && j.Spec.UploadKey != "" {
		// Refused, or an earlier request's job stands: this copy is unused.
		_ = s.d.Blobs.Delete(context.WithoutCancel(ctx), j.Spec.UploadKey)
	}
	if err != nil {
		return job.Job{}, false, err
	}
	span.SetAttributes(attribute.String("ytcaption.job_id", out.ID), attribute.Bool("ytcaption.created", created),
		attribute.String("ytcaption.job_status", string(out.Status)))
	if created && !out.Status.Final() {
		s.d.Notifier.Notify(ctx)
	}
	return out, created, nil
}

// create stores a new job, answering it from the result cache when the same
// source was captioned with the same options before, and records the job's
// cache key and trace context.
func (s *Service) create(ctx context.Context, j job.Job, uploadSum hash.Hash) (job.Job, bool, error) {
	if j.Spec.WebhookURL != "" && !s.cfg.AllowPrivateSources {
		if err := s.CheckHost(ctx, j.Spec.WebhookURL); err != nil {
			return job.Job{}, false, err
		}
	}
	key := ""
	if src := s.sourceKey(ctx, j.Spec, uploadSum); src != "" {
		key = job.CacheKey(src, j.Spec)
	}
	tasks := job.Plan(j, s.d.NewID, s.cfg.MaxAttempts)
	if key != "" && j.Spec.Cache {
		hit, ok := s.lookupCache(ctx, j.Tenant, key)
		s.d.Metrics.CacheLookup(ok)
		if ok {
			j, tasks = job.AnswerFromCache(j, tasks, hit.ResultKey, hit.Result)
			s.reuseMedia(ctx, tasks, hit.JobID)
		}
	}
	meta := store.JobMeta{CacheKey: key, Traceparent: tracing.Traceparent(ctx)}
	out, created, err := s.d.Store.CreateJob(ctx, j, tasks, meta)
	if err != nil || !created {
		return out, created, err
	}
	if out.Status.Final() {
		s.d.Metrics.JobFinished(out.Status)
	}
	return out, true, nil
}

// reuseMedia gives a job answered from the cache the playback copy of the
// job that made the cached result, when it has one (both are the tenant's),
// so the answer plays like the original did.
func (s *Service) reuseMedia(ctx context.Context, tasks []job.Task, cachedJob string) {
	key := blob.MediaKey(cachedJob)
	rc, err := s.d.Blobs.Get(ctx, key)
	if err != nil {
		return
	}
	_ = rc.Close()
	for _, t := range tasks {
		if t.Result != nil {
			t.Result.Media = &api.MediaReport{Key: key, ContentType: api.PlaybackContentType}
		}
	}
}

// lookupCache returns a usable cache entry: one whose transcript still exists.
func (s *Service) lookupCache(ctx context.Context, tenant, key string) (store.CacheEntry, bool) {
	e, err := s.d.Store.LookupCache(ctx, tenant, key)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.d.Log.Warn("cache lookup failed", "err", err)
		}
		return e, false
	}
	rc, err := s.d.Blobs.Get(ctx, e.ResultKey)
	if err != nil {
		_ = s.d.Store.DeleteCache(ctx, tenant, key)
		return e, false
	}
	_ = rc.Close()
	return e, true
}

// CheckHost refuses a URL whose host is loopback, private or otherwise not
// public (unless allowed), or that does not parse.
func (s *Service) CheckHost(ctx context.Context, raw string) error {
	if err := s.policy().CheckURL(ctx, s.d.Resolver, raw); err != nil {
		if errors.Is(err, netguard.ErrForbidden) {
			return &job.ValidationError{Code: api.CodeForbiddenSource,
				Message: "the source address is loopback, private or otherwise not public; this server does not fetch from such addresses"}
		}
		return &job.ValidationError{Code: api.CodeInvalidURL, Message: "url does not parse"}
	}
	return nil
}

// timedResolver bounds each lookup to 3 s. The bound is set around the
// lookup, not the whole check: most hosts are checked without one (an
// address, or a refused name), and a deadline's timer is not free.
type timedResolver struct{ r Resolver }

func (t timedResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return t.r.LookupNetIP(ctx, network, host)
}

func (s *Service) policy() netguard.Policy {
	return netguard.Policy{AllowPrivate: s.cfg.AllowPrivateSources, Allow: s.cfg.SourceAllowList}
}

func sanitizeFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if len(name) > 255 {
		name = name[:255]
	}
	return name
}

type noMetrics struct{}

func (noMetrics) CacheLookup(bool)          {}
func (noMetrics) JobFinished(api.JobStatus) {}
