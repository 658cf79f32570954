package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

func adminTests() []struct {
	name string
	fn   func(t *testing.T, s store.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"AuditLog", testAuditLog},
		{"AuditLogFilters", testAuditLogFilters},
		{"ListTenants", testListTenants},
		{"EnrollmentListRevoke", testEnrollmentListRevoke},
	}
}

func auditIDs(es []store.AuditEntry) []string {
	return ids(es, func(e store.AuditEntry) string { return e.ID })
}

// testAuditLog: entries read back as written, newest first, in pages that
// neither skip nor repeat entries of the same instant.
func testAuditLog(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	first := store.AuditEntry{ID: "aud_00", At: at, KeyID: "ytk_a", Tenant: "acme", Role: "admin",
		Action: "tenants.share", Target: "zeta", Method: "PUT", Path: "/v1/tenants/zeta/share", Status: 200,
		RemoteAddr: "192.0.2.7", UserAgent: "curl/8", Via: "api",
		Detail: map[string]any{"weight": 2.5, "max_running": float64(3)}}
	noErr(t, "AppendAudit", s.AppendAudit(ctx, first))
	var want []string
	for i := 1; i <= 6; i++ {
		// Two entries per instant: the id breaks the tie.
		e := store.AuditEntry{ID: fmt.Sprintf("aud_%02d", i), At: at.Add(time.Duration((i+1)/2) * time.Second),
			Action: "keys.revoke", Status: 204, Via: "console"}
		noErr(t, "AppendAudit", s.AppendAudit(ctx, e))
		want = append([]string{e.ID}, want...)
	}
	want = append(want, first.ID)
	wantErr(t, "AppendAudit duplicate", s.AppendAudit(ctx, first), store.ErrConflict)

	var got []string
	cursor := ""
	for range 10 {
		page, next, err := s.ListAudit(ctx, store.AuditQuery{Limit: 3, Cursor: cursor})
		noErr(t, "ListAudit", err)
		got = append(got, auditIDs(page)...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pages = %v, want %v", got, want)
	}
	all, next, err := s.ListAudit(ctx, store.AuditQuery{})
	noErr(t, "ListAudit", err)
	if next != "" || len(all) != len(want) {
		t.Fatalf("one page: %d entries, next %q; want %d, none", len(all), next, len(want))
	}
	back := all[len(all)-1]
	sameTime(t, "at", back.At, first.At)
	back.At = first.At
	if !reflect.DeepEqual(back, first) {
		t.Fatalf("read back %+v, want %+v", back, first)
	}
	if all[0].Detail != nil {
		t.Fatalf("entry without detail read back with %v", all[0].Detail)
	}
	_, _, err = s.ListAudit(ctx, store.AuditQuery{Cursor: "not a cursor"})
	var ve *job.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("bad cursor: err = %v, want a validation error", err)
	}
}

func testAuditLogFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	for i, e := range []store.AuditEntry{
		{KeyID: "ytk_a", Tenant: "acme", Action: "keys.create"},
		{KeyID: "ytk_a", Tenant: "acme", Action: "keys.revoke"},
		{KeyID: "ytk_b", Tenant: "zeta", Action: "keysmith.forge"},
		{KeyID: "ytk_b", Tenant: "zeta", Action: "webhooks.endpoint.create"},
		{KeyID: "", Tenant: "", Action: "session.login", Status: 401},
		{KeyID: "ytk_a", Tenant: "acme", Action: "jobs.cancel"},
	} {
		e.ID, e.At, e.Via, e.Method = fmt.Sprintf("aud_%d", i), at.Add(time.Duration(i)*time.Minute), "api", "POST"
		if e.Status == 0 {
			e.Status = 200
		}
		noErr(t, "AppendAudit", s.AppendAudit(ctx, e))
	}
	for _, tc := range []struct {
		name string
		q    store.AuditQuery
		want []string
	}{
		{"key", store.AuditQuery{KeyID: "ytk_a"}, []string{"aud_5", "aud_1", "aud_0"}},
		{"tenant", store.AuditQuery{Tenant: "zeta"}, []string{"aud_3", "aud_2"}},
		{"action exact", store.AuditQuery{Action: "keys.create"}, []string{"aud_0"}},
		{"action prefix ends at a dot", store.AuditQuery{Action: "keys"}, []string{"aud_1", "aud_0"}},
		{"action two levels", store.AuditQuery{Action: "webhooks.endpoint"}, []string{"aud_3"}},
		{"action no partial word", store.AuditQuery{Action: "key"}, []string{}},
		{"since", store.AuditQuery{Since: at.Add(4 * time.Minute)}, []string{"aud_5", "aud_4"}},
		{"combined", store.AuditQuery{KeyID: "ytk_a", Action: "keys", Since: at.Add(time.Minute)}, []string{"aud_1"}},
	} {
		got, _, err := s.ListAudit(ctx, tc.q)
		noErr(t, "ListAudit "+tc.name, err)
		if ids := auditIDs(got); !reflect.DeepEqual(ids, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, ids, tc.want)
		}
	}
}

