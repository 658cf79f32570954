package store

import (
	"context"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// DevSurface is what the developer-facing features persist: the job event
// log behind server-sent events, per-job metadata (cache key, trace
// context), the result cache, and the webhook outbox. Backends write job
// events, webhook deliveries and cache entries in the same transaction that
// changes the job, so none is lost or invented by a crash.
type DevSurface interface {
	// JobEvents returns a job's events with Seq > after, oldest first, at
	// most limit (0: 100). Seq starts at 1 and has no gaps.
	JobEvents(ctx context.Context, jobID string, after int64, limit int) ([]JobEvent, error)

	// GetJobMeta returns what CreateJob recorded of a job's cache key and
	// trace context (ErrNotFound when none was recorded).
	GetJobMeta(ctx context.Context, jobID string) (JobMeta, error)
	// LookupCache returns the newest result for a tenant's cache key
	// (ErrNotFound on a miss). Entries are written when a job with a cache
	// key succeeds.
	LookupCache(ctx context.Context, tenant, key string) (CacheEntry, error)
	// DeleteCache drops an entry whose transcript is gone.
	DeleteCache(ctx context.Context, tenant, key string) error

	CreateWebhookEndpoint(ctx context.Context, e WebhookEndpoint) error
	ListWebhookEndpoints(ctx context.Context, tenant string) ([]WebhookEndpoint, error)
	// DeleteWebhookEndpoint removes one (ErrNotFound if the tenant has no such endpoint).
	DeleteWebhookEndpoint(ctx context.Context, tenant, id string) error

	// WebhookSecrets returns the tenant's signing secrets, newest first. A
	// tenant without one gets candidate stored as its first secret.
	WebhookSecrets(ctx context.Context, tenant, candidate string, now time.Time) ([]WebhookSecret, error)
	// RotateWebhookSecret makes secret the current one and keeps only the
	// one before it, so receivers can switch over; it returns the secrets
	// newest first.
	RotateWebhookSecret(ctx context.Context, tenant, secret string, now time.Time) ([]WebhookSecret, error)

	// ClaimWebhookDeliveries takes up to limit pending deliveries due at now
	// and hides them from other claimers until until (a crashed sender's
	// claims come back then).
	ClaimWebhookDeliveries(ctx context.Context, now, until time.Time, limit int) ([]WebhookDelivery, error)
	// RecordWebhookAttempt logs an attempt and sets the delivery's status
	// and next attempt (nil when it is final).
	RecordWebhookAttempt(ctx context.Context, a WebhookAttempt, status string, next *time.Time) error
	// ListWebhookDeliveries returns deliveries newest first, with attempts.
	ListWebhookDeliveries(ctx context.Context, f DeliveryFilter) ([]WebhookDelivery, error)
	// GetWebhookDelivery returns one delivery with its attempts; tenant "" matches any.
	GetWebhookDelivery(ctx context.Context, tenant, id string) (WebhookDelivery, error)
	// RedeliverWebhook makes a delivery pending again, due at now, with a
	// fresh retry window.
	RedeliverWebhook(ctx context.Context, tenant, id string, now time.Time) (WebhookDelivery, error)

	// QueueStats counts unfinished tasks by state, with the oldest one's time
	// (RunAt for queued tasks, lease start for leased ones).
	QueueStats(ctx context.Context) ([]QueueStat, error)
}

// JobEvent is one change of a job's status, stage or progress.
type JobEvent struct {
	JobID    string
	Seq      int64
	Status   api.JobStatus
	Stage    string
	Progress float64
	Job      api.Job // the job as it was after the change
	At       time.Time
}

// JobMeta is what the API remembers about a job beyond its spec.
type JobMeta struct {
	JobID       string
	Tenant      string
	CacheKey    string // "" when the job's result is not cacheable
	Traceparent string // W3C trace context of the submission
}

// CacheEntry is a cached transcript.
type CacheEntry struct {
	Tenant    string
	Key       string
	JobID     string
	ResultKey string // blob key of the transcript
	Result    api.Result
	CreatedAt time.Time
}

// WebhookEndpoint is a tenant's default webhook target.
type WebhookEndpoint struct {
	ID        string
	Tenant    string
	URL       string
	Events    []string
	CreatedAt time.Time
}

// WebhookSecret is a tenant's HMAC signing secret (kept in clear: signing needs it).
type WebhookSecret struct {
	Tenant    string
	Secret    string
	CreatedAt time.Time
}

// WebhookDelivery is one event for one target.
type WebhookDelivery struct {
	ID            string
	Tenant        string
	EndpointID    string // "" for a job's own webhook_url
	EventID       string
	EventType     string
	JobID         string
	URL           string
	Payload       []byte // the exact body, signed at each attempt: wire format, not a record
	Status        string // api.DeliveryPending, ...
	Attempts      int
	NextAttemptAt *time.Time
	WindowStart   time.Time // retries stop a fixed time after this
	CreatedAt     time.Time
	UpdatedAt     time.Time
	AttemptLog    []WebhookAttempt
}

// WebhookAttempt is one POST of a delivery.
type WebhookAttempt struct {
	DeliveryID string
	N          int
	At         time.Time
	StatusCode int
	Error      string
	Duration   time.Duration
}

// DeliveryFilter selects deliveries.
type DeliveryFilter struct {
	Tenant string // "" for all
	JobID  string // "" for all
	Status string // "" for all
	Limit  int    // 0: 50, at most 1000
}

// QueueStat is the number of unfinished tasks in one state.
type QueueStat struct {
	State  string
	Count  int
	Oldest time.Time // zero when Count is 0
}

// ToAPI renders a delivery for the wire.
func (d WebhookDelivery) ToAPI() api.WebhookDelivery {
	out := api.WebhookDelivery{
		ID: d.ID, Tenant: d.Tenant, EventID: d.EventID, EventType: d.EventType, JobID: d.JobID, URL: d.URL,
		Status: d.Status, Attempts: d.Attempts, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
		AttemptLog: make([]api.WebhookAttempt, 0, len(d.AttemptLog)),
	}
	if d.NextAttemptAt != nil {
		n := d.NextAttemptAt.UTC()
		out.NextAttemptAt = &n
	}
	for _, a := range d.AttemptLog {
		out.AttemptLog = append(out.AttemptLog, api.WebhookAttempt{N: a.N, At: a.At.UTC(), StatusCode: a.StatusCode,
			Error: a.Error, DurationMS: a.Duration.Milliseconds()})
	}
	return out
}

// ToAPI renders an endpoint for the wire.
func (e WebhookEndpoint) ToAPI() api.WebhookEndpoint {
	return api.WebhookEndpoint{ID: e.ID, Tenant: e.Tenant, URL: e.URL, Events: e.Events, CreatedAt: e.CreatedAt.UTC()}
}

// Targets are endpoints as the domain plans deliveries to them.
func Targets(es []WebhookEndpoint) []job.Endpoint {
	out := make([]job.Endpoint, len(es))
	for i, e := range es {
		out[i] = job.Endpoint{ID: e.ID, URL: e.URL, Events: e.Events}
	}
	return out
}
