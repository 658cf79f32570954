package store

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Admin is what the operator console's administration views persist and
// read: the audit log of operator actions, the tenants overview, and the
// enrollment tokens.
type Admin interface {
	// AppendAudit records one operator action; e.ID and e.At are required.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// ListAudit returns entries newest first (by At, then ID) and the
	// cursor of the next page ("" at the end).
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, string, error)

	// ListTenants returns every tenant that has keys, jobs or a share row,
	// by name.
	ListTenants(ctx context.Context) ([]TenantInfo, error)

	// ListEnrollments returns every enrollment token, newest first.
	ListEnrollments(ctx context.Context) ([]Enrollment, error)
	// RevokeEnrollment revokes a token (ErrNotFound if unknown); revoking
	// it again keeps the first time. It returns the token as stored.
	RevokeEnrollment(ctx context.Context, id string, now time.Time) (Enrollment, error)
}

// AuditEntry is one operator action: who (KeyID, Tenant, Role; empty for a
// failed login), what (Action on Target), how it ended (Status), and where
// from. Detail holds a few whitelisted request fields, never secrets.
type AuditEntry struct {
	ID         string
	At         time.Time
	KeyID      string
	Tenant     string
	Role       string
	Action     string
	Target     string
	Method     string
	Path       string
	Status     int
	RemoteAddr string
	UserAgent  string
	Via        string // "api" (bearer key) or "console" (session cookie)
	Detail     map[string]any
}

// AuditQuery selects entries for ListAudit; zero fields match everything.
type AuditQuery struct {
	KeyID string
	// Action matches an action exactly or as a prefix ending at a dot:
	// "keys" matches "keys.create" and "keys.revoke".
	Action string
	Tenant string    // the actor's tenant
	Since  time.Time // entries at or after
	Limit  int       // 1..1000; 0 means 50
	Cursor string    // from a previous page
}

// AuditCursor is the cursor that resumes listing after e.
func AuditCursor(e AuditEntry) string { return encodeCursor(e.At, e.ID) }

// TenantInfo is a tenant as the tenants overview shows it: its share, its
// usable (unrevoked) keys, and its jobs by status from the job_totals
// rollup.
type TenantInfo struct {
	TenantShare
	Keys int
	Jobs map[api.JobStatus]int64
}

// JobStatuses are the statuses a tenant's job counts always show.
var JobStatuses = []api.JobStatus{api.JobQueued, api.JobRunning, api.JobSucceeded, api.JobFailed, api.JobCanceled}

// Tenants merges what the backends read for ListTenants: share rows, the
// number of usable keys per tenant, and job totals (summed over shards).
// A tenant appears if it has any of them; one without a share row has
// DefaultShare.
func Tenants(shares []TenantShare, keys map[string]int, totals []TotalRow) []TenantInfo {
	by := map[string]*TenantInfo{}
	get := func(name string) *TenantInfo {
		t, ok := by[name]
		if !ok {
			t = &TenantInfo{TenantShare: DefaultShare(name), Jobs: map[api.JobStatus]int64{}}
			for _, s := range JobStatuses {
				t.Jobs[s] = 0
			}
			by[name] = t
		}
		return t
	}
	for _, sh := range shares {
		get(sh.Tenant).TenantShare = sh
	}
	for name, n := range keys {
		get(name).Keys = n
	}
	for _, r := range totals {
		get(r.Tenant).Jobs[r.Status] += r.N
	}
	out := make([]TenantInfo, 0, len(by))
	for _, t := range by {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b TenantInfo) int { return cmp.Compare(a.Tenant, b.Tenant) })
	return out
}

// State is what the enrollments list shows of a token at now, checked in
// the order Use checks it: api.EnrollmentRevoked, api.EnrollmentExpired,
// api.EnrollmentUsedUp or api.EnrollmentActive.
func (e Enrollment) State(now time.Time) string {
	switch {
	case e.RevokedAt != nil:
		return api.EnrollmentRevoked
	case !e.ExpiresAt.IsZero() && !now.Before(e.ExpiresAt):
		return api.EnrollmentExpired
	case e.MaxUses > 0 && e.Uses >= e.MaxUses:
		return api.EnrollmentUsedUp
	}
	return api.EnrollmentActive
}
