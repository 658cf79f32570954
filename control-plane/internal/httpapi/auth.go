package httpapi

import (
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
func (a *API) requireKey(act auth.Action) fiber.Handler {
	return func(c *fiber.Ctx) error {
		cred, ok := auth.ParseKey(bearer(c))
		if !ok {
			return errUnauthorized
		}
		k, err := a.store.GetAPIKey(c.UserContext(), cred.ID)
		if err != nil || !auth.Matches(cred.Secret, k.Hash) || k.RevokedAt != nil ||
			(k.ExpiresAt != nil && !a.now().Before(*k.ExpiresAt)) {
			return errUnauthorized
		}
		p := auth.Principal{KeyID: k.ID, Tenant: k.Tenant, Role: k.Role}
		if !p.Can(act) {
			return errorf(http.StatusForbidden, api.CodeForbidden, "role "+string(k.Role)+" may not do this")
		}
		c.Locals(localPrincipal, p)
		return c.Next()
	}
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
	ag, err := a.store.GetAgent(c.UserContext(), cred.ID)
	if err != nil || !auth.Matches(cred.Secret, ag.TokenHash) {
		return errUnauthorized
	}
	if ag.RevokedAt != nil {
		return errorf(http.StatusUnauthorized, api.CodeAgentRevoked, "this agent was revoked; enroll again")
	}
	c.Locals(localAgent, ag)
	return c.Next()
}

func agentOf(c *fiber.Ctx) store.Agent {
	ag, _ := c.Locals(localAgent).(store.Agent)
	return ag
}
