package httpapi

import (
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// agentPrefix is where the agent protocol lives.
const agentPrefix = "/v1/agent/"

var errNoClientCert = errorf(http.StatusUnauthorized, api.CodeUnauthorized,
	"the agent protocol requires a client certificate signed by the configured CA")

// agentClientCert enforces client-certificate auth on the agent protocol
// when it is configured. The TLS layer asks for a certificate but accepts
// connections without one (tls.VerifyClientCertIfGiven), so API and console
// callers are unaffected; a certificate that was given has already been
// verified against the CA there, which leaves VerifiedChains non-empty.
func (a *API) agentClientCert(c *fiber.Ctx) error {
	if !a.cfg.AgentClientCert || !strings.HasPrefix(c.Path(), agentPrefix) {
		return c.Next()
	}
	cs := c.Context().TLSConnectionState()
	if cs == nil || len(cs.VerifiedChains) == 0 {
		return errNoClientCert
	}
	return c.Next()
}
