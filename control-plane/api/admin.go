package api

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// KeyRequest is the body of POST /v1/keys.
type KeyRequest struct {
	Tenant    string     `json:"tenant"`
	Role      string     `json:"role"` // admin, operator, submitter, viewer
	Name      string     `json:"name,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Key describes an API key. Secret is set only in the reply that creates it.
type Key struct {
	ID        string     `json:"id"`
	Tenant    string     `json:"tenant"`
	Role      string     `json:"role"`
	Name      string     `json:"name,omitempty"`
	Secret    string     `json:"key,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// KeyList is the body of GET /v1/keys.
type KeyList struct {
	Keys []Key `json:"keys"`
}

// EnrollmentRequest is the body of POST /v1/agents/enrollments.
type EnrollmentRequest struct {
	Labels     map[string]string `json:"labels,omitempty"`
	TTLSeconds float64           `json:"ttl_seconds,omitempty"` // default 24 h
	MaxUses    int               `json:"max_uses,omitempty"`    // 0: unlimited
}

// Enrollment is a created enrollment token (the token is shown only once).
type Enrollment struct {
	ID        string            `json:"id"`
	Token     string            `json:"token"`
	Labels    map[string]string `json:"labels,omitempty"`
	MaxUses   int               `json:"max_uses"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// Agent is an agent as the fleet API shows it.
type Agent struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	Hostname     string       `json:"hostname,omitempty"`
	Version      string       `json:"version,omitempty"`
	State        string       `json:"state"` // active, draining, offline, revoked
	Capabilities Capabilities `json:"capabilities"`
	ActiveTasks  int          `json:"active_tasks"`
	// Tasks are the tasks it holds now, oldest lease first: at most 50,
	// ActiveTasks counts them all.
	Tasks      []AgentTask `json:"tasks"`
	CreatedAt  time.Time   `json:"created_at"`
	LastSeenAt time.Time   `json:"last_seen_at"`
}

// AgentTask is a task an agent holds, as the fleet API shows it.
type AgentTask struct {
	ID        string    `json:"id"`
	JobID     string    `json:"job_id"`
	Kind      string    `json:"kind"` // caption, prepare, transcribe, merge
	Stage     string    `json:"stage"`
	StartedAt time.Time `json:"started_at"`      // of the current lease
	Chunk     *Chunk    `json:"chunk,omitempty"` // transcribe tasks
}

// AgentList is the body of GET /v1/agents.
type AgentList struct {
	Agents []Agent `json:"agents"`
}

// CreateKey creates an API key; the reply's Secret is the key itself.
func (c *Client) CreateKey(ctx context.Context, req KeyRequest) (Key, error) {
	var k Key
	err := c.Do(ctx, http.MethodPost, PathKeys, req, &k, nil)
	return k, err
}

// ListKeys lists API keys (without secrets); tenant may be empty for all.
func (c *Client) ListKeys(ctx context.Context, tenant string) (KeyList, error) {
	var l KeyList
	p := PathKeys
	if tenant != "" {
		p += "?tenant=" + url.QueryEscape(tenant)
	}
	err := c.Do(ctx, http.MethodGet, p, nil, &l, nil)
	return l, err
}

// RevokeKey revokes an API key by id.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodPost, PathKeys+"/"+url.PathEscape(id)+"/revoke", nil, nil, nil)
}

// CreateEnrollment creates an agent enrollment token.
func (c *Client) CreateEnrollment(ctx context.Context, req EnrollmentRequest) (Enrollment, error) {
	var e Enrollment
	err := c.Do(ctx, http.MethodPost, PathEnrollment, req, &e, nil)
	return e, err
}

// ListAgents lists the fleet.
func (c *Client) ListAgents(ctx context.Context) (AgentList, error) {
	var l AgentList
	err := c.Do(ctx, http.MethodGet, PathAgents, nil, &l, nil)
	return l, err
}

// AgentAction applies "drain", "resume" or "revoke" to an agent.
func (c *Client) AgentAction(ctx context.Context, id, action string) (Agent, error) {
	var a Agent
	err := c.Do(ctx, http.MethodPost, PathAgents+"/"+url.PathEscape(id)+"/"+action, nil, &a, nil)
	return a, err
}

// PathTenants is the tenants collection: GET lists tenants (audit.go), PUT
// {name}/share sets a tenant's fair share.
const PathTenants = "/v1/tenants"

// TenantShare is a tenant's claim on the fleet: ready work is shared across
// tenants in proportion to Weight, and MaxRunning caps the tenant's running
// tasks (0: no cap). It is the body and reply of PUT
// /v1/tenants/{name}/share; Tenant is set in the reply.
type TenantShare struct {
	Tenant     string  `json:"tenant,omitempty"`
	Weight     float64 `json:"weight"`
	MaxRunning int     `json:"max_running"`
}

// SetTenantShare sets a tenant's weight and cap on running tasks.
func (c *Client) SetTenantShare(ctx context.Context, tenant string, share TenantShare) (TenantShare, error) {
	var out TenantShare
	err := c.Do(ctx, http.MethodPut, PathTenants+"/"+url.PathEscape(tenant)+"/share", share, &out, nil)
	return out, err
}
