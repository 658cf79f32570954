package httpapi

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// DefaultAgentTokenTTL is how long an agent token lives unless configured.
const DefaultAgentTokenTTL = 24 * time.Hour

// renew hands the calling agent a new token. The one it called with stays
// valid for api.RenewGrace, so requests the agent sent just before it
// switched, or a retry of a renewal whose reply was lost, still succeed.
func (a *API) renew(c *fiber.Ctx) error {
	ag := agentOf(c)
	presented, _ := c.Locals(localAgentTokenHash).(string)
	now := a.now()
	// The agent's id stays the token's id: only the secret changes.
	cred := auth.New(auth.PrefixAgent)
	cred.ID = ag.ID
	got, err := a.agents.RenewToken(c.UserContext(), store.AgentTokenRenewal{
		AgentID: ag.ID, PresentedHash: presented, NewHash: cred.Hash(),
		ExpiresAt: now.Add(a.cfg.AgentTokenTTL), GraceUntil: now.Add(api.RenewGrace), Now: now,
	})
	// Revoked or outdated since requireAgent looked: the credential is dead.
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return errUnauthorized
	}
	if err != nil {
		return err
	}
	a.log.Info("agent token renewed", "agent", ag.ID, "expires_at", got.TokenExpiresAt)
	return c.JSON(api.RenewResponse{AgentID: ag.ID, Token: cred.Token(), ExpiresAt: got.TokenExpiresAt.UTC()})
}
