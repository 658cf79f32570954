package postgres

import (
	"context"
	"testing"
)

// TestGroupCommitGenericPlans checks that a group-commit transaction plans
// its statements generically and that the setting ends with it: the pool's
// other statements keep custom plans.
func TestGroupCommitGenericPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	var inside string
	c := &call[string, string]{ctx: ctx, done: make(chan result[string], 1)}
	groupCommit(s, []*call[string, string]{c}, func(ctx context.Context, tx *pipeTx, _ []*call[string, string]) (func(context.Context), error) {
		if err := tx.QueryRow(ctx, `SELECT current_setting('plan_cache_mode')`).Scan(&inside); err != nil {
			return nil, err
		}
		return func(context.Context) { c.answer("", nil) }, nil
	})
	if res := <-c.done; res.err != nil {
		t.Fatal(res.err)
	}
	if inside != "force_generic_plan" {
		t.Errorf("plan_cache_mode in a group commit = %q, want force_generic_plan", inside)
	}
	// Every pooled connection, the one just used included, is back to the default.
	for range 4 {
		var after string
		if err := s.pool.QueryRow(ctx, `SELECT current_setting('plan_cache_mode')`).Scan(&after); err != nil {
			t.Fatal(err)
		}
		if after != "auto" {
			t.Fatalf("plan_cache_mode after a group commit = %q, want auto", after)
		}
	}
}
