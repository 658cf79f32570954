package server

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// agentCache serves the agent lookup behind every agent request (lease,
// heartbeat, complete) from memory for a short TTL, the way keyCache serves
// API keys. Drain, revocation and token renewal evict the agent here and
// publish its id on Redis, so every replica sees them at once; while the
// subscription is down nothing is served from the cache. Only the
// authentication path reads it (AuthAgent): GetAgent, used by the fleet and
// admin views, still reads the store, so their task counts stay current.
type agentCache struct {
	store.Store
	ttl     time.Duration
	now     func() time.Time
	redis   redis.UniversalClient // nil: single replica
	channel string
	log     *slog.Logger
	up      atomic.Bool

	mu     sync.RWMutex
	agents map[string]cachedAgent
}

type cachedAgent struct {
	agent   store.Agent
	expires time.Time
}

// agentCacheTTL bounds how long changes made outside this API (or a missed
// capability update on another replica) take to show.
const agentCacheTTL = 5 * time.Second

func newAgentCache(s store.Store, rdb redis.UniversalClient, channel string, now func() time.Time, log *slog.Logger) *agentCache {
	c := &agentCache{Store: s, ttl: agentCacheTTL, now: now, redis: rdb, channel: channel, log: log, agents: map[string]cachedAgent{}}
	c.up.Store(rdb == nil)
	return c
}

// AuthAgent returns the agent from memory when fresh, else from the store.
func (c *agentCache) AuthAgent(ctx context.Context, id string) (store.Agent, error) {
	if c.up.Load() {
		c.mu.RLock()
		e, ok := c.agents[id]
		c.mu.RUnlock()
		if ok && c.now().Before(e.expires) {
			return e.agent, nil
		}
	}
	ag, err := c.Store.GetAgent(ctx, id)
	if err != nil {
		return ag, err
	}
	if c.up.Load() {
		c.mu.Lock()
		if len(c.agents) > 200_000 { // bounded: start over rather than grow
			clear(c.agents)
		}
		// The id may alias a reused request buffer (fiber's zero-copy strings).
		c.agents[strings.Clone(id)] = cachedAgent{agent: ag, expires: c.now().Add(c.ttl)}
		c.mu.Unlock()
	}
	return ag, nil
}

// SetAgentDrain drains in the store, then evicts everywhere.
func (c *agentCache) SetAgentDrain(ctx context.Context, id string, drain bool, now time.Time) error {
	err := c.Store.SetAgentDrain(ctx, id, drain, now)
	c.changed(ctx, id, err)
	return err
}

// RevokeAgent revokes in the store, then evicts everywhere.
func (c *agentCache) RevokeAgent(ctx context.Context, id string, now time.Time) error {
	err := c.Store.RevokeAgent(ctx, id, now)
	c.changed(ctx, id, err)
	return err
}

// RenewAgentToken rotates in the store, then evicts everywhere, before the
// agent learns its new token.
func (c *agentCache) RenewAgentToken(ctx context.Context, r store.AgentTokenRenewal) (store.Agent, error) {
	ag, err := c.Store.RenewAgentToken(ctx, r)
	c.changed(ctx, r.AgentID, err)
	return ag, err
}

// TouchAgent evicts locally when capabilities change. They are not
// published: a lease carrying capabilities uses its own, so another
// replica's older copy matters only to calls without them, for one TTL.
func (c *agentCache) TouchAgent(ctx context.Context, id string, now time.Time, caps *api.Capabilities) error {
	err := c.Store.TouchAgent(ctx, id, now, caps)
	if caps != nil {
		c.mu.RLock()
		e, ok := c.agents[id]
		c.mu.RUnlock()
		if ok && !reflect.DeepEqual(e.agent.Capabilities, *caps) {
			c.evict(id)
		}
	}
	return err
}

func (c *agentCache) changed(ctx context.Context, id string, err error) {
	c.evict(id)
	if err == nil && c.redis != nil {
		if perr := c.redis.Publish(ctx, c.channel, id).Err(); perr != nil {
			c.log.Warn("agent change not published; other replicas stop caching agents until Redis is back", "agent", id, "err", perr)
		}
	}
}

func (c *agentCache) setUp(up bool) { c.up.Store(up) }

func (c *agentCache) evict(id string) {
	c.mu.Lock()
	delete(c.agents, id)
	c.mu.Unlock()
}

func (c *agentCache) flush() {
	c.mu.Lock()
	clear(c.agents)
	c.mu.Unlock()
}

// Run receives agent changes from the other replicas until ctx ends.
func (c *agentCache) Run(ctx context.Context) {
	if c.redis == nil {
		return
	}
	followEvictions(ctx, c.redis, c.channel, c)
}
