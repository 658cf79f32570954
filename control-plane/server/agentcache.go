package server

import (
	"context"
	"log/slog"
	"reflect"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// agentStore is what agentCache reads and changes.
type agentStore interface {
	GetAgent(ctx context.Context, id string) (store.Agent, error)
	TouchAgent(ctx context.Context, id string, now time.Time, caps *api.Capabilities) error
	SetAgentDrain(ctx context.Context, id string, drain bool, now time.Time) error
	RevokeAgent(ctx context.Context, id string, now time.Time) error
	RenewAgentToken(ctx context.Context, r store.AgentTokenRenewal) (store.Agent, error)
}

// agentCache serves the agent lookup behind every agent request (lease,
// heartbeat, complete) from memory for a short TTL, the way keyCache serves
// API keys. Every change the API makes to an agent goes through it: drain,
// revocation and token renewal evict the agent here and publish its id on
// Redis, so every replica sees them at once; while the subscription is down
// nothing is served from the cache. Only authentication reads it (Get): the
// fleet and admin views read the store, so their task counts stay current.
type agentCache struct {
	store agentStore
	cache *replicaCache[store.Agent]
	touch *touchThrottle
}

func newAgentCache(s agentStore, rdb redis.UniversalClient, channel string, now func() time.Time, log *slog.Logger) *agentCache {
	c := &agentCache{store: s, cache: newReplicaCache[store.Agent](rdb, channel, "agent", 200_000, now, log)}
	c.touch = newTouchThrottle(c.write)
	return c
}

// Get returns the agent from memory when fresh, else from the store.
func (c *agentCache) Get(ctx context.Context, id string) (store.Agent, error) {
	return c.cache.get(ctx, id, c.store.GetAgent)
}

// SetDrain drains (or resumes) in the store, then evicts everywhere.
func (c *agentCache) SetDrain(ctx context.Context, id string, drain bool, now time.Time) error {
	err := c.store.SetAgentDrain(ctx, id, drain, now)
	c.cache.changed(ctx, id, err)
	return err
}

// Revoke revokes in the store, then evicts everywhere.
func (c *agentCache) Revoke(ctx context.Context, id string, now time.Time) error {
	err := c.store.RevokeAgent(ctx, id, now)
	c.cache.changed(ctx, id, err)
	return err
}

// RenewToken rotates in the store, then evicts everywhere, before the agent
// learns its new token.
func (c *agentCache) RenewToken(ctx context.Context, r store.AgentTokenRenewal) (store.Agent, error) {
	ag, err := c.store.RenewAgentToken(ctx, r)
	c.cache.changed(ctx, r.AgentID, err)
	return ag, err
}

// Touch records the agent as seen, at most every touchEvery unless its
// capabilities change (touchThrottle).
func (c *agentCache) Touch(ctx context.Context, id string, now time.Time, caps *api.Capabilities) error {
	return c.touch.Touch(ctx, id, now, caps)
}

// write records the agent as seen and evicts it locally when its
// capabilities change. They are not published: a lease carrying
// capabilities uses its own, so another replica's older copy matters only
// to calls without them, for one TTL.
func (c *agentCache) write(ctx context.Context, id string, now time.Time, caps *api.Capabilities) error {
	err := c.store.TouchAgent(ctx, id, now, caps)
	if caps != nil {
		if ag, ok := c.cache.peek(id); ok && !reflect.DeepEqual(ag.Capabilities, *caps) {
			c.cache.evict(id)
		}
	}
	return err
}

// Run follows the evictions other replicas publish until ctx ends.
func (c *agentCache) Run(ctx context.Context) { c.cache.Run(ctx) }
