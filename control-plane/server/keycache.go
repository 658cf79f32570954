package server

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// keyCache serves API key lookups — one per authenticated request — from
// memory for a short TTL instead of a database round trip each time.
// Revocation stays effective at once on every replica: RevokeAPIKey evicts
// the key here and publishes its id on Redis, and every replica evicts it on
// receipt. While that subscription is down (or before it is up) nothing is
// served from the cache, so a missed revocation can never be honoured late;
// a replica without Redis is alone and evicts locally.
type keyCache struct {
	store.Store
	ttl     time.Duration
	now     func() time.Time
	redis   redis.UniversalClient // nil: single replica
	channel string
	log     *slog.Logger
	up      atomic.Bool

	mu   sync.RWMutex
	keys map[string]cachedKey
}

type cachedKey struct {
	key     store.APIKey
	expires time.Time
}

// keyCacheTTL bounds how long a key's other changes (expiry edits, a
// revocation written by a process outside the control plane) take to show.
const keyCacheTTL = 5 * time.Second

func newKeyCache(s store.Store, rdb redis.UniversalClient, channel string, now func() time.Time, log *slog.Logger) *keyCache {
	c := &keyCache{Store: s, ttl: keyCacheTTL, now: now, redis: rdb, channel: channel, log: log, keys: map[string]cachedKey{}}
	c.up.Store(rdb == nil)
	return c
}

// GetAPIKey returns the key from memory when fresh, else from the store.
func (c *keyCache) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	if c.up.Load() {
		c.mu.RLock()
		e, ok := c.keys[id]
		c.mu.RUnlock()
		if ok && c.now().Before(e.expires) {
			return e.key, nil
		}
	}
	k, err := c.Store.GetAPIKey(ctx, id)
	if err != nil {
		return k, err
	}
	if c.up.Load() {
		c.mu.Lock()
		if len(c.keys) > 100_000 { // many distinct keys: start over rather than grow
			clear(c.keys)
		}
		// The id may alias the HTTP server's request buffer (fiber's
		// zero-copy strings), which is reused: the map needs its own copy.
		c.keys[strings.Clone(id)] = cachedKey{key: k, expires: c.now().Add(c.ttl)}
		c.mu.Unlock()
	}
	return k, nil
}

// RevokeAPIKey revokes in the store, then evicts here and on every replica.
func (c *keyCache) RevokeAPIKey(ctx context.Context, id string, now time.Time) error {
	err := c.Store.RevokeAPIKey(ctx, id, now)
	c.evict(id)
	if err == nil && c.redis != nil {
		if perr := c.redis.Publish(ctx, c.channel, id).Err(); perr != nil {
			c.log.Warn("key revocation not published; other replicas stop caching keys until Redis is back", "err", perr)
		}
	}
	return err
}

func (c *keyCache) evict(id string) {
	c.mu.Lock()
	delete(c.keys, id)
	c.mu.Unlock()
}

func (c *keyCache) flush() {
	c.mu.Lock()
	clear(c.keys)
	c.mu.Unlock()
}

func (c *keyCache) setUp(up bool) { c.up.Store(up) }

// Run receives revocations from the other replicas until ctx ends.
func (c *keyCache) Run(ctx context.Context) {
	if c.redis == nil {
		return
	}
	followEvictions(ctx, c.redis, c.channel, c)
}
