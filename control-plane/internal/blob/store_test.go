package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/testenv"
)

// store is what the shared tests exercise on both backends.
type store interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	PresignPut(ctx context.Context, key string, ttl time.Duration) (api.Presigned, error)
	PresignGet(ctx context.Context, key string, ttl time.Duration) (api.Presigned, error)
	Ping(ctx context.Context) error
}

var (
	_ store = (*S3)(nil)
	_ store = (*Local)(nil)
)

// backend is one store plus the names its presigned URLs give to the expiry
// and signature query parameters.
type backend struct {
	name     string
	new      func(t *testing.T) store
	expParam string
	sigParam string
}

// eachBackend runs fn as a parallel subtest on a fresh store of each backend.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend, s store)) {
	for _, b := range []backend{
		{name: "local", new: func(t *testing.T) store { return newLocalServer(t, nil) }, expParam: "expires", sigParam: "sig"},
		{name: "s3", new: func(t *testing.T) store { return newS3(t, testenv.MinIO(t), "") }, expParam: "X-Amz-Expires", sigParam: "X-Amz-Signature"},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b, b.new(t))
		})
	}
}

// testSecret is the local signing key of the tests.
func testSecret() []byte { return []byte("0123456789abcdef0123456789abcdef") }

// newLocalServer makes a Local store served by an httptest server, as the
// HTTP API would serve it.
func newLocalServer(t *testing.T, clock func() time.Time, opts ...LocalOption) *Local {
	t.Helper()
	l, err := NewLocal(t.TempDir(), testSecret(), "", clock, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	if err := l.SetBaseURL(srv.URL); err != nil {
		t.Fatal(err)
	}
	return l
}

func newS3(t *testing.T, env testenv.S3, prefix string) *S3 {
	t.Helper()
	s, err := NewS3(t.Context(), S3Config{
		Endpoint:  env.Endpoint,
		Bucket:    env.Bucket,
		AccessKey: env.AccessKey,
		SecretKey: env.SecretKey,
		Prefix:    prefix,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readAll(t *testing.T, s store, key string) []byte {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, _ backend, s store) {
		ctx := t.Context()
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		key := ResultKey("job1", "task1", 1)
		tests := []struct {
			name string
			body []byte
			size int64
		}{
			{"known size", []byte(`{"text":"hello"}`), -2}, // -2: use len(body)
			{"unknown size", []byte(`{"text":"replaced"}`), -1},
			{"empty", []byte{}, 0},
			{"large", bytes.Repeat([]byte("0123456789"), 300_000), -2},
		}
		for _, tt := range tests {
			size := tt.size
			if size == -2 {
				size = int64(len(tt.body))
			}
			if err := s.Put(ctx, key, bytes.NewReader(tt.body), size, "application/json"); err != nil {
				t.Fatalf("%s: Put: %v", tt.name, err)
			}
			if got := readAll(t, s, key); !bytes.Equal(got, tt.body) {
				t.Fatalf("%s: Get returned %d bytes, want %d", tt.name, len(got), len(tt.body))
			}
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
	})
}

func TestGetMissing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, _ backend, s store) {
		if err := s.Put(t.Context(), "a/b/c", strings.NewReader("x"), 1, ""); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"nope", "a/b", "a/b/c/d", "a/b/cc"} {
			if _, err := s.Get(t.Context(), key); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%q) = %v, want ErrNotFound", key, err)
			}
		}
	})
}

func TestSizeMismatch(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, _ backend, s store) {
		if err := s.Put(t.Context(), "k", strings.NewReader("abc"), 10, ""); err == nil {
			t.Fatal("Put with a short body succeeded")
		}
		if _, err := s.Get(t.Context(), "k"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a failed Put left an object behind: %v", err)
		}
	})
}

func TestInvalidKeysRejected(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, _ backend, s store) {
		ctx := t.Context()
		for _, key := range []string{"", "/etc/passwd", "../x", "a/../../x", `..\x`, "a\x00b", ".tmp/x"} {
			calls := map[string]error{
				"Put":    s.Put(ctx, key, strings.NewReader("x"), 1, ""),
				"Delete": s.Delete(ctx, key),
			}
			_, calls["Get"] = s.Get(ctx, key)
			_, calls["PresignPut"] = s.PresignPut(ctx, key, time.Minute)
			_, calls["PresignGet"] = s.PresignGet(ctx, key, time.Minute)
			for name, err := range calls {
				if !errors.Is(err, ErrInvalidKey) {
					t.Errorf("%s(%q) = %v, want ErrInvalidKey", name, key, err)
				}
			}
		}
	})
}

func TestPresignTTLBounds(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, _ backend, s store) {
		for _, ttl := range []time.Duration{0, -time.Second, time.Millisecond, 8 * 24 * time.Hour} {
			if _, err := s.PresignPut(t.Context(), "k", ttl); err == nil {
				t.Errorf("PresignPut with ttl %s succeeded", ttl)
			}
		}
	})
}

