package server

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestReplicaCacheRacingChange: a value loaded while the same id changed
// (a revocation racing a lookup) is served to that caller but not kept, so
// the next lookup reads the store again instead of an old copy.
func TestReplicaCacheRacingChange(t *testing.T) {
	t.Parallel()
	c := newReplicaCache[string](nil, "", "key", 10, time.Now, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	loads := 0
	slow := func(context.Context, string) (string, error) {
		loads++
		// The change commits and evicts while this load is in flight.
		c.changed(ctx, "k", nil)
		return "before the change", nil
	}
	if v, err := c.get(ctx, "k", slow); err != nil || v != "before the change" {
		t.Fatalf("get = %q, %v", v, err)
	}
	fresh := func(context.Context, string) (string, error) { loads++; return "after the change", nil }
	if v, _ := c.get(ctx, "k", fresh); v != "after the change" {
		t.Fatalf("a value loaded across a change was kept: %q", v)
	}
	if v, _ := c.get(ctx, "k", fresh); v != "after the change" || loads != 2 {
		t.Fatalf("an undisturbed load was not kept: %q after %d loads", v, loads)
	}
}
