package api_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_900_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"job.succeeded"}`)
	signed := api.Sign([]string{"new-secret", "old-secret"}, now, body)
	tests := []struct {
		name    string
		header  string
		body    []byte
		secrets []string
		at      time.Time
		want    error
	}{
		{"current secret", signed, body, []string{"new-secret"}, now, nil},
		{"previous secret during rotation", signed, body, []string{"old-secret"}, now, nil},
		{"tampered body", signed, append([]byte{' '}, body...), []string{"new-secret"}, now, api.ErrSignatureMismatch},
		{"wrong secret", signed, body, []string{"other"}, now, api.ErrSignatureMismatch},
		{"too old", signed, body, []string{"new-secret"}, now.Add(10 * time.Minute), api.ErrSignatureExpired},
		{"from the future", signed, body, []string{"new-secret"}, now.Add(-10 * time.Minute), api.ErrSignatureExpired},
		{"empty header", "", body, []string{"new-secret"}, now, api.ErrSignatureMissing},
		{"no v1", "t=1900000000", body, []string{"new-secret"}, now, api.ErrSignatureMissing},
		{"bad t", "t=x,v1=00", body, []string{"new-secret"}, now, api.ErrSignatureMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := api.VerifySignature(tc.header, tc.body, tc.secrets, 5*time.Minute, tc.at)
			if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzVerifySignature(f *testing.F) {
	now := time.Unix(1_900_000_000, 0)
	f.Add(api.Sign([]string{"s"}, now, []byte("{}")), []byte("{}"), "s")
	f.Add("t=1900000000,v1=zz,v1=", []byte(""), "")
	f.Add(",,,=,t=,v1", []byte("x"), "k")
	f.Fuzz(func(t *testing.T, header string, body []byte, secret string) {
		// Arbitrary headers must never panic; a forged one must not verify.
		if api.VerifySignature(header, body, []string{secret}, time.Hour, now) == nil && !strings.Contains(header, "v1=") {
			t.Fatal("a header without v1 verified")
		}
		good := api.Sign([]string{secret}, now, body)
		if err := api.VerifySignature(good, body, []string{secret}, time.Hour, now); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
		if err := api.VerifySignature(good, body, []string{secret + "!"}, time.Hour, now); err == nil {
			t.Fatal("signature accepted with another secret")
		}
	})
}