func do(t *testing.T, method, rawURL string, body []byte) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestPresignedRoundTrip(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, _ backend, s store) {
		ctx := t.Context()
		key := ResultKey("job 1", "täsk", 3) // needs escaping in a URL
		body := []byte(`{"language":"en","text":"hello world"}`)

		put, err := s.PresignPut(ctx, key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if put.Method != http.MethodPut || put.Key != key || !put.Expires.After(time.Now()) {
			t.Errorf("PresignPut = %+v", put)
		}
		if code, msg := do(t, http.MethodPut, put.URL, body); code != http.StatusOK {
			t.Fatalf("presigned PUT: %d %s", code, msg)
		}
		if got := readAll(t, s, key); !bytes.Equal(got, body) {
			t.Fatalf("Get after presigned PUT = %q", got)
		}

		get, err := s.PresignGet(ctx, key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if get.Method != http.MethodGet || get.Key != key {
			t.Errorf("PresignGet = %+v", get)
		}
		code, got := do(t, http.MethodGet, get.URL, nil)
		if code != http.StatusOK || !bytes.Equal(got, body) {
			t.Fatalf("presigned GET: %d %q", code, got)
		}
		// SigV4 signs the method, so S3 refuses HEAD on a GET URL; Local does the same.
		if code, _ := do(t, http.MethodHead, get.URL, nil); code != http.StatusForbidden {
			t.Errorf("HEAD on a presigned GET URL: %d, want 403", code)
		}

		missing, err := s.PresignGet(ctx, "no/such/key", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if code, _ := do(t, http.MethodGet, missing.URL, nil); code != http.StatusNotFound {
			t.Errorf("presigned GET of a missing key: %d, want 404", code)
		}
	})
}

// tamper returns rawURL with one query parameter replaced.
func tamper(t *testing.T, rawURL, param string, f func(string) string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if param != "" {
		if q.Get(param) == "" {
			t.Fatalf("URL %s has no %s", rawURL, param)
		}
		q.Set(param, f(q.Get(param)))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func flipLast(s string) string {
	c := byte('0')
	if s[len(s)-1] == '0' {
		c = '1'
	}
	return s[:len(s)-1] + string(c)
}

func TestPresignedTamperedRefused(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend, s store) {
		ctx := t.Context()
		const key = "jobs/j/tasks/t/attempt-1/transcript.json"
		if err := s.Put(ctx, key, strings.NewReader("original"), 8, "application/json"); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, key+"x", strings.NewReader("other"), 5, "application/json"); err != nil {
			t.Fatal(err)
		}
		put, err := s.PresignPut(ctx, key, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		get, err := s.PresignGet(ctx, key, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		later := func(v string) string {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return strconv.FormatInt(n+60, 10)
		}
		tests := []struct {
			name   string
			method string
			url    string
			want   int
		}{
			// Re-encoding alone must not break a URL, or the cases below prove nothing.
			{"re-encoded GET", http.MethodGet, tamper(t, get.URL, "", nil), http.StatusOK},
			{"changed key GET", http.MethodGet, strings.Replace(get.URL, "transcript.json?", "transcript.jsonx?", 1), http.StatusForbidden},
			{"changed key PUT", http.MethodPut, strings.Replace(put.URL, "transcript.json?", "transcript.jsonx?", 1), http.StatusForbidden},
			{"changed expiry GET", http.MethodGet, tamper(t, get.URL, b.expParam, later), http.StatusForbidden},
			{"changed expiry PUT", http.MethodPut, tamper(t, put.URL, b.expParam, later), http.StatusForbidden},
			{"changed signature GET", http.MethodGet, tamper(t, get.URL, b.sigParam, flipLast), http.StatusForbidden},
			{"changed signature PUT", http.MethodPut, tamper(t, put.URL, b.sigParam, flipLast), http.StatusForbidden},
			{"GET URL used to PUT", http.MethodPut, get.URL, http.StatusForbidden},
			{"PUT URL used to GET", http.MethodGet, put.URL, http.StatusForbidden},
		}
		for _, tt := range tests {
			var body []byte
			if tt.method == http.MethodPut {
				body = []byte("tampered")
			}
			code, msg := do(t, tt.method, tt.url, body)
			if code != tt.want {
				t.Errorf("%s: status %d, want %d (%s)", tt.name, code, tt.want, msg)
			}
		}
		// Without a signature S3 answers 400 (MissingFields), Local 403.
		unsigned := tamper(t, get.URL, b.sigParam, func(string) string { return "" })
		if code, _ := do(t, http.MethodGet, unsigned, nil); code != http.StatusForbidden && code != http.StatusBadRequest {
			t.Errorf("dropped signature: status %d, want 403 or 400", code)
		}
		if got := readAll(t, s, key); string(got) != "original" {
			t.Errorf("object changed by refused requests: %q", got)
		}
		if got := readAll(t, s, key+"x"); string(got) != "other" {
			t.Errorf("neighbour object changed by refused requests: %q", got)
		}
	})
}
