package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// statsStore reads the statistics rollups, and the agents for the fleet's
// figures of the moment.
type statsStore interface {
	Stats(ctx context.Context, q store.StatsQuery) (api.Stats, error)
	ListAgents(ctx context.Context) ([]store.Agent, error)
}

// statsStreamLife bounds a statistics stream; EventSource reconnects.
const statsStreamLife = 30 * time.Minute

// stats serves GET /v1/stats: a key of a tenant sees its tenant's numbers,
// an admin or operator key every tenant's, with the breakdown by tenant
// and the fleet's figures (fleet-wide, so zero for a tenant's key).
func (a *API) stats(c *fiber.Ctx) error {
	q, err := statsQuery(c)
	if err != nil {
		return err
	}
	q.Now = a.now()
	s, err := a.readStats(c.UserContext(), q)
	if err != nil {
		return err
	}
	return c.JSON(s)
}

// statsStream serves GET /v1/stats/stream: the statistics of GET /v1/stats
// as server-sent events (event "stats"), one at once and then one every
// interval seconds, until the client goes or statsStreamLife passes.
// Viewers of the same statistics share one read a second (statsCache).
func (a *API) statsStream(c *fiber.Ctx) error {
	q, err := statsQuery(c)
	if err != nil {
		return err
	}
	every := 5
	if v := c.Query("interval"); v != "" {
		if every, err = strconv.Atoi(v); err != nil || every < 1 || every > 60 {
			return badRequest("interval must be a whole number of seconds from 1 to 60")
		}
	}
	// The first read happens before the stream starts, so that a failure
	// is an error reply rather than an empty stream.
	q.Now = a.now()
	first, err := a.fresh.get(q, func() (api.Stats, error) { return a.readStats(c.UserContext(), q) })
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		// The request context ends when the handler returns; the stream
		// lives on its own clock, bounded.
		ctx, cancel := context.WithTimeout(context.Background(), statsStreamLife)
		defer cancel()
		tick := time.NewTicker(time.Duration(every) * time.Second)
		defer tick.Stop()
		s := first
		for {
			b, err := json.Marshal(s)
			if err != nil {
				a.log.Warn("stats stream: encode", "err", err)
				return
			}
			// A write or flush fails once the client has gone.
			if _, err := fmt.Fprintf(w, "event: stats\ndata: %s\n\n", b); err != nil || w.Flush() != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			q.Now = a.now()
			if s, err = a.fresh.get(q, func() (api.Stats, error) { return a.readStats(ctx, q) }); err != nil {
				a.log.Warn("stats stream: read statistics", "err", err)
				return
			}
		}
	})
	return nil
}

// statsQuery reads the parameters common to GET /v1/stats and its stream.
func statsQuery(c *fiber.Ctx) (store.StatsQuery, error) {
	w := api.StatsWindow(c.Query("window", string(api.Window1h)))
	if _, _, ok := w.Buckets(); !ok {
		return store.StatsQuery{}, badRequest("window must be one of 1h, 24h, 7d")
	}
	series := c.Query("series")
	if series != "" && series != api.SeriesAgents {
		return store.StatsQuery{}, badRequest("series must be agents")
	}
	return store.StatsQuery{Tenant: principal(c).Scope(), Window: w, AgentSeries: series == api.SeriesAgents}, nil
}

// readStats reads the statistics of q and, for every tenant, the fleet now.
func (a *API) readStats(ctx context.Context, q store.StatsQuery) (api.Stats, error) {
	s, err := a.rollups.Stats(ctx, q)
	if err != nil || q.Tenant != "" {
		return s, err
	}
	agents, err := a.rollups.ListAgents(ctx)
	if err != nil {
		return s, err
	}
	f := store.FleetOf(agents, q.Now)
	s.Fleet = api.FleetNow{Agents: f.Agents, Online: f.Online, BusySlots: f.Busy, Slots: f.Slots}
	return s, nil
}

// statsCache keeps each statistics read for a second, so that many
// streams of the same statistics read them once a second at most. Its zero
// value is ready.
type statsCache struct {
	mu      sync.Mutex
	entries map[statsKey]statsEntry
}

type statsKey struct {
	tenant string
	window api.StatsWindow
	series bool
}

type statsEntry struct {
	at time.Time
	s  api.Stats
}

// statsFresh is how long a cached read serves.
const statsFresh = time.Second

// get returns q's statistics read less than statsFresh before q.Now, or
// those read reads. Reads are not coalesced: two viewers that miss at once
// both read.
func (sc *statsCache) get(q store.StatsQuery, read func() (api.Stats, error)) (api.Stats, error) {
	k := statsKey{q.Tenant, q.Window, q.AgentSeries}
	sc.mu.Lock()
	e, ok := sc.entries[k]
	sc.mu.Unlock()
	if ok && q.Now.Sub(e.at) < statsFresh && !q.Now.Before(e.at) {
		return e.s, nil
	}
	s, err := read()
	if err != nil {
		return s, err
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.entries == nil {
		sc.entries = map[statsKey]statsEntry{}
	}
	for k, e := range sc.entries { // stale entries go, so the map stays small
		if q.Now.Sub(e.at) >= statsFresh {
			delete(sc.entries, k)
		}
	}
	sc.entries[k] = statsEntry{at: q.Now, s: s}
	return s, nil
}
