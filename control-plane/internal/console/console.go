// Package console is the operator web console served under /console/: a few
// static pages (embedded, no build step) whose scripts call the JSON API with
// a session cookie, and the sessions themselves.
//
// A session is opened by POST /console/login with an API key, verified
// exactly as the API verifies a bearer key. It is an HS256 JWT (key id,
// tenant, role, session id, expiry) in an HttpOnly, SameSite=Strict cookie,
// Secure under TLS. It lives IdleTimeout past the last request (refreshed as
// it is used) and never more than MaxAge past the login. The API re-checks
// the key in the store on every request, so a revoked or expired key logs its
// sessions out at once. State-changing requests authenticated by the cookie
// must echo the readable ytc_csrf cookie in X-CSRF-Token (double submit); the
// token is an HMAC of the session id, so it is bound to one session.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
)

// Cookie and header names.
const (
	CookieSession = "ytc_session"
	CookieCSRF    = "ytc_csrf"
	HeaderCSRF    = "X-CSRF-Token"
)

//go:embed static
var assets embed.FS

// Config tunes the console. Zero values take defaults.
type Config struct {
	// Keys are the session signing keys (see LoadKeys); the first signs.
	Keys [][]byte
	// IdleTimeout is how long a session lives without requests; default 30 min.
	IdleTimeout time.Duration
	// MaxAge bounds a session from its login, however active; default 8 h.
	MaxAge time.Duration
	// MediaOrigins are the origins (scheme://host[:port]) of the presigned
	// URLs job media is played from, allowed as media-src besides 'self'.
	MediaOrigins []string
}

// Console serves the console pages and the login/logout routes, and checks
// session cookies for the API.
type Console struct {
	sign   *signer
	static fs.FS
	log    *slog.Logger
	// mediaSrc is the CSP directive for the player's media: 'self' and
	// the blob store's origin.
	mediaSrc string
}

// New builds the console. now is the clock sessions are checked against.
func New(cfg Config, now func() time.Time, log *slog.Logger) (*Console, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("console: no session signing key")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 8 * time.Hour
	}
	g := &signer{idle: cfg.IdleTimeout, maxAge: cfg.MaxAge, now: now}
	for i, k := range cfg.Keys {
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("console: session key %d is shorter than %d bytes", i+1, MinKeyLen)
		}
		g.keys = append(g.keys, newSigningKey(k))
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, fmt.Errorf("console: assets: %w", err)
	}
	mediaSrc := "media-src 'self'"
	for _, o := range cfg.MediaOrigins {
		if strings.ContainsAny(o, " ;,'\"") {
			return nil, fmt.Errorf("console: media origin %q is not an origin", o)
		}
		mediaSrc += " " + o
	}
	return &Console{sign: g, static: static, log: log, mediaSrc: mediaSrc}, nil
}

// Session checks the request's session cookie. It returns the API key the
// session was opened with and whether the request carries the session's
// CSRF token; ok is false when there is no valid session. The caller must
// still check the key in the store. A session past half its idle time is
// refreshed on the response.
func (co *Console) Session(c *fiber.Ctx) (keyID string, csrf, ok bool) {
	tok := c.Cookies(CookieSession)
	if tok == "" {
		return "", false, false
	}
	s, err := co.sign.verify(tok)
	if err != nil {
		return "", false, false
	}
	if s.Expires.Sub(co.sign.now()) < co.sign.idle/2 {
		if tok, s2, err := co.sign.issue(s); err == nil {
			co.setCookies(c, tok, s2)
		}
	}
	return s.KeyID, checkCSRF(s, c.Cookies(CookieCSRF), c.Get(HeaderCSRF)), true
}

// Mount adds the console routes to r (the /console group). verify checks an
// API key the way the API does.
func (co *Console) Mount(r fiber.Router, verify func(ctx context.Context, key string) (auth.Principal, error)) {
	r.Use(co.headers)
	r.Get("/", co.page("index.html", true))
	r.Get("/login", co.page("login.html", false))
	r.Post("/login", co.login(verify))
	r.Post("/logout", co.logout)
	r.Get("/session", co.session)
	r.Get("/static/:file", co.asset)
}

// headers keeps console responses out of caches and frames and allows only
// the console's own scripts and styles.
func (co *Console) headers(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; "+co.mediaSrc+"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	return c.Next()
}

// page serves an HTML page; a page that needs a session sends visitors
// without one to the login page.
func (co *Console) page(name string, needSession bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if needSession {
			if _, _, ok := co.Session(c); !ok {
				return c.Redirect("/console/login", http.StatusSeeOther)
			}
		}
		b, err := fs.ReadFile(co.static, name)
		if err != nil {
			return fmt.Errorf("console page %s: %w", name, err)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(b)
	}
}

