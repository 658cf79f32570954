package httpapi

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// auditStore is the audit log.
type auditStore interface {
	AppendAudit(ctx context.Context, e store.AuditEntry) error
	ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, string, error)
}

// auditRoute is what the audit log records of one route.
type auditRoute struct {
	action string
	// param names the route parameter that is the target; a create sets
	// its target with auditTarget instead.
	param string
	// detail lists the request body's fields copied into the entry: only
	// ones that can never hold a secret.
	detail []string
}

// auditRoutes are the audited routes, by method and Fiber route pattern:
// every operator action that changes something. Reads are not audited,
// nor are job submission (POST /v1/jobs, /v1/audio/transcriptions: the
// jobs are their own record) and the agent protocol (/v1/agent/...).
// "agents.:action" takes its last word from the route's action parameter.
var auditRoutes = map[string]auditRoute{
	"POST /v1/keys":                              {action: "keys.create", detail: []string{"tenant", "role", "name", "expires_at"}},
	"POST /v1/keys/:id/revoke":                   {action: "keys.revoke", param: "id"},
	"PUT /v1/tenants/:name/share":                {action: "tenants.share", param: "name", detail: []string{"weight", "max_running"}},
	"POST /v1/agents/enrollments":                {action: "enrollments.create", detail: []string{"ttl_seconds", "max_uses", "labels"}},
	"POST /v1/agents/enrollments/:id/revoke":     {action: "enrollments.revoke", param: "id"},
	"POST /v1/agents/:id/:action":                {action: "agents.:action", param: "id"},
	"POST /v1/fleet/agents/:id/drain":            {action: "fleet.drain", param: "id", detail: []string{"nomad_node", "deadline_seconds"}},
	"POST /v1/jobs/:id/cancel":                   {action: "jobs.cancel", param: "id"},
	"POST /v1/jobs/:id/retry":                    {action: "jobs.retry", param: "id"},
	"POST /v1/webhooks/endpoints":                {action: "webhooks.endpoint.create", detail: []string{"events"}},
	"DELETE /v1/webhooks/endpoints/:id":          {action: "webhooks.endpoint.delete", param: "id"},
	"POST /v1/webhooks/deliveries/:id/redeliver": {action: "webhooks.redeliver", param: "id"},
	"POST /v1/webhooks/secret/rotate":            {action: "webhooks.secret.rotate"},
	"POST /v1/artifacts":                         {action: "artifacts.push", detail: []string{"name", "kind", "version", "sha256", "size"}},
	"POST /v1/artifacts/:id/commit":              {action: "artifacts.commit", param: "id"},
	"DELETE /v1/artifacts/:id":                   {action: "artifacts.delete", param: "id"},
}

// The console's session routes, audited as session.login and
// session.logout.
const (
	consoleLogin  = "/console/login"
	consoleLogout = "/console/logout"
)

const (
	localAuditTarget = "audit_target"
	// auditWriteTimeout bounds the write after the action, which may have
	// used up most of the request's deadline.
	auditWriteTimeout = 5 * time.Second
	maxUserAgent      = 256
	maxDetailValue    = 512 // bytes of JSON per copied field
)

// auditTarget names what a create made, for the audit entry.
func auditTarget(c *fiber.Ctx, id string) { c.Locals(localAuditTarget, id) }

// audit records the audited routes' outcomes (auditRoutes), including
// refusals of an authenticated caller; requests that failed
// authentication are not recorded, except console logins. The entry is
// written before the response leaves, so no action that was done is
// missing; a failed write is logged and counted but does not fail the
// action.
func (a *API) audit(c *fiber.Ctx) error {
	if a.console != nil && c.Method() == fiber.MethodPost {
		switch c.Path() {
		case consoleLogin:
			return a.auditLogin(c)
		case consoleLogout:
			return a.auditLogout(c)
		}
	}
	err := c.Next()
	if safeMethod(c.Method()) {
		return err
	}
	r := c.Route()
	rt, ok := auditRoutes[r.Method+" "+r.Path]
	p := principal(c)
	if !ok || p.KeyID == "" {
		return err
	}
	action := rt.action
	if rest, ok := strings.CutSuffix(action, ":action"); ok {
		switch act := c.Params("action"); act {
		case "drain", "resume", "revoke":
			action = rest + act
		default:
			return err // no such action: a 404, nothing was attempted
		}
	}
	target, _ := c.Locals(localAuditTarget).(string)
	if target == "" && rt.param != "" {
		target = c.Params(rt.param)
	}
	via := api.ViaAPI
	if c.Get(fiber.HeaderAuthorization) == "" {
		via = api.ViaConsole // authenticate took the session cookie
	}
	e := a.auditEntry(c, p, action, outcome(c, err), via)
	e.Target, e.Detail = target, auditDetail(c.Body(), rt.detail)
	a.record(c, e)
	return err
}

// outcome is the status the response gets: the handler's, or the one the
// error handler will map err to.
func outcome(c *fiber.Ctx, err error) int {
	if err != nil {
		status, _ := mapError(err)
		return status
	}
	return c.Response().StatusCode()
}

