package postgres

import (
	"context"
	"math/rand/v2"
	"sync"

	"github.com/jackc/pgx/v5"
)

// shards gives each connection of the pool its own statistics shard (see
// statsShards), the one the fewest live connections use, so that two
// transactions of this replica in flight at once write different rollup
// rows: on a shared row one waits for the other's commit, fsync included.
// The shard used to be the connection's PID modulo statsShards, and in
// about half of all pools two of the five busy writers shared one
// (docs/performance.md, "Round two, eleventh pass"). Each store starts at
// a random shard, so replicas sharing a database spread over the shards.
type shards struct {
	mu   sync.Mutex
	used [statsShards]int // live connections per shard
	from int
}

// shardKey holds a connection's shard in its pgconn custom data.
const shardKey = "ytcaption.shard"

func newShards() *shards { return &shards{from: rand.IntN(statsShards)} }

// take returns the least used shard, counting it used.
func (s *shards) take() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	best := s.from
	for i := range statsShards {
		if n := (s.from + i) % statsShards; s.used[n] < s.used[best] {
			best = n
		}
	}
	s.used[best]++
	return best
}

// give returns a shard taken.
func (s *shards) give(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used[n]--
}

// afterConnect and beforeClose are the pool's hooks.
func (s *shards) afterConnect(_ context.Context, c *pgx.Conn) error {
	c.PgConn().CustomData()[shardKey] = s.take()
	return nil
}

func (s *shards) beforeClose(c *pgx.Conn) {
	if n, ok := c.PgConn().CustomData()[shardKey].(int); ok {
		s.give(n)
	}
}

// connShard is the statistics shard of tx's connection (every store
// transaction's connection comes from the pool, so it has one).
func connShard(tx interface{ Conn() *pgx.Conn }) int {
	n, _ := tx.Conn().PgConn().CustomData()[shardKey].(int)
	return n
}
