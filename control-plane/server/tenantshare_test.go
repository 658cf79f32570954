package server_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// TestTenantShare: an admin sets a tenant's share and gets it back; bad
// values and other roles are refused.
func TestTenantShare(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	op, err := r.admin.CreateKey(ctx, api.KeyRequest{Tenant: "acme", Role: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	operator := api.NewClient(r.url, op.Secret, validatingClient())
	cases := []struct {
		name   string
		c      *api.Client
		tenant string
		share  api.TenantShare
		status int // 0: success
	}{
		{"set", r.admin, "acme", api.TenantShare{Weight: 2.5, MaxRunning: 3}, 0},
		{"new tenant, no cap", r.admin, "beta", api.TenantShare{Weight: 1}, 0},
		{"zero weight", r.admin, "acme", api.TenantShare{Weight: 0}, http.StatusBadRequest},
		{"negative cap", r.admin, "acme", api.TenantShare{Weight: 1, MaxRunning: -1}, http.StatusBadRequest},
		{"bad tenant name", r.admin, "Not Valid", api.TenantShare{Weight: 1}, http.StatusBadRequest},
		{"operator may not", operator, "acme", api.TenantShare{Weight: 5}, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.c.SetTenantShare(ctx, tc.tenant, tc.share)
			if tc.status != 0 {
				var ae *api.StatusError
				if !errors.As(err, &ae) || ae.Status != tc.status {
					t.Fatalf("err = %v, want status %d", err, tc.status)
				}
				return
			}
			want := tc.share
			want.Tenant = tc.tenant
			if err != nil || got != want {
				t.Fatalf("SetTenantShare = %+v, %v; want %+v", got, err, want)
			}
		})
	}
}
