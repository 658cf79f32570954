package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

func agentTokenTests() []struct {
	name string
	fn   func(t *testing.T, s store.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"AgentTokenExpiryStored", testAgentTokenExpiryStored},
		{"RenewAgentToken", testRenewAgentToken},
		{"RenewAgentTokenRefused", testRenewAgentTokenRefused},
		{"RenewAgentTokenRace", testRenewAgentTokenRace},
		{"RevokeAfterRenew", testRevokeAfterRenew},
	}
}

// newTokenAgent registers an agent whose token "h0" expires a day after epoch.
func newTokenAgent(t *testing.T, s store.Store, id string) store.Agent {
	t.Helper()
	at := epoch()
	a := store.Agent{ID: id, TokenHash: "h0-" + id, TokenExpiresAt: at.Add(24 * time.Hour),
		Capabilities: defaultCaps(), CreatedAt: at, LastSeenAt: at}
	noErr(t, "CreateAgent", s.CreateAgent(context.Background(), a))
	return a
}

// testAgentTokenExpiryStored: the token's expiry round-trips, and an agent
// created without one never expires.
func testAgentTokenExpiryStored(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := newTokenAgent(t, s, "a1")
	got, err := s.GetAgent(ctx, "a1")
	noErr(t, "GetAgent", err)
	sameTime(t, "TokenExpiresAt", got.TokenExpiresAt, a.TokenExpiresAt)
	if got.PrevTokenHash != "" || !got.PrevTokenExpiresAt.IsZero() {
		t.Fatalf("fresh agent has a previous token: %q until %v", got.PrevTokenHash, got.PrevTokenExpiresAt)
	}
	tests := []struct {
		name string
		hash string
		at   time.Time
		want bool
	}{
		{"current before expiry", a.TokenHash, epoch().Add(time.Hour), true},
		{"current at expiry", a.TokenHash, a.TokenExpiresAt, false},
		{"unknown", "other", epoch(), false},
		{"empty previous never matches", "", epoch(), false},
	}
	for _, tc := range tests {
		if v := got.TokenValid(tc.hash, tc.at); v != tc.want {
			t.Errorf("%s: TokenValid = %v, want %v", tc.name, v, tc.want)
		}
	}

	noErr(t, "CreateAgent without expiry", s.CreateAgent(ctx, store.Agent{ID: "old", TokenHash: "h-old", CreatedAt: epoch()}))
	old, err := s.GetAgent(ctx, "old")
	noErr(t, "GetAgent old", err)
	if !old.TokenExpiresAt.IsZero() || !old.TokenValid("h-old", epoch().Add(10*365*24*time.Hour)) {
		t.Fatalf("agent without expiry: expires %v", old.TokenExpiresAt)
	}
}

// testRenewAgentToken: a renewal makes the new token current with its own
// expiry and keeps the old one only for the grace.
func testRenewAgentToken(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := newTokenAgent(t, s, "a1")
	now := epoch().Add(12 * time.Hour)
	r := store.AgentTokenRenewal{AgentID: "a1", PresentedHash: a.TokenHash, NewHash: "h1",
		ExpiresAt: now.Add(24 * time.Hour), GraceUntil: now.Add(time.Minute), Now: now}
	got, err := s.RenewAgentToken(ctx, r)
	noErr(t, "RenewAgentToken", err)
	stored, err := s.GetAgent(ctx, "a1")
	noErr(t, "GetAgent", err)
	for _, ag := range []store.Agent{got, stored} {
		if ag.TokenHash != "h1" || ag.PrevTokenHash != a.TokenHash {
			t.Fatalf("after renewal: token %q prev %q", ag.TokenHash, ag.PrevTokenHash)
		}
		sameTime(t, "TokenExpiresAt", ag.TokenExpiresAt, r.ExpiresAt)
		sameTime(t, "PrevTokenExpiresAt", ag.PrevTokenExpiresAt, r.GraceUntil)
	}
	byToken, err := s.AgentByTokenHash(ctx, "h1")
	noErr(t, "AgentByTokenHash new", err)
	if byToken.ID != "a1" {
		t.Fatalf("AgentByTokenHash = %s", byToken.ID)
	}
	tests := []struct {
		name string
		hash string
		at   time.Time
		want bool
	}{
		{"new token", "h1", now, true},
		{"new token later", "h1", now.Add(23 * time.Hour), true},
		{"new token expired", "h1", r.ExpiresAt, false},
		{"old token in grace", a.TokenHash, now.Add(30 * time.Second), true},
		{"old token after grace", a.TokenHash, r.GraceUntil, false},
	}
	for _, tc := range tests {
		if v := stored.TokenValid(tc.hash, tc.at); v != tc.want {
			t.Errorf("%s: TokenValid = %v, want %v", tc.name, v, tc.want)
		}
	}

	// The reply to a renewal may be lost: the old token, still in its
	// grace, may renew again; the token it was never told about is dropped.
	again := store.AgentTokenRenewal{AgentID: "a1", PresentedHash: a.TokenHash, NewHash: "h2",
		ExpiresAt: now.Add(25 * time.Hour), GraceUntil: now.Add(2 * time.Minute), Now: now.Add(10 * time.Second)}
	got, err = s.RenewAgentToken(ctx, again)
	noErr(t, "RenewAgentToken with the token in grace", err)
	if got.TokenHash != "h2" || got.PrevTokenHash != a.TokenHash || got.TokenValid("h1", again.Now) {
		t.Fatalf("after second renewal: token %q prev %q", got.TokenHash, got.PrevTokenHash)
	}
}

