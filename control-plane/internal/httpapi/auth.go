package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

const (
	localPrincipal = "principal"
	localAgent     = "agent"
	// localAgentTokenHash is the hash of the token the agent called with.
	localAgentTokenHash = "agent_token_hash"
)

var errUnauthorized = errorf(http.StatusUnauthorized, api.CodeUnauthorized, "missing, unknown, expired or revoked credential")

func bearer(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// requireKey authenticates an API key and checks that its role allows a.
// Without an Authorization header, a console session cookie stands for the
// key it was opened with; see authenticate.
func (a *API) requireKey(act auth.Action) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := a.authenticate(c)
		if err != nil {
			return err
		}
		// Set before the checks: the audit log records refusals too.
		c.Locals(localPrincipal, p)
		if !p.Can(act) {
			return errorf(http.StatusForbidden, api.CodeForbidden, "role "+string(p.Role)+" may not do this")
		}
		if err := a.rateLimit(c, p); err != nil {
			return err
		}
		return c.Next()
	}
}

var errCSRF = errorf(http.StatusForbidden, api.CodeForbidden, "missing or invalid CSRF token: send the ytc_csrf cookie's value in X-CSRF-Token")

// authenticate finds the caller. A request with an Authorization header is
// judged by its bearer key alone. Otherwise a console session cookie is
// accepted; its key is re-checked in the store on every request (so
// revocation logs sessions out at once), and a state-changing method must
// carry the session's CSRF token.
func (a *API) authenticate(c *fiber.Ctx) (auth.Principal, error) {
	if a.console != nil && c.Get(fiber.HeaderAuthorization) == "" {
		if id, csrf, ok := a.console.Session(c); ok {
			k, err := a.keys.Get(c.UserContext(), id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return auth.Principal{}, fmt.Errorf("look up session key: %w", err) // store down: 503, not 401
			}
			if err != nil || !a.keyUsable(k) {
				return auth.Principal{}, errUnauthorized
			}
			if !csrf && !safeMethod(c.Method()) {
				return auth.Principal{}, errCSRF
			}
			return auth.Principal{KeyID: k.ID, Tenant: k.Tenant, Role: k.Role}, nil
		}
	}
	return a.verifyKey(c.UserContext(), bearer(c))
}

// verifyKey checks an API key: it exists, matches, and is neither revoked
// nor expired. The console's login uses it too.
func (a *API) verifyKey(ctx context.Context, token string) (auth.Principal, error) {
	cred, ok := auth.ParseKey(token)
	if !ok {
		return auth.Principal{}, errUnauthorized
	}
	k, err := a.keys.Get(ctx, cred.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		// The store is unreachable: a retryable 503, not a rejected key.
		return auth.Principal{}, fmt.Errorf("look up api key: %w", err)
	}
	if err != nil || !auth.Matches(cred.Secret, k.Hash) || !a.keyUsable(k) {
		return auth.Principal{}, errUnauthorized
	}
	return auth.Principal{KeyID: k.ID, Tenant: k.Tenant, Role: k.Role}, nil
}

func (a *API) keyUsable(k store.APIKey) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || a.now().Before(*k.ExpiresAt))
}

func safeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
}

func principal(c *fiber.Ctx) auth.Principal {
	p, _ := c.Locals(localPrincipal).(auth.Principal)
	return p
}

// requireAgent authenticates an agent token.
func (a *API) requireAgent(c *fiber.Ctx) error {
	cred, ok := auth.Parse(bearer(c), auth.PrefixAgent)
	if !ok {
		return errUnauthorized
	}
	ctx := c.UserContext()
	hash := auth.Hash(cred.Secret)
	ag, err := a.agents.Get(ctx, cred.ID)
	// A token the cached copy does not know may be one renewed moments ago:
	// only the store can refuse it.
	if err == nil && !ag.TokenValid(hash, a.now()) {
		ag, err = a.protocol.GetAgent(ctx, cred.ID)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		// The store is unreachable: a 401 here would make agents drop
		// their credential and re-enroll during a database restart.
		return fmt.Errorf("look up agent: %w", err)
	}
	// The current token until it expires, or the one it replaced during
	// the grace after a renewal.
	if err != nil || !ag.TokenValid(hash, a.now()) {
		return errUnauthorized
	}
	if ag.RevokedAt != nil {
		return errorf(http.StatusUnauthorized, api.CodeAgentRevoked, "this agent was revoked; enroll again")
	}
	c.Locals(localAgent, ag)
	c.Locals(localAgentTokenHash, hash)
	return c.Next()
}

func agentOf(c *fiber.Ctx) store.Agent {
	ag, _ := c.Locals(localAgent).(store.Agent)
	return ag
}
