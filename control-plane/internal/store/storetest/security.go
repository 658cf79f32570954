package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

func securityTests() []struct {
	name string
	fn   func(t *testing.T, s store.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CountUnfinished", testCountUnfinished},
	}
}

// testCountUnfinished: queued and running jobs count against a tenant's
// cap; finished ones and other tenants' do not.
func testCountUnfinished(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	count := func(tenant string) int {
		n, err := s.CountUnfinished(ctx, tenant)
		noErr(t, "CountUnfinished", err)
		return n
	}
	if n := count("acme"); n != 0 {
		t.Fatalf("empty store: %d", n)
	}
	a, _ := create(t, s, at, spec{})
	create(t, s, at, spec{})
	create(t, s, at, spec{Tenant: "other"})
	if n := count("acme"); n != 2 {
		t.Fatalf("two queued: %d", n)
	}
	_, err := s.CancelJob(ctx, "", a.ID, at.Add(time.Second))
	noErr(t, "CancelJob", err)
	if n := count("acme"); n != 1 {
		t.Fatalf("after a cancel: %d", n)
	}
}
