package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// keyCache serves the API key lookup behind every authenticated request from
// memory (see replicaCache); revocation evicts the key on every replica at
// once.
type keyCache struct {
	store.Store
	*replicaCache[store.APIKey]
}

func newKeyCache(s store.Store, rdb redis.UniversalClient, channel string, now func() time.Time, log *slog.Logger) *keyCache {
	return &keyCache{Store: s, replicaCache: newReplicaCache[store.APIKey](rdb, channel, "key", 100_000, now, log)}
}

// GetAPIKey returns the key from memory when fresh, else from the store.
func (c *keyCache) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	return c.get(ctx, id, c.Store.GetAPIKey)
}

// RevokeAPIKey revokes in the store, then evicts here and on every replica.
func (c *keyCache) RevokeAPIKey(ctx context.Context, id string, now time.Time) error {
	err := c.Store.RevokeAPIKey(ctx, id, now)
	c.changed(ctx, id, err)
	return err
}
