package console_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
	"github.com/ytcaption/ytcaption/control-plane/internal/console"
	"github.com/ytcaption/ytcaption/control-plane/internal/httpapi"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/server"
	"github.com/ytcaption/ytcaption/test/testenv"
)

const (
	keyA = "session-key-A-0123456789abcdefghijklmnop"
	keyB = "session-key-B-0123456789abcdefghijklmnop"
)

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

type noNotify struct{}

func (noNotify) Notify(context.Context) {}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// world is a store with keys of each interesting kind, and the API on it.
type world struct {
	st       store.Store
	clk      *clock
	admin    string // key tokens
	viewer   string
	revoked  string // revoked by the test that uses it
	expiring string // expires an hour after the start
	keyIDs   map[string]string
}

func newWorld(t *testing.T, dsn string) *world {
	t.Helper()
	ctx := context.Background()
	st, err := server.OpenStore(ctx, dsn, quiet())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	w := &world{st: st, clk: &clock{t: time.Now().UTC().Truncate(time.Second)}, keyIDs: map[string]string{}}
	mk := func(role store.Role, exp *time.Time) string {
		c := auth.New(auth.PrefixKey)
		if err := st.CreateAPIKey(ctx, store.APIKey{ID: c.ID, Tenant: "acme", Role: role, Hash: c.Hash(),
			CreatedAt: w.clk.Now(), ExpiresAt: exp}); err != nil {
			t.Fatalf("create key: %v", err)
		}
		w.keyIDs[c.Token()] = c.ID
		return c.Token()
	}
	exp := w.clk.Now().Add(time.Hour)
	w.admin, w.viewer, w.revoked, w.expiring = mk(store.RoleAdmin, nil), mk(store.RoleViewer, nil), mk(store.RoleAdmin, nil), mk(store.RoleAdmin, &exp)
	return w
}

// app builds the API with a console whose sessions are signed by keys.
func (w *world) app(t *testing.T, keys ...string) *fiber.App {
	t.Helper()
	var kb [][]byte
	for _, k := range keys {
		kb = append(kb, []byte(k))
	}
	con, err := console.New(console.Config{Keys: kb}, w.clk.Now, quiet())
	if err != nil {
		t.Fatal(err)
	}
	a := httpapi.New(httpapi.Config{AllowPrivateSources: true}, httpapi.Deps{
		Store: w.st, Notifier: noNotify{}, Now: w.clk.Now, Console: con,
		NewID: func() string { return uuid.Must(uuid.NewV7()).String() },
	}, quiet())
	return a.App()
}

// browser is a minimal cookie jar over app.Test.
type browser struct {
	t       *testing.T
	app     *fiber.App
	cookies map[string]*http.Cookie
	last    []*http.Cookie // Set-Cookie of the last response
}

func newBrowser(t *testing.T, app *fiber.App) *browser {
	return &browser{t: t, app: app, cookies: map[string]*http.Cookie{}}
}

