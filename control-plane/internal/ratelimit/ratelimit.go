// Package ratelimit limits request rates per API key and per tenant with a
// GCRA limiter in Redis (go-redis/redis_rate), so the limits hold across
// every control-plane replica.
package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis is a limiter shared by all replicas through Redis.
type Redis struct {
	l      *redis_rate.Limiter
	prefix string
}

// NewRedis returns a limiter keeping its state under prefix.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	return &Redis{l: redis_rate.NewLimiter(c), prefix: prefix + "rate:"}
}

// Allow takes one request from key's budget of perSecond requests a second
// (with a burst of the same size). When refused, retryAfter says when the
// next request would pass.
func (r *Redis) Allow(ctx context.Context, key string, perSecond int) (ok bool, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	res, err := r.l.Allow(ctx, r.prefix+key, redis_rate.PerSecond(perSecond))
	if err != nil {
		return false, 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	return res.Allowed > 0, res.RetryAfter, nil
}
