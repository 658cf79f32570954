package httpapi

import (
	"context"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// Keys are the API keys as authentication sees them. Revoke is the only
// change the API makes to a key, so a cache behind Get learns of every
// revocation.
type Keys interface {
	Get(ctx context.Context, id string) (store.APIKey, error)
	Revoke(ctx context.Context, id string, now time.Time) error
}

// Agents are the agents as authentication sees them (Get may serve a cached
// copy), and every change the API makes to one, so such a cache learns of
// each: drain and resume, revocation, token renewal, capabilities.
type Agents interface {
	Get(ctx context.Context, id string) (store.Agent, error)
	// Touch records the agent as seen, with its capabilities if given; it
	// may skip writes that would change nothing that matters.
	Touch(ctx context.Context, id string, now time.Time, caps *api.Capabilities) error
	SetDrain(ctx context.Context, id string, drain bool, now time.Time) error
	Revoke(ctx context.Context, id string, now time.Time) error
	RenewToken(ctx context.Context, r store.AgentTokenRenewal) (store.Agent, error)
}

type keyStore interface {
	GetAPIKey(ctx context.Context, id string) (store.APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, now time.Time) error
}

type agentStore interface {
	GetAgent(ctx context.Context, id string) (store.Agent, error)
	TouchAgent(ctx context.Context, id string, now time.Time, caps *api.Capabilities) error
	SetAgentDrain(ctx context.Context, id string, drain bool, now time.Time) error
	RevokeAgent(ctx context.Context, id string, now time.Time) error
	RenewAgentToken(ctx context.Context, r store.AgentTokenRenewal) (store.Agent, error)
}

// uncachedKeys and uncachedAgents serve an API built without caches: every
// lookup reads the store, so no change needs an eviction.
type uncachedKeys struct{ s keyStore }

func (k uncachedKeys) Get(ctx context.Context, id string) (store.APIKey, error) {
	return k.s.GetAPIKey(ctx, id)
}

func (k uncachedKeys) Revoke(ctx context.Context, id string, now time.Time) error {
	return k.s.RevokeAPIKey(ctx, id, now)
}

type uncachedAgents struct{ s agentStore }

func (a uncachedAgents) Get(ctx context.Context, id string) (store.Agent, error) {
	return a.s.GetAgent(ctx, id)
}

func (a uncachedAgents) Touch(ctx context.Context, id string, now time.Time, caps *api.Capabilities) error {
	return a.s.TouchAgent(ctx, id, now, caps)
}

func (a uncachedAgents) SetDrain(ctx context.Context, id string, drain bool, now time.Time) error {
	return a.s.SetAgentDrain(ctx, id, drain, now)
}

func (a uncachedAgents) Revoke(ctx context.Context, id string, now time.Time) error {
	return a.s.RevokeAgent(ctx, id, now)
}

func (a uncachedAgents) RenewToken(ctx context.Context, r store.AgentTokenRenewal) (store.Agent, error) {
	return a.s.RenewAgentToken(ctx, r)
}
