package console

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	keyA = "session-key-A-0123456789abcdefghijklmnop"
	keyB = "session-key-B-0123456789abcdefghijklmnop"
)

func newSigner(clk *clock, keys ...string) *signer {
	g := &signer{idle: 30 * time.Minute, maxAge: 8 * time.Hour, now: clk.Now}
	for _, k := range keys {
		g.keys = append(g.keys, newSigningKey([]byte(k)))
	}
	return g
}

func TestTokenVerify(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		signed  []string                              // keys of the issuing signer
		checked []string                              // keys of the verifying signer
		advance time.Duration                         // clock moved between issue and verify
		mangle  func(t *testing.T, tok string) string // applied to the token
		wantOK  bool
	}{
		{name: "valid", signed: []string{keyA}, checked: []string{keyA}, wantOK: true},
		{name: "valid near idle limit", signed: []string{keyA}, checked: []string{keyA}, advance: 29 * time.Minute, wantOK: true},
		{name: "expired", signed: []string{keyA}, checked: []string{keyA}, advance: 31 * time.Minute},
		{name: "wrong key", signed: []string{keyB}, checked: []string{keyA}},
		{name: "rotated: old key still verifies", signed: []string{keyA}, checked: []string{keyB, keyA}, wantOK: true},
		{name: "rotated: old key dropped", signed: []string{keyA}, checked: []string{keyB}},
		{name: "tampered payload", signed: []string{keyA}, checked: []string{keyA}, mangle: func(t *testing.T, tok string) string {
			p := strings.Split(tok, ".")
			b, err := base64.RawURLEncoding.DecodeString(p[1])
			if err != nil {
				t.Fatal(err)
			}
			p[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(b), `"viewer"`, `"admin"`, 1)))
			return strings.Join(p, ".")
		}},
		{name: "tampered signature", signed: []string{keyA}, checked: []string{keyA}, mangle: func(_ *testing.T, tok string) string {
			last := tok[len(tok)-2]
			c := byte('A')
			if last == 'A' {
				c = 'B'
			}
			return tok[:len(tok)-2] + string(c) + tok[len(tok)-1:]
		}},
		{name: "alg none", signed: []string{keyA}, checked: []string{keyA}, mangle: func(t *testing.T, tok string) string {
			p := strings.Split(tok, ".")
			p[0] = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
			return p[0] + "." + p[1] + "."
		}},
		{name: "HS512 with the right key", signed: []string{keyA}, checked: []string{keyA}, mangle: func(t *testing.T, tok string) string {
			c := jwt.MapClaims{"iss": issuer, "sub": "k1", "jti": "s1", "exp": time.Now().Add(time.Hour).Unix(), "auth_time": start.Unix()}
			tk := jwt.NewWithClaims(jwt.SigningMethodHS512, c)
			tk.Header["kid"] = newSigningKey([]byte(keyA)).id
			s, err := tk.SignedString([]byte(keyA))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{name: "garbage", signed: []string{keyA}, checked: []string{keyA}, mangle: func(*testing.T, string) string { return "not-a-token" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{t: start}
			tok, _, err := newSigner(clk, tc.signed...).issue(session{KeyID: "k1", Tenant: "acme", Role: "viewer"})
			if err != nil {
				t.Fatal(err)
			}
			if tc.mangle != nil {
				tok = tc.mangle(t, tok)
			}
			clk.Add(tc.advance)
			s, err := newSigner(clk, tc.checked...).verify(tok)
			if ok := err == nil; ok != tc.wantOK {
				t.Fatalf("verify ok = %v (%v), want %v", ok, err, tc.wantOK)
			}
			if tc.wantOK && (s.KeyID != "k1" || s.Tenant != "acme" || s.Role != "viewer") {
				t.Fatalf("claims = %+v", s)
			}
		})
	}
}

// A session slides with use but never outlives MaxAge from its login.
func TestTokenRefreshBoundedByMaxAge(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	g := newSigner(clk, keyA)
	tok, first, err := g.issue(session{KeyID: "k1", Tenant: "acme", Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		clk.Add(20 * time.Minute)
		s, err := g.verify(tok)
		if err != nil {
			if elapsed := clk.Now().Sub(first.AuthTime); elapsed < 8*time.Hour || elapsed > 8*time.Hour+20*time.Minute {
				t.Fatalf("session ended after %v: %v", elapsed, err)
			}
			return
		}
		if s.ID != first.ID || !s.AuthTime.Equal(first.AuthTime) {
			t.Fatalf("refresh changed the session: %+v vs %+v", s, first)
		}
		if tok, _, err = g.issue(s); err != nil {
			if clk.Now().Sub(first.AuthTime) < 8*time.Hour-time.Second {
				t.Fatalf("refresh refused at %v: %v", clk.Now().Sub(first.AuthTime), err)
			}
			return
		}
		if i > 100 {
			t.Fatal("session never ended")
		}
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now()}
	g := newSigner(clk, keyA)
	_, s1, _ := g.issue(session{KeyID: "k1"})
	_, s2, _ := g.issue(session{KeyID: "k1"})
	good := csrfToken(s1)
	tests := []struct {
		name           string
		cookie, header string
		want           bool
	}{
		{"match", good, good, true},
		{"missing header", good, "", false},
		{"missing cookie", "", good, false},
		{"both missing", "", "", false},
		{"header differs from cookie", good, good + "x", false},
		{"forged pair", "attacker", "attacker", false},
		{"another session's token", csrfToken(s2), csrfToken(s2), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := checkCSRF(s1, tc.cookie, tc.header); got != tc.want {
				t.Fatalf("checkCSRF = %v, want %v", got, tc.want)
			}
		})
	}
	// After rotation the token stays bound to the key that signed the session.
	rotated := newSigner(clk, keyB, keyA)
	tok, _, _ := g.issue(s1)
	s, err := rotated.verify(tok)
	if err != nil || !checkCSRF(s, good, good) {
		t.Fatalf("rotated: verify %v, csrf %v", err, checkCSRF(s, good, good))
	}
}

func TestLoadKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name    string
		spec    string
		dir     string
		want    int
		wantErr bool
	}{
		{name: "one", spec: keyA, want: 1},
		{name: "rotation list with spaces", spec: keyB + " , " + keyA + ",", want: 2},
		{name: "too short", spec: keyA + ",short", wantErr: true},
		{name: "generated", dir: dir, want: 1},
		{name: "nothing", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys, err := LoadKeys(tc.spec, tc.dir)
			if (err != nil) != tc.wantErr || len(keys) != tc.want {
				t.Fatalf("LoadKeys = %d keys, %v", len(keys), err)
			}
		})
	}
	// The generated key is kept: a restart keeps sessions valid.
	a, _ := LoadKeys("", dir)
	b, err := LoadKeys("", dir)
	if err != nil || string(a[0]) != string(b[0]) || len(a[0]) < MinKeyLen {
		t.Fatalf("generated key not kept: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
}
