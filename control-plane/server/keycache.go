package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// keyStore is what keyCache reads and changes.
type keyStore interface {
	GetAPIKey(ctx context.Context, id string) (store.APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, now time.Time) error
}

// keyCache serves the API key lookup behind every authenticated request from
// memory (see replicaCache). Revoke is the API's only way to change a key, so
// a revocation evicts the key on every replica at once.
type keyCache struct {
	store keyStore
	cache *replicaCache[store.APIKey]
}

func newKeyCache(s keyStore, rdb redis.UniversalClient, channel string, now func() time.Time, log *slog.Logger) *keyCache {
	return &keyCache{store: s, cache: newReplicaCache[store.APIKey](rdb, channel, "key", 100_000, now, log)}
}

// Get returns the key from memory when fresh, else from the store.
func (c *keyCache) Get(ctx context.Context, id string) (store.APIKey, error) {
	return c.cache.get(ctx, id, c.store.GetAPIKey)
}

// Revoke revokes in the store, then evicts here and on every replica.
func (c *keyCache) Revoke(ctx context.Context, id string, now time.Time) error {
	err := c.store.RevokeAPIKey(ctx, id, now)
	c.cache.changed(ctx, id, err)
	return err
}

// Run follows the evictions other replicas publish until ctx ends.
func (c *keyCache) Run(ctx context.Context) { c.cache.Run(ctx) }