// testRenewAgentTokenRefused: unknown agents, revoked agents, and tokens
// that are expired, replaced or wrong cannot renew.
func testRenewAgentTokenRefused(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := newTokenAgent(t, s, "a1")
	newTokenAgent(t, s, "a2")
	noErr(t, "RevokeAgent", s.RevokeAgent(ctx, "a2", epoch().Add(time.Minute)))
	now := epoch().Add(time.Hour)
	renewal := func(id, presented string, at time.Time) store.AgentTokenRenewal {
		return store.AgentTokenRenewal{AgentID: id, PresentedHash: presented, NewHash: "new-" + id + presented,
			ExpiresAt: at.Add(24 * time.Hour), GraceUntil: at.Add(time.Minute), Now: at}
	}
	tests := []struct {
		name string
		r    store.AgentTokenRenewal
		want error
	}{
		{"unknown agent", renewal("nope", "h0-nope", now), store.ErrNotFound},
		{"revoked agent", renewal("a2", "h0-a2", now), store.ErrConflict},
		{"wrong token", renewal("a1", "h0-a2", now), store.ErrConflict},
		{"expired token", renewal("a1", a.TokenHash, a.TokenExpiresAt.Add(time.Second)), store.ErrConflict},
	}
	for _, tc := range tests {
		_, err := s.RenewAgentToken(ctx, tc.r)
		wantErr(t, tc.name, err, tc.want)
	}
	got, err := s.GetAgent(ctx, "a1")
	noErr(t, "GetAgent", err)
	if got.TokenHash != a.TokenHash || got.PrevTokenHash != "" {
		t.Fatalf("refused renewals changed the token: %q prev %q", got.TokenHash, got.PrevTokenHash)
	}

	// After the grace, the replaced token can no longer renew.
	_, err = s.RenewAgentToken(ctx, renewal("a1", a.TokenHash, now))
	noErr(t, "RenewAgentToken", err)
	_, err = s.RenewAgentToken(ctx, renewal("a1", a.TokenHash, now.Add(2*time.Minute)))
	wantErr(t, "renew with the replaced token after its grace", err, store.ErrConflict)
}

// testRenewAgentTokenRace: of many renewals presenting the same token at
// once, the store serializes them; the agent ends with exactly one current
// token, and it is one of those handed out.
func testRenewAgentTokenRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := newTokenAgent(t, s, "a1")
	now := epoch().Add(time.Hour)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.RenewAgentToken(ctx, store.AgentTokenRenewal{AgentID: "a1", PresentedHash: a.TokenHash,
				NewHash: "race-" + string(rune('a'+i)), ExpiresAt: now.Add(24 * time.Hour), GraceUntil: now.Add(time.Minute), Now: now})
		})
	}
	wg.Wait()
	winners := map[string]bool{}
	for i, err := range errs {
		noErr(t, "concurrent RenewAgentToken", err) // the presented token stays in grace
		winners["race-"+string(rune('a'+i))] = true
	}
	got, err := s.GetAgent(ctx, "a1")
	noErr(t, "GetAgent", err)
	if !winners[got.TokenHash] || got.PrevTokenHash != a.TokenHash {
		t.Fatalf("after racing renewals: token %q prev %q", got.TokenHash, got.PrevTokenHash)
	}
}

// testRevokeAfterRenew: revocation still cuts the agent off, and a revoked
// agent's renewal is refused.
func testRevokeAfterRenew(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := newTokenAgent(t, s, "a1")
	now := epoch().Add(time.Hour)
	_, err := s.RenewAgentToken(ctx, store.AgentTokenRenewal{AgentID: "a1", PresentedHash: a.TokenHash, NewHash: "h1",
		ExpiresAt: now.Add(24 * time.Hour), GraceUntil: now.Add(time.Minute), Now: now})
	noErr(t, "RenewAgentToken", err)
	noErr(t, "RevokeAgent", s.RevokeAgent(ctx, "a1", now.Add(time.Second)))
	got, err := s.GetAgent(ctx, "a1")
	noErr(t, "GetAgent", err)
	if got.RevokedAt == nil {
		t.Fatal("agent not revoked")
	}
	_, err = s.RenewAgentToken(ctx, store.AgentTokenRenewal{AgentID: "a1", PresentedHash: "h1", NewHash: "h2",
		ExpiresAt: now.Add(25 * time.Hour), GraceUntil: now.Add(2 * time.Minute), Now: now.Add(2 * time.Second)})
	wantErr(t, "renew a revoked agent", err, store.ErrConflict)
}