func (a *API) auditEntry(c *fiber.Ctx, p auth.Principal, action string, status int, via string) store.AuditEntry {
	ua := c.Get(fiber.HeaderUserAgent)
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return store.AuditEntry{ID: "aud_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", ""),
		At: a.now().UTC(), KeyID: p.KeyID, Tenant: p.Tenant, Role: string(p.Role), Action: action,
		Method: c.Method(), Path: c.Path(), Status: status,
		// c.IP follows the app's proxy settings (fiber.Config.ProxyHeader);
		// without any, it is the peer address.
		RemoteAddr: c.IP(), UserAgent: ua, Via: via}
}

// record writes e; the action is already done, so a failure is logged and
// counted, not returned.
func (a *API) record(c *fiber.Ctx, e store.AuditEntry) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), auditWriteTimeout)
	defer cancel()
	if err := a.auditLog.AppendAudit(ctx, e); err != nil {
		a.log.Error("audit log write failed", "action", e.Action, "target", e.Target, "key_id", e.KeyID,
			"status", e.Status, "err", err)
		a.obs.auditWriteFailed()
	}
}

// auditDetail copies the whitelisted fields of a JSON body, each only if
// small.
func auditDetail(body []byte, fields []string) map[string]any {
	if len(fields) == 0 || len(body) == 0 {
		return nil
	}
	var in map[string]json.RawMessage
	if json.Unmarshal(body, &in) != nil {
		return nil
	}
	var out map[string]any
	for _, f := range fields {
		raw, ok := in[f]
		var v any
		if !ok || len(raw) > maxDetailValue || json.Unmarshal(raw, &v) != nil {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[f] = v
	}
	return out
}

// loginSeen carries what verifyLogin found back to auditLogin.
type loginSeen struct {
	called bool
	p      auth.Principal
	err    error
}

type loginSeenKey struct{}

// verifyLogin is verifyKey for the console's login, telling auditLogin
// whose key it was.
func (a *API) verifyLogin(ctx context.Context, key string) (auth.Principal, error) {
	p, err := a.verifyKey(ctx, key)
	if seen, ok := ctx.Value(loginSeenKey{}).(*loginSeen); ok {
		*seen = loginSeen{called: true, p: p, err: err}
	}
	return p, err
}

// auditLogin records a console login that got as far as checking its key:
// a refused key is status 401 without a key id, whatever the form's
// redirect says.
func (a *API) auditLogin(c *fiber.Ctx) error {
	seen := &loginSeen{}
	c.SetUserContext(context.WithValue(c.UserContext(), loginSeenKey{}, seen))
	err := c.Next()
	if !seen.called {
		return err
	}
	status := outcome(c, err)
	if seen.err != nil {
		status, _ = mapError(seen.err)
	}
	a.record(c, a.auditEntry(c, seen.p, "session.login", status, api.ViaConsole))
	return err
}

// auditLogout records the logout of a valid session.
func (a *API) auditLogout(c *fiber.Ctx) error {
	id, _, ok := a.console.Session(c)
	if !ok {
		return c.Next()
	}
	err := c.Next()
	p := auth.Principal{KeyID: id}
	if k, kerr := a.keys.Get(c.UserContext(), id); kerr == nil {
		p.Tenant, p.Role = k.Tenant, k.Role
	}
	a.record(c, a.auditEntry(c, p, "session.logout", outcome(c, err), api.ViaConsole))
	return err
}

var auditActionRE = regexp.MustCompile(`^[a-z]+(\.[a-z]+)*$`)

// listAudit serves GET /v1/audit.
func (a *API) listAudit(c *fiber.Ctx) error {
	q := store.AuditQuery{Cursor: c.Query("cursor"), KeyID: c.Query("key_id"), Tenant: c.Query("tenant")}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit must be between 1 and 1000")
		}
		q.Limit = n
	}
	if s := strings.TrimSuffix(strings.TrimSuffix(c.Query("action"), "*"), "."); s != "" {
		if !auditActionRE.MatchString(s) {
			return badRequest("action must be an action name or a prefix of one, like keys or keys.create")
		}
		q.Action = s
	}
	if s := c.Query("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return badRequest("since must be an RFC 3339 time")
		}
		q.Since = t
	}
	entries, next, err := a.auditLog.ListAudit(c.UserContext(), q)
	if err != nil {
		return err
	}
	out := api.AuditList{Entries: make([]api.AuditEntry, 0, len(entries)), NextCursor: next}
	for _, e := range entries {
		out.Entries = append(out.Entries, api.AuditEntry{ID: e.ID, At: e.At, KeyID: e.KeyID, Tenant: e.Tenant,
			Role: e.Role, Action: e.Action, Target: e.Target, Method: e.Method, Path: e.Path, Status: e.Status,
			RemoteAddr: e.RemoteAddr, UserAgent: e.UserAgent, Via: e.Via, Detail: e.Detail})
	}
	return c.JSON(out)
}

// listTenants serves GET /v1/tenants.
func (a *API) listTenants(c *fiber.Ctx) error {
	ts, err := a.admin.ListTenants(c.UserContext())
	if err != nil {
		return err
	}
	out := api.TenantList{Tenants: make([]api.TenantInfo, 0, len(ts))}
	for _, t := range ts {
		jobs := make(map[string]int64, len(t.Jobs))
		for s, n := range t.Jobs {
			jobs[string(s)] = n
		}
		out.Tenants = append(out.Tenants, api.TenantInfo{Name: t.Tenant, Weight: t.Weight, MaxRunning: t.MaxRunning,
			Keys: t.Keys, Jobs: jobs})
	}
	return c.JSON(out)
}
