package httpapi

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
)

// RateLimiter takes one request from a named budget of perSecond a second.
type RateLimiter interface {
	Allow(ctx context.Context, key string, perSecond int) (ok bool, retryAfter time.Duration, err error)
}

// rateLimit applies the per-key and per-tenant request rates. When the
// limiter itself fails (Redis down) requests are let through: limits protect
// capacity, and refusing every request during an outage would do the harm
// they exist to prevent. The failure is logged.
func (a *API) rateLimit(c *fiber.Ctx, p auth.Principal) error {
	if a.limiter == nil {
		return nil
	}
	for _, l := range []struct {
		key, what string
		rate      int
	}{{"key:" + p.KeyID, "API key", a.cfg.KeyRate}, {"tenant:" + p.Tenant, "tenant", a.cfg.TenantRate}} {
		if l.rate <= 0 {
			continue
		}
		ok, after, err := a.limiter.Allow(c.UserContext(), l.key, l.rate)
		if err != nil {
			a.log.Warn("rate limiter unavailable; letting the request through", "err", err)
			return nil
		}
		if !ok {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(max(after.Seconds(), 1)))))
			return errorf(http.StatusTooManyRequests, api.CodeRateLimited, "too many requests for this "+l.what+"; retry after the Retry-After delay")
		}
	}
	return nil
}

// checkTenantCap refuses new work when a tenant already has MaxUnfinished
// jobs queued or running.
func (a *API) checkTenantCap(c *fiber.Ctx, tenant string) error {
	if a.cfg.MaxUnfinished <= 0 {
		return nil
	}
	n, err := a.jobs.CountUnfinished(c.UserContext(), tenant)
	if err != nil {
		return err
	}
	if n >= a.cfg.MaxUnfinished {
		c.Set(fiber.HeaderRetryAfter, "30")
		return errorf(http.StatusTooManyRequests, api.CodeRateLimited,
			"the tenant has "+strconv.Itoa(n)+" unfinished jobs, the most allowed; retry when some finish")
	}
	return nil
}