// testListTenants: a tenant with keys, one with jobs only, one with a share
// only; revoked keys do not count; job counts follow status changes.
func testListTenants(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	for i, k := range []store.APIKey{{Tenant: "acme"}, {Tenant: "acme"}, {Tenant: "acme"}} {
		k.ID, k.Role, k.Hash, k.CreatedAt = fmt.Sprintf("k%d", i), store.RoleViewer, fmt.Sprintf("h%d", i), at
		noErr(t, "CreateAPIKey", s.CreateAPIKey(ctx, k))
	}
	noErr(t, "RevokeAPIKey", s.RevokeAPIKey(ctx, "k2", at))
	noErr(t, "SetTenantShare", s.SetTenantShare(ctx, "shared", 2, 5))
	j1, _ := create(t, s, at, spec{Tenant: "busy"})
	create(t, s, at, spec{Tenant: "busy"})
	_, err := s.CancelJob(ctx, "busy", j1.ID, at.Add(time.Second))
	noErr(t, "CancelJob", err)

	got, err := s.ListTenants(ctx)
	noErr(t, "ListTenants", err)
	jobs := func(queued, canceled int64) map[api.JobStatus]int64 {
		return map[api.JobStatus]int64{api.JobQueued: queued, api.JobRunning: 0, api.JobSucceeded: 0, api.JobFailed: 0, api.JobCanceled: canceled}
	}
	want := []store.TenantInfo{
		{TenantShare: store.TenantShare{Tenant: "acme", Weight: 1}, Keys: 2, Jobs: jobs(0, 0)},
		{TenantShare: store.TenantShare{Tenant: "busy", Weight: 1}, Jobs: jobs(1, 1)},
		{TenantShare: store.TenantShare{Tenant: "shared", Weight: 2, MaxRunning: 5}, Jobs: jobs(0, 0)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tenants = %+v, want %+v", got, want)
	}
}

func testEnrollmentListRevoke(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	old := store.Enrollment{ID: "old", TokenHash: "h-old", Labels: map[string]string{"pool": "gpu"}, MaxUses: 2,
		ExpiresAt: at.Add(time.Hour), CreatedAt: at}
	newer := store.Enrollment{ID: "newer", TokenHash: "h-newer", ExpiresAt: at.Add(2 * time.Hour), CreatedAt: at.Add(time.Minute)}
	noErr(t, "CreateEnrollment", s.CreateEnrollment(ctx, old))
	noErr(t, "CreateEnrollment", s.CreateEnrollment(ctx, newer))
	_, err := s.UseEnrollment(ctx, "h-old", at)
	noErr(t, "UseEnrollment", err)

	list, err := s.ListEnrollments(ctx)
	noErr(t, "ListEnrollments", err)
	if got := ids(list, func(e store.Enrollment) string { return e.ID }); !reflect.DeepEqual(got, []string{"newer", "old"}) {
		t.Fatalf("enrollments = %v, want newest first", got)
	}
	if o := list[1]; o.Uses != 1 || o.MaxUses != 2 || o.Labels["pool"] != "gpu" || o.RevokedAt != nil {
		t.Fatalf("old enrollment read back %+v", o)
	}

	e, err := s.RevokeEnrollment(ctx, "old", at.Add(time.Minute))
	noErr(t, "RevokeEnrollment", err)
	if e.RevokedAt == nil || e.ID != "old" || e.Uses != 1 {
		t.Fatalf("revoked enrollment = %+v", e)
	}
	sameTime(t, "revoked_at", *e.RevokedAt, at.Add(time.Minute))
	e, err = s.RevokeEnrollment(ctx, "old", at.Add(time.Hour))
	noErr(t, "RevokeEnrollment again", err)
	sameTime(t, "revoked_at after a second revoke", *e.RevokedAt, at.Add(time.Minute))
	_, err = s.UseEnrollment(ctx, "h-old", at.Add(2*time.Minute))
	wantErr(t, "UseEnrollment revoked", err, store.ErrExpired)
	_, err = s.RevokeEnrollment(ctx, "missing", at)
	wantErr(t, "RevokeEnrollment unknown", err, store.ErrNotFound)
}
