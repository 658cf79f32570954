package blob

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzLocalVerify checks the local store's URL verification: arbitrary
// paths and queries never panic and never get through, a presigned URL's path
// decodes back to its key, and no mutation of a valid signature is accepted.
func FuzzLocalVerify(f *testing.F) {
	f.Add("jobs/j/tasks/t/attempt-1/transcript.json", "method=GET&expires=1893553445&sig=00", uint(0), byte(1))
	f.Add("uploads/j/source", "", uint(63), byte(0x20))
	f.Add("a b/ü%2F/c", "sig=&sig=&method=PUT", uint(7), byte(0xff))
	f.Add("../../etc/passwd", "method=GET&expires=%2B1&sig=zz", uint(1), byte('a'^'A'))
	f.Add("k", "method=GET&expires=99999999999999999999&sig=", uint(3), byte(2))

	clock := newFakeClock()
	l, err := NewLocal(f.TempDir(), testSecret(), "http://127.0.0.1:1", clock.Now)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = l.Close() })
	now := clock.Now()

	f.Fuzz(func(t *testing.T, key, rawQuery string, pos uint, flip byte) {
		// Arbitrary requests: no panic, no success (nothing here was signed).
		q, _ := url.ParseQuery(rawQuery)
		for _, m := range []string{http.MethodGet, http.MethodPut} {
			if err := l.verify(m, key, q, now); err == nil {
				t.Fatalf("verify accepted an unsigned request: %s %q ?%s", m, key, rawQuery)
			}
			rec := serve(l, m, PathPrefix+key, rawQuery, strings.NewReader("x"))
			if rec.Code < 400 {
				t.Fatalf("%s %q ?%s: status %d", m, key, rawQuery, rec.Code)
			}
		}

		if CheckKey(key) != nil {
			return
		}
		p, err := l.PresignPut(t.Context(), key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(p.URL)
		if err != nil {
			t.Fatalf("presigned URL %q does not parse: %v", p.URL, err)
		}
		got, ok := strings.CutPrefix(u.Path, PathPrefix)
		if !ok || got != key {
			t.Fatalf("URL path %q does not decode to key %q", u.Path, key)
		}
		q = u.Query()
		if err := l.verify(http.MethodPut, got, q, now); err != nil {
			t.Fatalf("fresh URL refused: %v", err)
		}
		if err := l.verify(http.MethodGet, got, q, now); err == nil {
			t.Fatal("PUT URL accepted for GET")
		}

		sig := []byte(q.Get("sig"))
		if flip == 0 {
			flip = 1
		}
		sig[pos%uint(len(sig))] ^= flip
		q.Set("sig", string(sig))
		if err := l.verify(http.MethodPut, got, q, now); err == nil {
			t.Fatalf("mutated signature %q accepted", sig)
		}
		// Truncated or extended signatures fail too.
		q.Set("sig", string(sig[:pos%uint(len(sig))]))
		if err := l.verify(http.MethodPut, got, q, now); err == nil {
			t.Fatal("truncated signature accepted")
		}
	})
}
