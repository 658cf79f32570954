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

// agentCache serves the agent lookup behind every agent request (lease,
// heartbeat, complete) from memory for a short TTL, the way keyCache serves
// API keys. Drain, revocation and token renewal evict the agent here and
// publish its id on Redis, so every replica sees them at once; while the
// subscription is down nothing is served from the cache. Only the
// authentication path reads it (AuthAgent): GetAgent, used by the fleet and
// admin views, still reads the store, so their task counts stay current.
type agentCache struct {
	store.Store
	*replicaCache[store.Agent]
}

func newAgentCache(s store.Store, rdb redis.UniversalClient, channel string, now func() time.Time, log *slog.Logger) *agentCache {
	return &agentCache{Store: s, replicaCache: newReplicaCache[store.Agent](rdb, channel, "agent", 200_000, now, log)}
}

// AuthAgent returns the agent from memory when fresh, else from the store.
func (c *agentCache) AuthAgent(ctx context.Context, id string) (store.Agent, error) {
	return c.get(ctx, id, c.Store.GetAgent)
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
		if ag, ok := c.peek(id); ok && !reflect.DeepEqual(ag.Capabilities, *caps) {
			c.evict(id)
		}
	}
	return err
}
