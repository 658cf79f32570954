package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// replicaCache serves lookups from memory for a short TTL and stays coherent
// across replicas through a Redis channel of changed ids: a change evicts the
// id here and publishes it, and every replica evicts it on receipt. While the
// subscription is down (or before it is up) nothing is served from memory,
// so a missed message can never be honoured late; a replica without Redis is
// alone and evicts locally.
type replicaCache[V any] struct {
	ttl     time.Duration
	max     int    // entries before starting over, so memory stays bounded
	what    string // for logs: "key", "agent"
	now     func() time.Time
	redis   redis.UniversalClient // nil: single replica
	channel string
	log     *slog.Logger
	up      atomic.Bool

	mu      sync.RWMutex
	entries map[string]cacheEntry[V]
	// gen counts evictions (under mu): a value loaded while an eviction
	// happened may predate the change, so it is not kept.
	gen uint64
}

type cacheEntry[V any] struct {
	v       V
	expires time.Time
}

// cacheTTL bounds how long changes made outside this API (a row edited by
// another program) take to show.
const cacheTTL = 5 * time.Second

func newReplicaCache[V any](rdb redis.UniversalClient, channel, what string, max int, now func() time.Time, log *slog.Logger) *replicaCache[V] {
	c := &replicaCache[V]{ttl: cacheTTL, max: max, what: what, now: now, redis: rdb, channel: channel, log: log,
		entries: map[string]cacheEntry[V]{}}
	c.up.Store(rdb == nil)
	return c
}

// get returns id's value from memory when fresh, else from load.
func (c *replicaCache[V]) get(ctx context.Context, id string, load func(context.Context, string) (V, error)) (V, error) {
	if v, ok := c.peek(id); ok {
		return v, nil
	}
	c.mu.RLock()
	gen := c.gen
	c.mu.RUnlock()
	v, err := load(ctx, id)
	if err != nil || !c.up.Load() {
		return v, err
	}
	c.mu.Lock()
	if c.gen == gen { // else a change may have raced the load: serve, don't keep
		if len(c.entries) > c.max {
			clear(c.entries)
		}
		// The id may alias the HTTP server's request buffer (fiber's
		// zero-copy strings), which is reused: the map needs its own copy.
		c.entries[strings.Clone(id)] = cacheEntry[V]{v: v, expires: c.now().Add(c.ttl)}
	}
	c.mu.Unlock()
	return v, nil
}

// peek returns a fresh cached value, if there is one and the cache is up.
func (c *replicaCache[V]) peek(id string) (V, bool) {
	var zero V
	if !c.up.Load() {
		return zero, false
	}
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		return zero, false
	}
	return e.v, true
}

// changed evicts id here and, when the change succeeded, on every replica.
func (c *replicaCache[V]) changed(ctx context.Context, id string, err error) {
	c.evict(id)
	if err == nil && c.redis != nil {
		if perr := c.redis.Publish(ctx, c.channel, id).Err(); perr != nil {
			c.log.Warn("change not published; other replicas stop caching until Redis is back", "what", c.what, "id", id, "err", perr)
		}
	}
}

func (c *replicaCache[V]) evict(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.gen++
	c.mu.Unlock()
}

func (c *replicaCache[V]) down() {
	c.up.Store(false)
	c.mu.Lock()
	clear(c.entries)
	c.gen++
	c.mu.Unlock()
}

// Run applies the ids other replicas publish until ctx ends, resubscribing a
// second after the subscription drops.
func (c *replicaCache[V]) Run(ctx context.Context) {
	if c.redis == nil {
		return
	}
	for ctx.Err() == nil {
		c.follow(ctx)
		c.down()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (c *replicaCache[V]) follow(ctx context.Context) {
	sub := c.redis.Subscribe(ctx, c.channel)
	defer sub.Close()
	stop := context.AfterFunc(ctx, func() { _ = sub.Close() })
	defer stop()
	if _, err := sub.Receive(ctx); err != nil {
		return
	}
	// Anything cached before this point may have missed an eviction.
	c.down()
	c.up.Store(true)
	for {
		msg, err := sub.ReceiveTimeout(ctx, 5*time.Second)
		if err != nil {
			var t interface{ Timeout() bool }
			if errors.As(err, &t) && t.Timeout() { // idle: check the connection
				if err := sub.Ping(ctx); err != nil {
					return
				}
				continue
			}
			return
		}
		if m, ok := msg.(*redis.Message); ok {
			c.evict(m.Payload)
		}
	}
}