func (co *Console) asset(c *fiber.Ctx) error {
	name := path.Base(c.Params("file"))
	b, err := fs.ReadFile(co.static, name)
	if err != nil || strings.HasSuffix(name, ".html") {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderContentType, mime.TypeByExtension(path.Ext(name)))
	return c.Send(b)
}

// sameOrigin refuses cross-site login and logout posts (login CSRF). Browsers
// send Sec-Fetch-Site; older ones at least send Origin.
func sameOrigin(c *fiber.Ctx) bool {
	if s := c.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin" || s == "none"
	}
	o := c.Get(fiber.HeaderOrigin)
	if o == "" {
		return true // not a browser (curl, scripts), which cannot be driven cross-site
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	return u.Host == string(c.Request().Host()) || u.Host == c.Get(fiber.HeaderXForwardedHost)
}

// fail answers with the API's error shape.
func fail(c *fiber.Ctx, status int, code, msg string) error {
	return c.Status(status).JSON(api.ErrorBody{Error: api.Error{Code: code, Message: msg}})
}

func crossSite(c *fiber.Ctx) error {
	return fail(c, http.StatusForbidden, api.CodeForbidden, "cross-site request refused")
}

type loginRequest struct {
	Key string `json:"key"`
}

// SessionInfo is the reply to POST /console/login and GET /console/session.
type SessionInfo struct {
	KeyID     string    `json:"key_id"`
	Tenant    string    `json:"tenant"`
	Role      string    `json:"role"`
	ExpiresAt time.Time `json:"expires_at"`
	MaxAge    time.Time `json:"max_age_at"` // the session ends then, however active
}

func (co *Console) info(s session) SessionInfo {
	return SessionInfo{KeyID: s.KeyID, Tenant: s.Tenant, Role: s.Role, ExpiresAt: s.Expires.UTC(),
		MaxAge: s.AuthTime.Add(co.sign.maxAge).UTC()}
}

// login takes an API key as JSON ({"key": ...}) or a form field "key". A
// JSON caller gets JSON back; a form gets redirected.
func (co *Console) login(verify func(context.Context, string) (auth.Principal, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !sameOrigin(c) {
			return crossSite(c)
		}
		isJSON := strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON)
		var key string
		if isJSON {
			var req loginRequest
			if len(c.Body()) > 4096 || json.Unmarshal(c.Body(), &req) != nil {
				return fail(c, http.StatusBadRequest, api.CodeInvalidRequest, `body must be {"key": "<api key>"}`)
			}
			key = req.Key
		} else {
			key = c.FormValue("key")
		}
		p, err := verify(c.UserContext(), strings.TrimSpace(key))
		if err != nil {
			if !isJSON {
				return c.Redirect("/console/login?error=invalid_key", http.StatusSeeOther)
			}
			return err
		}
		tok, s, err := co.sign.issue(session{KeyID: p.KeyID, Tenant: p.Tenant, Role: string(p.Role)})
		if err != nil {
			return err
		}
		co.setCookies(c, tok, s)
		co.log.Info("console login", "key_id", p.KeyID, "tenant", p.Tenant, "role", p.Role)
		if !isJSON {
			return c.Redirect("/console/", http.StatusSeeOther)
		}
		return c.JSON(co.info(s))
	}
}

func (co *Console) logout(c *fiber.Ctx) error {
	if !sameOrigin(c) {
		return crossSite(c)
	}
	secure := c.Protocol() == "https"
	for _, name := range []string{CookieSession, CookieCSRF} {
		c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0),
			HTTPOnly: name == CookieSession, Secure: secure, SameSite: fiber.CookieSameSiteStrictMode})
	}
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) && c.Get(fiber.HeaderAccept) != fiber.MIMEApplicationJSON {
		return c.Redirect("/console/login", http.StatusSeeOther)
	}
	return c.SendStatus(http.StatusNoContent)
}

// session reports who the cookie belongs to, for the page header. The key
// itself is checked by the API calls the pages make.
func (co *Console) session(c *fiber.Ctx) error {
	s, err := co.sign.verify(c.Cookies(CookieSession))
	if err != nil {
		return fail(c, http.StatusUnauthorized, api.CodeUnauthorized, "no valid console session; log in")
	}
	return c.JSON(co.info(s))
}

func (co *Console) setCookies(c *fiber.Ctx, tok string, s session) {
	secure := c.Protocol() == "https"
	c.Cookie(&fiber.Cookie{Name: CookieSession, Value: tok, Path: "/", Expires: s.Expires,
		HTTPOnly: true, Secure: secure, SameSite: fiber.CookieSameSiteStrictMode})
	// Readable by the pages' scripts, which echo it in X-CSRF-Token.
	c.Cookie(&fiber.Cookie{Name: CookieCSRF, Value: csrfToken(s), Path: "/", Expires: s.Expires,
		Secure: secure, SameSite: fiber.CookieSameSiteStrictMode})
}
