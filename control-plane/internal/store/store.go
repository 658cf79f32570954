// Package store persists jobs, tasks, agents and credentials. Store is the
// contract; postgres/ (pgx) and sqlite/ (embedded, no cgo) implement it, and
// storetest/ is the conformance suite both must pass. All SQL lives under this
// package. State changes apply the pure rules of package job inside one
// transaction, so the rules are tested once and enforced everywhere.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/credential"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// Sentinel errors. Implementations wrap them with %w.
var (
	ErrNotFound            = errors.New("not found")
	ErrStaleLease          = errors.New("stale lease") // fencing token is not current
	ErrConflict            = errors.New("conflict")    // state does not allow the operation
	ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")
	ErrExpired             = errors.New("expired") // enrollment token expired or used up
)

// Store is everything the control plane persists.
type Store interface {
	DevSurface
	Admin
	Artifacts

	// CreateJob inserts a job, its tasks and, when it has a cache key or a
	// trace context, its metadata (JobID and Tenant are taken from j)
	// atomically. With an idempotency key already used by the same tenant it
	// returns the existing job and created=false (ErrIdempotencyMismatch if
	// the request hash differs).
	CreateJob(ctx context.Context, j job.Job, tasks []job.Task, meta JobMeta) (out job.Job, created bool, err error)
	// GetJob returns a job; tenant "" matches any tenant.
	GetJob(ctx context.Context, tenant, id string) (job.Job, error)
	// ListJobs returns jobs newest first and the cursor of the next page ("" at the end).
	ListJobs(ctx context.Context, f JobFilter) ([]job.Job, string, error)
	// Stats reads the statistics rollups (stats.go) over q's window.
	Stats(ctx context.Context, q StatsQuery) (api.Stats, error)
	// RecordFleetSample adds one sample of the fleet's load to the
	// fleet_stats rollup (the leader's sweeper takes them).
	RecordFleetSample(ctx context.Context, f FleetSample) error
	// CompactStats folds the rollup rows of buckets that ended before
	// before into one row per key (backends that shard rows); sums stay.
	CompactStats(ctx context.Context, before time.Time) error
	// GetTask returns one task (ErrNotFound if unknown).
	GetTask(ctx context.Context, id string) (job.Task, error)
	// JobTasks returns a job's tasks in creation order.
	JobTasks(ctx context.Context, jobID string) ([]job.Task, error)
	// CancelJob cancels every unfinished task of the job; ErrConflict if final.
	CancelJob(ctx context.Context, tenant, id string, now time.Time) (job.Job, error)
	// RetryJob requeues a failed or canceled job's unfinished tasks; ErrConflict otherwise.
	RetryJob(ctx context.Context, tenant, id string, now time.Time) (job.Job, error)

	// LeaseTasks leases up to p.Max ready tasks that p.Capabilities can run:
	// across tenants by fair share (TenantShare), within a tenant highest
	// priority first, then oldest. Never blocks on rows another transaction
	// holds (SKIP LOCKED on PostgreSQL).
	// Each task comes with its job as it is after the lease.
	LeaseTasks(ctx context.Context, p LeaseParams) ([]Leased, error)
	// The changes agents report below refuse (ErrStaleLease) a task whose
	// holder is not the given agent ("" skips that check: internal callers),
	// and a fencing token that is not current; an unknown task is
	// ErrNotFound.
	//
	// Heartbeat extends a lease and records progress. For a task canceled
	// while leased it returns the task (State canceled) and no error, so the
	// holder learns to stop.
	Heartbeat(ctx context.Context, h Heartbeat) (job.Task, error)
	// CompleteTask records a task's result and updates its job.
	CompleteTask(ctx context.Context, c Completion) (job.Job, error)
	// CompleteAndLease is CompleteTask and, when next is set, LeaseTasks
	// for the same agent in the same transaction. A failed lease leases
	// nothing and does not undo the completion.
	CompleteAndLease(ctx context.Context, c Completion, next *LeaseParams) (job.Job, []Leased, error)
	// FailTask records a failed attempt per policy; jitter in [0,1).
	FailTask(ctx context.Context, f Failure) (job.Job, error)
	// ReleaseTask hands a leased task back for immediate re-lease.
	ReleaseTask(ctx context.Context, taskID, holder string, token int64, now time.Time) error
	// RescueExpired retries (or fails) up to limit leased tasks whose deadline
	// passed; it returns the tasks as they are after the rescue.
	RescueExpired(ctx context.Context, now time.Time, p job.RetryPolicy, jitter func() float64, limit int) ([]job.Task, error)
	// NextRunAt is the earliest RunAt of a queued task, zero if none: lets
	// the dispatcher sleep until backed-off work becomes ready.
	NextRunAt(ctx context.Context) (time.Time, error)

	CreateEnrollment(ctx context.Context, e Enrollment) error
	// UseEnrollment consumes one use of a valid enrollment token (ErrExpired
	// when expired, revoked or used up; ErrNotFound when unknown).
	UseEnrollment(ctx context.Context, tokenHash string, now time.Time) (Enrollment, error)
	CreateAgent(ctx context.Context, a Agent) error
	GetAgent(ctx context.Context, id string) (Agent, error)
	AgentByTokenHash(ctx context.Context, tokenHash string) (Agent, error)
	ListAgents(ctx context.Context) ([]Agent, error)
	// TouchAgent records that the agent was seen, and its capabilities if given.
	TouchAgent(ctx context.Context, id string, now time.Time, caps *api.Capabilities) error
	SetAgentDrain(ctx context.Context, id string, drain bool, now time.Time) error
	// RevokeAgent cuts the agent off and requeues its leased tasks at once.
	RevokeAgent(ctx context.Context, id string, now time.Time) error
	// RenewAgentToken rotates an agent's credential: r.NewHash becomes the
	// token until r.ExpiresAt, and the token presented (the current one, or
	// the previous one within its grace) stays valid until r.GraceUntil.
	// ErrNotFound for an unknown agent; ErrConflict when the agent is revoked
	// or the presented token is neither current nor in its grace.
	RenewAgentToken(ctx context.Context, r AgentTokenRenewal) (Agent, error)

	// CreateAPIKey stores a key, creating its tenant if needed.
	CreateAPIKey(ctx context.Context, k APIKey) error
	GetAPIKey(ctx context.Context, id string) (APIKey, error)
	ListAPIKeys(ctx context.Context, tenant string) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, now time.Time) error

	// AcquireLeadership takes or renews the named leadership for holder until
	// now+ttl. It returns true while holder is the leader; a leader that stops
	// renewing is replaced once its term has passed.
	AcquireLeadership(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)

	// SetTenantShare sets a tenant's weight (> 0) and cap on running tasks
	// (0: none), creating the tenant if needed; ErrInvalidShare out of bounds.
	SetTenantShare(ctx context.Context, tenant string, weight float64, maxRunning int) error
	// TenantShare returns a tenant's share (DefaultShare if never set).
	TenantShare(ctx context.Context, tenant string) (TenantShare, error)

	// CountUnfinished counts a tenant's queued and running jobs (the
	// per-tenant cap on work in flight).
	CountUnfinished(ctx context.Context, tenant string) (int, error)

	Ping(ctx context.Context) error
	Close() error
}

