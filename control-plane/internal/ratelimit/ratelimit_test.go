package ratelimit_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ytcaption/ytcaption/control-plane/internal/ratelimit"
	"github.com/ytcaption/ytcaption/test/testenv"
)

func TestRedisLimiter(t *testing.T) {
	t.Parallel()
	url, prefix := testenv.Redis(t)
	opt, _ := redis.ParseURL(url)
	c := redis.NewClient(opt)
	defer c.Close()
	// Two replicas share the budget through Redis.
	a, b := ratelimit.NewRedis(c, prefix), ratelimit.NewRedis(c, prefix)
	ctx := context.Background()
	allowed := 0
	var retry bool
	for i := range 20 {
		l := a
		if i%2 == 1 {
			l = b
		}
		ok, after, err := l.Allow(ctx, "key:k1", 5)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		} else if after > 0 {
			retry = true
		}
	}
	if allowed < 5 || allowed > 7 || !retry {
		t.Fatalf("allowed %d of 20 at 5/s (burst 5), retry-after given: %v", allowed, retry)
	}
	// Another key has its own budget.
	if ok, _, _ := a.Allow(ctx, "key:k2", 5); !ok {
		t.Fatal("an unrelated key was limited")
	}
}