func (b *browser) do(method, path, body string, hdr map[string]string) (int, api.Error) {
	b.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.app.Test(req, -1)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b.last = resp.Cookies()
	for _, c := range b.last {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	var eb api.ErrorBody
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(raw, &eb); err != nil || eb.Error.Code == "" {
			b.t.Fatalf("%s %s: %d without the API's error shape: %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, eb.Error
}

func (b *browser) login(key string) {
	b.t.Helper()
	if st, e := b.do(http.MethodPost, "/console/login", `{"key":"`+key+`"}`, nil); st != http.StatusOK {
		b.t.Fatalf("login: %d %v", st, e)
	}
}

func (b *browser) csrf() string {
	if c := b.cookies[console.CookieCSRF]; c != nil {
		return c.Value
	}
	return ""
}

func (b *browser) withCSRF() map[string]string {
	return map[string]string{console.HeaderCSRF: b.csrf()}
}

func backends(t *testing.T) map[string]func() string {
	return map[string]func() string{
		"sqlite":   func() string { return filepath.Join(t.TempDir(), "yt.db") },
		"postgres": func() string { return testenv.Postgres(t) },
	}
}

// TestSessionAuth drives the API through console sessions: each case logs
// in, disturbs one thing, and checks the status and error code.
func TestSessionAuth(t *testing.T) {
	t.Parallel()
	for name, dsn := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, dsn())
			app := w.app(t, keyA)
			// A job for cancel requests to act on (submitted with a bearer key).
			submit := newBrowser(t, app)
			jobID := func() string {
				req := httptest.NewRequest(http.MethodPost, "/v1/jobs", strings.NewReader(`{"url":"http://127.0.0.1:1/a.mp4"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+w.admin)
				resp, err := submit.app.Test(req, -1)
				if err != nil || resp.StatusCode != http.StatusAccepted {
					t.Fatalf("submit: %v %v", resp, err)
				}
				var j api.Job
				_ = json.NewDecoder(resp.Body).Decode(&j)
				resp.Body.Close()
				return j.ID
			}
			tests := []struct {
				name     string
				key      string // logged in with
				disturb  func(b *browser) map[string]string
				method   string
				path     string // "{job}" is replaced by a fresh job id
				wantCode int
				wantErr  string
			}{
				{name: "read", key: w.admin, method: "GET", path: "/v1/jobs", wantCode: 200},
				{name: "cancel with CSRF", key: w.admin, method: "POST", path: "/v1/jobs/{job}/cancel", wantCode: 200,
					disturb: func(b *browser) map[string]string { return b.withCSRF() }},
				{name: "cancel without CSRF", key: w.admin, method: "POST", path: "/v1/jobs/{job}/cancel", wantCode: 403, wantErr: api.CodeForbidden},
				{name: "cancel with mismatched CSRF", key: w.admin, method: "POST", path: "/v1/jobs/{job}/cancel", wantCode: 403, wantErr: api.CodeForbidden,
					disturb: func(b *browser) map[string]string { return map[string]string{console.HeaderCSRF: b.csrf() + "x"} }},
				{name: "cancel with forged CSRF pair", key: w.admin, method: "POST", path: "/v1/jobs/{job}/cancel", wantCode: 403, wantErr: api.CodeForbidden,
					disturb: func(b *browser) map[string]string {
						b.cookies[console.CookieCSRF].Value = "forged"
						return map[string]string{console.HeaderCSRF: "forged"}
					}},
				{name: "cancel with another session's CSRF", key: w.admin, method: "POST", path: "/v1/jobs/{job}/cancel", wantCode: 403, wantErr: api.CodeForbidden,
					disturb: func(b *browser) map[string]string {
						other := newBrowser(t, app)
						other.login(w.admin)
						b.cookies[console.CookieCSRF].Value = other.csrf()
						return other.withCSRF()
					}},
				{name: "no cookie", key: "", method: "GET", path: "/v1/jobs", wantCode: 401, wantErr: api.CodeUnauthorized},
				{name: "expired session", key: w.admin, method: "GET", path: "/v1/jobs", wantCode: 401, wantErr: api.CodeUnauthorized,
					disturb: func(b *browser) map[string]string { w.clk.Add(31 * time.Minute); return nil }},
				{name: "tampered session", key: w.viewer, method: "GET", path: "/v1/agents", wantCode: 401, wantErr: api.CodeUnauthorized,
					disturb: func(b *browser) map[string]string {
						c := b.cookies[console.CookieSession]
						p := strings.Split(c.Value, ".")
						p[1] = p[1][:len(p[1])-2] + "xx"
						c.Value = strings.Join(p, ".")
						return nil
					}},
				{name: "session signed with another key", key: w.admin, method: "GET", path: "/v1/jobs", wantCode: 401, wantErr: api.CodeUnauthorized,
					disturb: func(b *browser) map[string]string {
						other := newBrowser(t, w.app(t, keyB))
						other.login(w.admin)
						b.cookies[console.CookieSession] = other.cookies[console.CookieSession]
						return nil
					}},
				{name: "revoked key", key: w.revoked, method: "GET", path: "/v1/jobs", wantCode: 401, wantErr: api.CodeUnauthorized,
					disturb: func(b *browser) map[string]string {
						if err := w.st.RevokeAPIKey(context.Background(), w.keyIDs[w.revoked], w.clk.Now()); err != nil {
							t.Fatal(err)
						}
						return nil
					}},
				{name: "role still applies", key: w.viewer, method: "POST", path: "/v1/jobs/{job}/cancel", wantCode: 403, wantErr: api.CodeForbidden,
					disturb: func(b *browser) map[string]string { return b.withCSRF() }},
				{name: "bearer needs no CSRF", key: "", method: "POST", path: "/v1/jobs/{job}/cancel", wantCode: 200,
					disturb: func(b *browser) map[string]string { return map[string]string{"Authorization": "Bearer " + w.admin} }},
				{name: "bad bearer is not rescued by a session", key: w.admin, method: "GET", path: "/v1/jobs", wantCode: 401, wantErr: api.CodeUnauthorized,
					disturb: func(b *browser) map[string]string { return map[string]string{"Authorization": "Bearer ytc_nope_nope"} }},
				{name: "after logout", key: w.admin, method: "GET", path: "/v1/jobs", wantCode: 401, wantErr: api.CodeUnauthorized,
					disturb: func(b *browser) map[string]string {
						if st, _ := b.do("POST", "/console/logout", "", map[string]string{"Accept": "application/json"}); st != 204 {
							t.Fatalf("logout: %d", st)
						}
						return nil
					}},
			}
			// Cases share the clock, so they run one after another.
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					b := newBrowser(t, app)
					if tc.key != "" {
						b.login(tc.key)
					}
					var hdr map[string]string
					if tc.disturb != nil {
						hdr = tc.disturb(b)
					}
					path := strings.ReplaceAll(tc.path, "{job}", jobID())
					st, e := b.do(tc.method, path, "", hdr)
					if st != tc.wantCode || e.Code != tc.wantErr {
						t.Fatalf("got %d %q (%s), want %d %q", st, e.Code, e.Message, tc.wantCode, tc.wantErr)
					}
				})
			}
		})
	}
}

// A key that expires logs its session out when it does, and a session that
// is used slides until its absolute limit.
func TestSessionLifetime(t *testing.T) {
	t.Parallel()
	w := newWorld(t, filepath.Join(t.TempDir(), "yt.db"))
	app := w.app(t, keyA)

	b := newBrowser(t, app)
	b.login(w.expiring)
	for range 2 { // used every 20 minutes, the session slides past the key's expiry at 60
		w.clk.Add(20 * time.Minute)
		if st, _ := b.do("GET", "/v1/jobs", "", nil); st != 200 {
			t.Fatalf("before key expiry: %d", st)
		}
	}
	w.clk.Add(21 * time.Minute)
	if st, _ := b.do("GET", "/v1/jobs", "", nil); st != 401 {
		t.Fatalf("after key expiry: %d", st)
	}

	b = newBrowser(t, app)
	b.login(w.admin)
	for elapsed := time.Duration(0); ; {
		w.clk.Add(20 * time.Minute)
		elapsed += 20 * time.Minute
		st, _ := b.do("GET", "/v1/jobs", "", nil)
		if elapsed < 8*time.Hour && st != 200 {
			t.Fatalf("active session ended after %v: %d", elapsed, st)
		}
		if elapsed >= 8*time.Hour {
			if st != 401 {
				t.Fatalf("session outlived its 8 h limit: %d after %v", st, elapsed)
			}
			break
		}
	}
}

// Rotation: a new first key signs, the old one still verifies until dropped,
// and a refresh under the new key keeps the CSRF token valid.
func TestSessionKeyRotation(t *testing.T) {
	t.Parallel()
	w := newWorld(t, filepath.Join(t.TempDir(), "yt.db"))
	b := newBrowser(t, w.app(t, keyA))
	b.login(w.admin)

	rotated := w.app(t, keyB, keyA)
	b.app = rotated
	w.clk.Add(20 * time.Minute) // past half the idle time: the next request refreshes
	if st, _ := b.do("GET", "/v1/jobs", "", nil); st != 200 {
		t.Fatalf("old-key session under rotation: %d", st)
	}
	refreshed := false
	for _, c := range b.last {
		refreshed = refreshed || c.Name == console.CookieSession
	}
	if !refreshed {
		t.Fatal("session was not refreshed")
	}
	// The refreshed session is signed with keyB alone.
	b.app = w.app(t, keyB)
	if st, e := b.do("POST", "/v1/jobs/none/cancel", "", b.withCSRF()); st != 404 {
		t.Fatalf("re-signed session with its CSRF under keyB: %d %v", st, e)
	}
	stale := newBrowser(t, w.app(t, keyA))
	stale.login(w.admin)
	stale.app = w.app(t, keyB)
	if st, _ := stale.do("GET", "/v1/jobs", "", nil); st != 401 {
		t.Fatalf("session signed by a dropped key: %d", st)
	}
}

func TestLoginAndCookies(t *testing.T) {
	t.Parallel()
	w := newWorld(t, filepath.Join(t.TempDir(), "yt.db"))
	app := w.app(t, keyA)
	tests := []struct {
		name       string
		body       string
		form       bool
		hdr        map[string]string
		wantStatus int
		wantLoc    string
		wantSecure bool
	}{
		{name: "json", body: `{"key":"` + w.admin + `"}`, wantStatus: 200},
		{name: "json over TLS proxy", body: `{"key":"` + w.admin + `"}`, hdr: map[string]string{"X-Forwarded-Proto": "https"}, wantStatus: 200, wantSecure: true},
		{name: "form", body: "key=" + w.admin, form: true, wantStatus: 303, wantLoc: "/console/"},
		{name: "bad key json", body: `{"key":"ytc_bad_bad"}`, wantStatus: 401},
		{name: "bad key form", body: "key=nope-nope-nope", form: true, wantStatus: 303, wantLoc: "/console/login?error=invalid_key"},
		{name: "empty key", body: `{"key":""}`, wantStatus: 401},
		{name: "malformed json", body: `{"key":`, wantStatus: 400},
		{name: "cross-site", body: `{"key":"` + w.admin + `"}`, hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}, wantStatus: 403},
		{name: "foreign origin", body: `{"key":"` + w.admin + `"}`, hdr: map[string]string{"Origin": "https://evil.example"}, wantStatus: 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("POST", "/console/login", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.form {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("Location") != tc.wantLoc {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), tc.wantStatus, tc.wantLoc)
			}
			ok := tc.wantStatus == 200 || tc.wantLoc == "/console/"
			var session, csrf *http.Cookie
			for _, c := range resp.Cookies() {
				switch c.Name {
				case console.CookieSession:
					session = c
				case console.CookieCSRF:
					csrf = c
				}
			}
			if !ok {
				if session != nil || csrf != nil {
					t.Fatal("failed login set cookies")
				}
				return
			}
			if session == nil || csrf == nil {
				t.Fatal("missing cookies")
			}
			for _, c := range []*http.Cookie{session, csrf} {
				if c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != tc.wantSecure || c.Expires.IsZero() {
					t.Errorf("cookie %s: SameSite=%v Path=%q Secure=%v Expires=%v", c.Name, c.SameSite, c.Path, c.Secure, c.Expires)
				}
			}
			if !session.HttpOnly || csrf.HttpOnly {
				t.Errorf("HttpOnly: session %v (want true), csrf %v (want false)", session.HttpOnly, csrf.HttpOnly)
			}
			if strings.Contains(session.Value, w.admin) {
				t.Error("the session token carries the API key")
			}
		})
	}
}

func TestPages(t *testing.T) {
	t.Parallel()
	w := newWorld(t, filepath.Join(t.TempDir(), "yt.db"))
	app := w.app(t, keyA)
	b := newBrowser(t, app)
	get := func(path string) *http.Response {
		req := httptest.NewRequest("GET", path, nil)
		for _, c := range b.cookies {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	tests := []struct {
		path     string
		loggedIn bool
		want     int
		ctype    string
	}{
		{"/console/", false, 303, ""},
		{"/console/login", false, 200, "text/html"},
		{"/console/static/app.js", false, 200, "javascript"},
		{"/console/static/app.css", false, 200, "text/css"},
		{"/console/static/index.html", false, 404, ""},
		{"/console/static/..%2f..%2fconsole.go", false, 404, ""},
		{"/console/session", false, 401, ""},
		{"/console/", true, 200, "text/html"},
		{"/console/session", true, 200, "application/json"},
	}
	for _, tc := range tests {
		if tc.loggedIn && b.cookies[console.CookieSession] == nil {
			b.login(w.viewer)
		}
		resp := get(tc.path)
		if resp.StatusCode != tc.want || !strings.Contains(resp.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("GET %s (logged in %v): %d %q, want %d %q", tc.path, tc.loggedIn, resp.StatusCode, resp.Header.Get("Content-Type"), tc.want, tc.ctype)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode == 200 && !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
	}
}
