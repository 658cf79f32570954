package credential

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestEnrollmentUse(t *testing.T) {
	t.Parallel()
	revoked := t0.Add(-time.Hour)
	tests := []struct {
		name     string
		e        Enrollment
		wantErr  bool
		wantUses int
	}{
		{"unlimited, never expires", Enrollment{ID: "e", Uses: 41}, false, 42},
		{"unlimited uses before expiry", Enrollment{ID: "e", Uses: 1000, ExpiresAt: t0.Add(time.Second)}, false, 1001},
		{"last use left", Enrollment{ID: "e", MaxUses: 3, Uses: 2, ExpiresAt: t0.Add(time.Hour)}, false, 3},
		{"used up", Enrollment{ID: "e", MaxUses: 3, Uses: 3, ExpiresAt: t0.Add(time.Hour)}, true, 3},
		{"expires at this instant", Enrollment{ID: "e", ExpiresAt: t0}, true, 0},
		{"expired", Enrollment{ID: "e", ExpiresAt: t0.Add(-time.Second)}, true, 0},
		{"revoked", Enrollment{ID: "e", ExpiresAt: t0.Add(time.Hour), RevokedAt: &revoked}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.e.Use(t0)
			if tt.wantErr != (err != nil) || (err != nil && !errors.Is(err, ErrUnusable)) {
				t.Fatalf("Use: err %v, want error %v (ErrUnusable)", err, tt.wantErr)
			}
			if got.Uses != tt.wantUses {
				t.Errorf("Uses = %d, want %d", got.Uses, tt.wantUses)
			}
		})
	}
}

func TestTokenValid(t *testing.T) {
	t.Parallel()
	rotated := Token{Hash: "new", ExpiresAt: t0.Add(time.Hour), PrevHash: "old", PrevExpiresAt: t0.Add(time.Minute)}
	tests := []struct {
		name string
		tok  Token
		hash string
		at   time.Time
		want bool
	}{
		{"current", rotated, "new", t0, true},
		{"current at expiry", rotated, "new", t0.Add(time.Hour), false},
		{"current expired", rotated, "new", t0.Add(2 * time.Hour), false},
		{"current without a lifetime", Token{Hash: "h"}, "h", t0.Add(1000 * time.Hour), true},
		{"previous in grace", rotated, "old", t0.Add(time.Minute - time.Nanosecond), true},
		{"previous at end of grace", rotated, "old", t0.Add(time.Minute), false},
		{"previous after grace", rotated, "old", t0.Add(time.Hour), false},
		{"unknown", rotated, "other", t0, false},
		{"empty hash, no previous", Token{Hash: "h"}, "", t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.tok.Valid(tt.hash, tt.at); got != tt.want {
				t.Errorf("Valid(%q) = %v, want %v", tt.hash, got, tt.want)
			}
		})
	}
}

func TestTokenRenew(t *testing.T) {
	t.Parallel()
	cur := Token{Hash: "cur", ExpiresAt: t0.Add(time.Hour), PrevHash: "prev", PrevExpiresAt: t0.Add(time.Minute)}
	renew := func(presented string) Renewal {
		return Renewal{Presented: presented, New: "next", ExpiresAt: t0.Add(24 * time.Hour), GraceUntil: t0.Add(5 * time.Minute), Now: t0}
	}
	tests := []struct {
		name      string
		revoked   bool
		presented string
		wantErr   bool
	}{
		{"with the current token", false, "cur", false},
		{"with the previous token in grace", false, "prev", false},
		{"with an unknown token", false, "nope", true},
		{"revoked agent", true, "cur", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := cur.Renew(tt.revoked, renew(tt.presented))
			if tt.wantErr {
				if !errors.Is(err, ErrRefused) || got != cur {
					t.Fatalf("Renew = %+v, %v; want the token unchanged and ErrRefused", got, err)
				}
				return
			}
			want := Token{Hash: "next", ExpiresAt: t0.Add(24 * time.Hour), PrevHash: tt.presented, PrevExpiresAt: t0.Add(5 * time.Minute)}
			if err != nil || got != want {
				t.Fatalf("Renew = %+v, %v; want %+v", got, err, want)
			}
			// The token just replaced stays usable through its grace only.
			if !got.Valid(tt.presented, t0.Add(4*time.Minute)) || got.Valid(tt.presented, t0.Add(5*time.Minute)) {
				t.Errorf("presented token's grace wrong: %+v", got)
			}
		})
	}
}
