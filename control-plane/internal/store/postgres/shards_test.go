package postgres

import (
	"context"
	"testing"
)

// TestShardsLeastUsed: shards go out least used first, so up to
// statsShards live connections never share one, and one given back is the
// next taken.
func TestShardsLeastUsed(t *testing.T) {
	sh := newShards()
	seen := map[int]bool{}
	for range statsShards {
		n := sh.take()
		if seen[n] {
			t.Fatalf("shard %d taken twice among %d connections", n, len(seen)+1)
		}
		seen[n] = true
	}
	sh.give(5)
	if n := sh.take(); n != 5 {
		t.Fatalf("took %d, want the shard given back (5)", n)
	}
	a, b := sh.take(), sh.take()
	if a == b {
		t.Fatalf("the 17th and 18th connections share shard %d", a)
	}
}

// TestPoolConnectionsOwnShards: transactions in flight at once on one
// store's pool write different statistics shards.
func TestPoolConnectionsOwnShards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	const n = 8
	seen := map[int]bool{}
	for range n {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, ok := tx.Conn().PgConn().CustomData()[shardKey]; !ok {
			t.Fatal("a pool connection was given no shard")
		}
		sh := connShard(tx)
		if seen[sh] {
			t.Fatalf("two of %d open transactions on shard %d", len(seen)+1, sh)
		}
		seen[sh] = true
	}
}
