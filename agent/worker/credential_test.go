package worker

import (
	"testing"
	"time"
)

func TestRenewAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		exp    time.Time
		jitter float64
		want   time.Duration
	}{
		{"no expiry known: at once", time.Time{}, 0.5, 0},
		{"half the lifetime", now.Add(24 * time.Hour), 0, 12 * time.Hour},
		{"full jitter takes a tenth off", now.Add(24 * time.Hour), 1, 12*time.Hour - 72*time.Minute},
		{"nearly expired: not a busy loop", now.Add(time.Second), 0, time.Second},
		{"already expired", now.Add(-time.Hour), 0, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := renewAfter(now, tc.exp, tc.jitter); got != tc.want {
				t.Fatalf("renewAfter = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAgentTokenID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		token, id string
		ok        bool
	}{
		{"yta_0192abc_secret", "0192abc", true},
		{"yte_0192abc_secret", "", false},
		{"yta__secret", "", false},
		{"yta_noSecret", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		id, ok := agentTokenID(tc.token)
		if id != tc.id || ok != tc.ok {
			t.Errorf("agentTokenID(%q) = %q, %v; want %q, %v", tc.token, id, ok, tc.id, tc.ok)
		}
	}
}

func TestAgentTokenSwap(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tok := newAgentToken("yta_a_one", now.Add(time.Hour))
	if tok.Token() != "yta_a_one" || tok.expired(now) {
		t.Fatalf("fresh token: %q expired=%v", tok.Token(), tok.expired(now))
	}
	tok.set("yta_a_two", now.Add(2*time.Hour))
	if tok.Token() != "yta_a_two" || tok.expired(now.Add(90*time.Minute)) || !tok.expired(now.Add(2*time.Hour)) {
		t.Fatalf("after swap: %q", tok.Token())
	}
	if newAgentToken("yta_a_x", time.Time{}).expired(now) {
		t.Fatal("a token without expiry expired")
	}
}
