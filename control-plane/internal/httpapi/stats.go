package httpapi

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// statsStore reads the statistics rollups.
type statsStore interface {
	Stats(ctx context.Context, q store.StatsQuery) (api.Stats, error)
}

// stats serves GET /v1/stats: a key of a tenant sees its tenant's numbers,
// an admin key every tenant's, with the breakdown by tenant.
func (a *API) stats(c *fiber.Ctx) error {
	w := api.StatsWindow(c.Query("window", string(api.Window1h)))
	if _, _, ok := w.Buckets(); !ok {
		return badRequest("window must be one of 1h, 24h, 7d")
	}
	s, err := a.rollups.Stats(c.UserContext(), store.StatsQuery{Tenant: principal(c).Scope(), Window: w, Now: a.now()})
	if err != nil {
		return err
	}
	return c.JSON(s)
}