// JobFilter selects jobs for ListJobs.
type JobFilter struct {
	Tenant string        // "" for all tenants
	Status api.JobStatus // "" for any
	Limit  int           // 1..1000; 0 means 50
	Cursor string        // from a previous page
}

// LeaseParams describes one lease attempt.
type LeaseParams struct {
	AgentID      string
	Capabilities api.Capabilities
	Max          int
	Now          time.Time
	Deadline     time.Time
}

// Leased is a task just leased, with its job and the trace context of the
// job's submission ("" when none was recorded).
type Leased struct {
	job.Task
	Job         job.Job
	Traceparent string
}

// The reports of agents, as the domain decides them.
type (
	Heartbeat  = job.Heartbeat
	Completion = job.Completion
	Failure    = job.Failure
)

// Enrollment is an agent enrollment token (stored hashed).
type Enrollment struct {
	ID        string
	TokenHash string
	Labels    map[string]string // labels an agent enrolled with it may claim
	MaxUses   int               // 0: unlimited
	Uses      int
	ExpiresAt time.Time
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Use consumes one use of the enrollment at now (ErrExpired when it is
// expired, revoked or used up).
func (e Enrollment) Use(now time.Time) (Enrollment, error) {
	c, err := credential.Enrollment{ID: e.ID, MaxUses: e.MaxUses, Uses: e.Uses, ExpiresAt: e.ExpiresAt, RevokedAt: e.RevokedAt}.Use(now)
	if err != nil {
		return e, RuleError(err)
	}
	e.Uses = c.Uses
	return e, nil
}

// Agent is a registered agent.
type Agent struct {
	ID           string
	Name         string
	Hostname     string
	Version      string
	TokenHash    string
	EnrollmentID string
	Capabilities api.Capabilities
	Draining     bool
	CreatedAt    time.Time
	LastSeenAt   time.Time
	RevokedAt    *time.Time
	// ActiveTasks is the number of tasks it holds, and Tasks the oldest
	// MaxAgentTasks of them by lease start (both filled by reads).
	ActiveTasks int
	Tasks       []AgentTask
	// TokenExpiresAt ends the current token's validity; zero never expires
	// (agents registered before tokens had a lifetime).
	TokenExpiresAt time.Time
	// PrevTokenHash is the token replaced by the last renewal, still accepted
	// until PrevTokenExpiresAt: calls the agent sent just before it switched
	// tokens must not fail.
	PrevTokenHash      string
	PrevTokenExpiresAt time.Time
}

// AgentTokenRenewal is one rotation of an agent's credential.
type AgentTokenRenewal struct {
	AgentID       string
	PresentedHash string    // hash of the token the agent authenticated with
	NewHash       string    // hash of the token handed out now
	ExpiresAt     time.Time // of the new token
	GraceUntil    time.Time // the presented token is accepted until then
	Now           time.Time
}

// Token is the agent's credential.
func (a Agent) Token() credential.Token {
	return credential.Token{Hash: a.TokenHash, ExpiresAt: a.TokenExpiresAt, PrevHash: a.PrevTokenHash, PrevExpiresAt: a.PrevTokenExpiresAt}
}

// TokenValid reports whether hash is one of the agent's usable tokens at
// now; see credential.Token.Valid. Revocation is checked separately.
func (a Agent) TokenValid(hash string, now time.Time) bool { return a.Token().Valid(hash, now) }

// Renew is RenewAgentToken's decision: the agent's credential after the
// renewal r (ErrConflict when the agent is revoked or the presented token
// is not valid).
func (a Agent) Renew(r AgentTokenRenewal) (credential.Token, error) {
	t, err := a.Token().Renew(a.RevokedAt != nil, credential.Renewal{
		Presented: r.PresentedHash, New: r.NewHash, ExpiresAt: r.ExpiresAt, GraceUntil: r.GraceUntil, Now: r.Now})
	return t, RuleError(err)
}

// Role is what an API key may do.
type Role string

// Roles, from most to least privileged.
const (
	RoleAdmin     Role = "admin"
	RoleOperator  Role = "operator"
	RoleSubmitter Role = "submitter"
	RoleViewer    Role = "viewer"
)

// APIKey is a stored API key; the secret is only kept as a hash.
type APIKey struct {
	ID        string
	Tenant    string
	Role      Role
	Name      string
	Hash      string
	CreatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
}

// TenantShare is a tenant's claim on the fleet (docs/architecture.md, "Fair
// share"): ready work is shared across tenants in proportion to Weight, and
// MaxRunning caps the tenant's leased tasks (0: no cap).
type TenantShare struct {
	Tenant     string
	Weight     float64
	MaxRunning int
}

// DefaultShare is the share of a tenant never configured.
func DefaultShare(tenant string) TenantShare { return TenantShare{Tenant: tenant, Weight: 1} }

// Bounds of a share.
const (
	MaxWeight     = 1000
	MaxMaxRunning = 1_000_000
)

// ErrInvalidShare is returned for a weight or cap out of bounds.
var ErrInvalidShare = errors.New("invalid share: weight must be in (0, 1000], max_running in [0, 1000000]")

// Validate checks the share's bounds.
func (s TenantShare) Validate() error {
	if !(s.Weight > 0 && s.Weight <= MaxWeight) || s.MaxRunning < 0 || s.MaxRunning > MaxMaxRunning {
		return ErrInvalidShare
	}
	return nil
}
