package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// TestEnrollmentState: the state shown agrees with whether Use accepts the
// token.
func TestEnrollmentState(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	past := now.Add(-time.Minute)
	for _, tc := range []struct {
		name string
		e    store.Enrollment
		want string
	}{
		{"fresh", store.Enrollment{ExpiresAt: now.Add(time.Hour), MaxUses: 2, Uses: 1}, api.EnrollmentActive},
		{"never expires", store.Enrollment{}, api.EnrollmentActive},
		{"expired", store.Enrollment{ExpiresAt: now}, api.EnrollmentExpired},
		{"used up", store.Enrollment{MaxUses: 2, Uses: 2}, api.EnrollmentUsedUp},
		{"revoked beats expired", store.Enrollment{ExpiresAt: past, RevokedAt: &past}, api.EnrollmentRevoked},
		{"expired beats used up", store.Enrollment{ExpiresAt: past, MaxUses: 1, Uses: 1}, api.EnrollmentExpired},
	} {
		if got := tc.e.State(now); got != tc.want {
			t.Errorf("%s: state %q, want %q", tc.name, got, tc.want)
		}
		if _, err := tc.e.Use(now); (err == nil) != (tc.want == api.EnrollmentActive) || (err != nil && !errors.Is(err, store.ErrExpired)) {
			t.Errorf("%s: Use err = %v, state %q", tc.name, err, tc.want)
		}
	}
}
