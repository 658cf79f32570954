package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// PathAudit is the audit log of operator actions (GET, admin only).
const PathAudit = "/v1/audit"

// Ways an audited action reached the control plane.
const (
	ViaAPI     = "api"     // a bearer API key
	ViaConsole = "console" // a console session cookie
)

// AuditEntry is one operator action: who (KeyID, Tenant, Role; empty for
// a failed console login), what (Action on Target), how it ended (Status,
// including refusals), and where from. Detail holds a few whitelisted
// request fields, never secrets.
type AuditEntry struct {
	ID         string         `json:"id"`
	At         time.Time      `json:"at"`
	KeyID      string         `json:"key_id"`
	Tenant     string         `json:"tenant"`
	Role       string         `json:"role"`
	Action     string         `json:"action"`
	Target     string         `json:"target"`
	Method     string         `json:"method"`
	Path       string         `json:"path"`
	Status     int            `json:"status"`
	RemoteAddr string         `json:"remote_addr"`
	UserAgent  string         `json:"user_agent"`
	Via        string         `json:"via"`
	Detail     map[string]any `json:"detail,omitempty"`
}

// AuditList is the body of GET /v1/audit, newest first; NextCursor is
// empty on the last page.
type AuditList struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor"`
}

// AuditQuery filters GET /v1/audit; zero fields match everything.
type AuditQuery struct {
	Limit int
	// Cursor is a previous page's NextCursor.
	Cursor string
	KeyID  string
	// Action matches exactly or as a prefix ending at a dot ("keys"
	// matches keys.create and keys.revoke).
	Action string
	Tenant string
	Since  time.Time
}

// Audit reads a page of the audit log.
func (c *Client) Audit(ctx context.Context, q AuditQuery) (AuditList, error) {
	v := url.Values{}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	for k, s := range map[string]string{"cursor": q.Cursor, "key_id": q.KeyID, "action": q.Action, "tenant": q.Tenant} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	p := PathAudit
	if len(v) > 0 {
		p += "?" + v.Encode()
	}
	var l AuditList
	err := c.Do(ctx, http.MethodGet, p, nil, &l, nil)
	return l, err
}

// TenantInfo is a tenant in GET /v1/tenants: its fair share, its usable
// (unrevoked) API keys, and its jobs by status (queued, running,
// succeeded, failed, canceled; always all five).
type TenantInfo struct {
	Name       string           `json:"name"`
	Weight     float64          `json:"weight"`
	MaxRunning int              `json:"max_running"`
	Keys       int              `json:"keys"`
	Jobs       map[string]int64 `json:"jobs"`
}

// TenantList is the body of GET /v1/tenants, by name.
type TenantList struct {
	Tenants []TenantInfo `json:"tenants"`
}

// ListTenants lists every tenant that has keys, jobs or a share.
func (c *Client) ListTenants(ctx context.Context) (TenantList, error) {
	var l TenantList
	err := c.Do(ctx, http.MethodGet, PathTenants, nil, &l, nil)
	return l, err
}

// Enrollment token states in EnrollmentInfo.
const (
	EnrollmentActive  = "active"
	EnrollmentExpired = "expired"
	EnrollmentUsedUp  = "used_up"
	EnrollmentRevoked = "revoked"
)

// EnrollmentInfo is an enrollment token as GET /v1/agents/enrollments
// shows it: never the token itself.
type EnrollmentInfo struct {
	ID        string            `json:"id"`
	State     string            `json:"state"` // active, expired, used_up, revoked
	Labels    map[string]string `json:"labels,omitempty"`
	Uses      int               `json:"uses"`
	MaxUses   int               `json:"max_uses"` // 0: unlimited
	CreatedAt time.Time         `json:"created_at"`
	ExpiresAt *time.Time        `json:"expires_at,omitempty"` // absent: never expires
	RevokedAt *time.Time        `json:"revoked_at,omitempty"`
}

// EnrollmentList is the body of GET /v1/agents/enrollments, newest first.
type EnrollmentList struct {
	Enrollments []EnrollmentInfo `json:"enrollments"`
}

// ListEnrollments lists the enrollment tokens.
func (c *Client) ListEnrollments(ctx context.Context) (EnrollmentList, error) {
	var l EnrollmentList
	err := c.Do(ctx, http.MethodGet, PathEnrollment, nil, &l, nil)
	return l, err
}

// RevokeEnrollment revokes an enrollment token: agents can no longer
// enroll with it (agents already enrolled keep their own credentials).
func (c *Client) RevokeEnrollment(ctx context.Context, id string) (EnrollmentInfo, error) {
	var e EnrollmentInfo
	err := c.Do(ctx, http.MethodPost, PathEnrollment+"/"+url.PathEscape(id)+"/revoke", nil, &e, nil)
	return e, err
}
