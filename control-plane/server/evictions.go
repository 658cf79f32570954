package server

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// evictionFeed is what a per-replica cache needs to stay coherent through
// a Redis channel of evicted ids.
type evictionFeed interface {
	setUp(up bool)
	flush()
	evict(id string)
}

// followEvictions applies the ids published on channel to c until ctx ends,
// resubscribing after a second when the subscription drops. The cache is
// marked down (and emptied) whenever it may have missed a message, and up
// only once the subscription is confirmed and the cache flushed.
func followEvictions(ctx context.Context, rdb redis.UniversalClient, channel string, c evictionFeed) {
	for ctx.Err() == nil {
		subscribeEvictions(ctx, rdb, channel, c)
		c.setUp(false)
		c.flush()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func subscribeEvictions(ctx context.Context, rdb redis.UniversalClient, channel string, c evictionFeed) {
	sub := rdb.Subscribe(ctx, channel)
	defer sub.Close()
	stop := context.AfterFunc(ctx, func() { _ = sub.Close() })
	defer stop()
	if _, err := sub.Receive(ctx); err != nil {
		return
	}
	// Anything cached before this point may have missed an eviction.
	c.flush()
	c.setUp(true)
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
