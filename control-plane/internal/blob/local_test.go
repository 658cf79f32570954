package blob

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// serve runs one request through the handler without a network, so paths
// reach it exactly as written.
func serve(l *Local, method, path, rawQuery string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/", body)
	req.URL.Path = path
	req.URL.RawPath = ""
	req.URL.RawQuery = rawQuery
	rec := httptest.NewRecorder()
	l.Handler().ServeHTTP(rec, req)
	return rec
}

func signedQuery(l *Local, method, key string, exp int64) string {
	return url.Values{
		"method":  {method},
		"expires": {strconv.FormatInt(exp, 10)},
		"sig":     {l.sign(method, key, exp)},
	}.Encode()
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e api.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not the API's JSON: %v", body, err)
	}
	if e.Error.Message == "" {
		t.Errorf("error body %q has no message", body)
	}
	return e.Error.Code
}

func TestNewLocalRejectsShortSecret(t *testing.T) {
	t.Parallel()
	if _, err := NewLocal(t.TempDir(), []byte("short"), "", nil); err == nil {
		t.Fatal("NewLocal accepted a 5-byte secret")
	}
}

func TestLocalExpiredURLRefused(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := newLocalServer(t, clock.Now)
	if err := l.Put(t.Context(), "k.json", strings.NewReader(`{}`), 2, ""); err != nil {
		t.Fatal(err)
	}
	get, err := l.PresignGet(t.Context(), "k.json", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	put, err := l.PresignPut(t.Context(), "k.json", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Now().Add(time.Minute); !get.Expires.Equal(want) {
		t.Errorf("Expires = %s, want %s", get.Expires, want)
	}
	clock.Advance(59 * time.Second)
	if code, _ := do(t, http.MethodGet, get.URL, nil); code != http.StatusOK {
		t.Fatalf("GET before expiry: %d", code)
	}
	clock.Advance(time.Second)
	code, body := do(t, http.MethodGet, get.URL, nil)
	if code != http.StatusForbidden || errorCode(t, body) != api.CodeForbidden {
		t.Errorf("GET at expiry: %d %s", code, body)
	}
	if code, body := do(t, http.MethodPut, put.URL, []byte("late")); code != http.StatusForbidden {
		t.Errorf("PUT at expiry: %d %s", code, body)
	}
	if got := readAll(t, l, "k.json"); string(got) != "{}" {
		t.Errorf("object changed by an expired PUT: %q", got)
	}
}

func TestLocalHandlerResponses(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := newLocalServer(t, clock.Now, WithMaxBodySize(10))
	if err := l.Put(t.Context(), "ten.json", strings.NewReader(`{"a":"bc"}`), 10, ""); err != nil {
		t.Fatal(err)
	}
	exp := clock.Now().Add(time.Hour).Unix()
	tests := []struct {
		name        string
		method      string
		path        string
		query       string
		body        io.Reader
		status      int
		code        string // error code; "" for success
		contentType string
	}{
		{"get", http.MethodGet, PathPrefix + "ten.json", signedQuery(l, "GET", "ten.json", exp), nil, 200, "", "application/json"},
		{"missing", http.MethodGet, PathPrefix + "nope", signedQuery(l, "GET", "nope", exp), nil, 404, api.CodeNotFound, ""},
		{"unsigned", http.MethodGet, PathPrefix + "ten.json", "", nil, 403, api.CodeForbidden, ""},
		{"repeated sig", http.MethodGet, PathPrefix + "ten.json", signedQuery(l, "GET", "ten.json", exp) + "&sig=00", nil, 403, api.CodeForbidden, ""},
		{"expiry with plus sign", http.MethodGet, PathPrefix + "ten.json",
			strings.Replace(signedQuery(l, "GET", "ten.json", exp), "expires=", "expires=%2B", 1), nil, 403, api.CodeForbidden, ""},
		{"upper-case sig", http.MethodGet, PathPrefix + "ten.json",
			url.Values{"method": {"GET"}, "expires": {strconv.FormatInt(exp, 10)}, "sig": {strings.ToUpper(l.sign("GET", "ten.json", exp))}}.Encode(),
			nil, 403, api.CodeForbidden, ""},
		{"other secret", http.MethodGet, PathPrefix + "ten.json", func() string {
			other, err := NewLocal(t.TempDir(), []byte("another-secret-of-32-bytes......"), "", clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			return signedQuery(other, "GET", "ten.json", exp)
		}(), nil, 403, api.CodeForbidden, ""},
		{"outside prefix", http.MethodGet, "/v1/other/ten.json", signedQuery(l, "GET", "ten.json", exp), nil, 404, api.CodeNotFound, ""},
		{"put at cap", http.MethodPut, PathPrefix + "new", signedQuery(l, "PUT", "new", exp), strings.NewReader("0123456789"), 200, "", ""},
		{"put over cap", http.MethodPut, PathPrefix + "big", signedQuery(l, "PUT", "big", exp), strings.NewReader("0123456789x"), 413, api.CodeTooLarge, ""},
		{"chunked put over cap", http.MethodPut, PathPrefix + "big", signedQuery(l, "PUT", "big", exp), io.MultiReader(strings.NewReader("0123456789x")), 413, api.CodeTooLarge, ""},
		{"delete", http.MethodDelete, PathPrefix + "ten.json", signedQuery(l, "DELETE", "ten.json", exp), nil, 405, api.CodeInvalidRequest, ""},
	}
	for _, tt := range tests {
		rec := serve(l, tt.method, tt.path, tt.query, tt.body)
		if rec.Code != tt.status {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, rec.Code, tt.status, rec.Body)
			continue
		}
		if tt.code != "" {
			if got := errorCode(t, rec.Body.Bytes()); got != tt.code {
				t.Errorf("%s: error code %q, want %q", tt.name, got, tt.code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: error content type %q", tt.name, ct)
			}
		}
		if tt.contentType != "" && rec.Header().Get("Content-Type") != tt.contentType {
			t.Errorf("%s: content type %q, want %q", tt.name, rec.Header().Get("Content-Type"), tt.contentType)
		}
	}
	if _, err := l.Get(t.Context(), "big"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an over-cap PUT left an object: %v", err)
	}
	assertNoTemps(t, l)
}

// TestLocalEscapeRejected signs hostile keys with the store's own secret, so
// nothing but the key checks stand between them and the file system.
func TestLocalEscapeRejected(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, "blobs")
	outside := filepath.Join(parent, "outside")
	if err := os.MkdirAll(outside, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	l, err := NewLocal(dir, testSecret(), "http://127.0.0.1:1", clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	// A symlink planted inside the store must not lead out of it either.
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	exp := clock.Now().Add(time.Hour).Unix()
	hostile := []string{
		"../outside/secret", "../outside/new", "a/../../outside/secret", "/etc/passwd",
		`..\outside\secret`, "x\x00y", "", "./a", "a//b", ".tmp/x",
	}
	for _, key := range hostile {
		for _, method := range []string{http.MethodGet, http.MethodPut} {
			rec := serve(l, method, PathPrefix+key, signedQuery(l, method, key, exp), strings.NewReader("pwned"))
			if rec.Code != http.StatusBadRequest {
				t.Errorf("%s %q: status %d, want 400", method, key, rec.Code)
			}
		}
	}
	// Keys that pass CheckKey but lead through the symlink.
	for _, key := range []string{"link/secret", "link/new"} {
		if err := l.Put(t.Context(), key, strings.NewReader("pwned"), 5, ""); err == nil {
			t.Errorf("Put(%q) through a symlink succeeded", key)
		}
		if rc, err := l.Get(t.Context(), key); err == nil {
			rc.Close()
			t.Errorf("Get(%q) through a symlink succeeded", key)
		}
		rec := serve(l, http.MethodGet, PathPrefix+key, signedQuery(l, "GET", key, exp), nil)
		if rec.Code == http.StatusOK {
			t.Errorf("GET %q through a symlink: 200 %q", key, rec.Body)
		}
	}
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("files appeared outside the store: %v", entries)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
		t.Errorf("file outside the store was changed: %q", b)
	}
}

func assertNoTemps(t *testing.T, l *Local) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(l.root.Name(), tmpDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("partial writes left behind: %v", entries)
	}
}

func TestLocalConcurrentWritersNeverTear(t *testing.T) {
	t.Parallel()
	l := newLocalServer(t, nil)
	const (
		key     = "jobs/j/tasks/t/attempt-1/transcript.json"
		writers = 6
		puts    = 15
		size    = 256 << 10
	)
	if err := l.Put(t.Context(), key, bytes.NewReader(bytes.Repeat([]byte{'A'}, size)), size, ""); err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		done    atomic.Bool
		reads   atomic.Int64
		errs    = make(chan error, writers+4)
		checkFn = func(b []byte) error {
			if len(b) != size {
				return fmt.Errorf("read %d bytes, want %d", len(b), size)
			}
			if n := bytes.Count(b, b[:1]); n != size {
				return fmt.Errorf("torn object: %d of %d bytes are %q", n, size, b[0])
			}
			return nil
		}
	)
	for w := range writers {
		wg.Go(func() {
			body := bytes.Repeat([]byte{byte('a' + w)}, size)
			for i := range puts {
				var err error
				if i%2 == 0 {
					err = l.Put(t.Context(), key, bytes.NewReader(body), size, "")
				} else { // through the presigned path too
					var p api.Presigned
					if p, err = l.PresignPut(t.Context(), key, time.Minute); err == nil {
						var resp *http.Response
						req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, p.URL, bytes.NewReader(body))
						if resp, err = http.DefaultClient.Do(req); err == nil {
							resp.Body.Close()
							if resp.StatusCode != http.StatusOK {
								err = fmt.Errorf("presigned PUT: %d", resp.StatusCode)
							}
						}
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for !done.Load() {
				rc, err := l.Get(t.Context(), key)
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err == nil {
					err = checkFn(b)
				}
				if err != nil {
					errs <- err
					return
				}
				reads.Add(1)
			}
		})
	}
	wg.Wait()
	done.Store(true)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := checkFn(readAll(t, l, key)); err != nil {
		t.Error(err)
	}
	t.Logf("%d reads during %d writes", reads.Load(), writers*puts)
	assertNoTemps(t, l)
}

func TestLocalDeleteRacesPut(t *testing.T) {
	t.Parallel()
	l := newLocalServer(t, nil)
	// Delete prunes empty directories that a concurrent Put may just have
	// made; the Put must still land.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			key := fmt.Sprintf("jobs/j/tasks/t/attempt-%d/transcript.json", i)
			for range 50 {
				if err := l.Put(t.Context(), key, strings.NewReader("x"), 1, ""); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				if err := l.Delete(t.Context(), key); err != nil {
					t.Errorf("Delete: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if _, err := os.Stat(filepath.Join(l.root.Name(), "jobs")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty directories left behind: %v", err)
	}
}

func TestLocalDeleteKeepsSiblings(t *testing.T) {
	t.Parallel()
	l := newLocalServer(t, nil)
	ctx := t.Context()
	a, b := ResultKey("j", "t", 1), ResultKey("j", "t", 2)
	for _, k := range []string{a, b} {
		if err := l.Put(ctx, k, strings.NewReader(k), int64(len(k)), ""); err != nil {
			t.Fatal(err)
		}
	}
	// A key naming a directory is not an object.
	if err := l.Delete(ctx, "jobs/j"); err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, l, b); string(got) != b {
		t.Fatalf("sibling lost: %q", got)
	}
}

func TestLocalRemovesStaleTemps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := newFakeClock()
	l, err := NewLocal(dir, testSecret(), "", clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	stale, fresh := filepath.Join(dir, tmpDir, "stale"), filepath.Join(dir, tmpDir, "fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := clock.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(fresh, clock.Now(), clock.Now()); err != nil {
		t.Fatal(err)
	}
	l, err = NewLocal(dir, testSecret(), "", clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale partial write kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh partial write removed: %v", err)
	}
}

func TestLocalBaseURL(t *testing.T) {
	t.Parallel()
	l, err := NewLocal(t.TempDir(), testSecret(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.PresignGet(t.Context(), "k", time.Minute); err == nil {
		t.Error("presigned without a base URL")
	}
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://host", "http://", "http://h/?q=1", "http://h/#f"} {
		if err := l.SetBaseURL(bad); err == nil {
			t.Errorf("SetBaseURL(%q) accepted", bad)
		}
	}
	// The server sets its address while requests are already presigning.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 100 {
				if err := l.SetBaseURL(fmt.Sprintf("http://127.0.0.1:%d/", 8000+i*100+j)); err != nil {
					t.Error(err)
					return
				}
				p, err := l.PresignGet(t.Context(), "a b/c", time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if !strings.HasPrefix(p.URL, "http://127.0.0.1:") || !strings.Contains(p.URL, PathPrefix+"a%20b/c?") {
					t.Errorf("URL %s", p.URL)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.SetBaseURL("https://captions.example.com/base/"); err != nil {
		t.Fatal(err)
	}
	p, err := l.PresignPut(t.Context(), "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.URL, "https://captions.example.com/base"+PathPrefix+"k?") {
		t.Errorf("URL %s", p.URL)
	}
}
