package postgres

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// A lease reads tasks_ready_tenant from its head, and every task leased
// since the table's last vacuum leaves a dead entry there (its queued row
// version) that each later lease steps over until VACUUM removes it: on a
// queue drained at a thousand tasks a second, most of a lease query's time.
// Autovacuum looks at most once a minute (autovacuum_naptime, one setting
// for the whole server), so the store vacuums tasks itself after every
// vacuumEvery leases: in the background, one VACUUM at a time per replica,
// skipped when another session's vacuum holds the table.
//
// It vacuums with no parallel workers: starting them cost more than they
// saved on this table, and they took every core from the leases and
// submissions it runs beside (on two cores a vacuum took about 200 ms with
// them and 55 ms without, and stalled submissions up to 60 ms; see
// docs/performance.md, "Round two, thirteenth pass").
const vacuumEvery = 2000

// vacuumTimeout bounds one VACUUM of tasks.
const vacuumTimeout = 5 * time.Minute

// vacuumer counts leases and vacuums tasks after every `every` of them.
type vacuumer struct {
	pool    *pgxpool.Pool
	log     *slog.Logger
	every   int64
	leased  atomic.Int64
	running atomic.Bool
	wg      sync.WaitGroup
}

// leasedN counts n tasks leased, and starts a vacuum once enough were.
func (v *vacuumer) leasedN(n int) {
	if n == 0 || v.leased.Add(int64(n)) < v.every || !v.running.CompareAndSwap(false, true) {
		return
	}
	v.leased.Store(0)
	v.wg.Go(func() {
		defer v.running.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), vacuumTimeout)
		defer cancel()
		// A role that does not own the table gets a warning and no vacuum,
		// not an error: autovacuum still comes by.
		if _, err := v.pool.Exec(ctx, `VACUUM (SKIP_LOCKED, PARALLEL 0) tasks`); err != nil {
			v.log.WarnContext(ctx, "postgres: vacuum of tasks failed; autovacuum will come by", "err", err)
		}
	})
}

// wait waits for a vacuum under way.
func (v *vacuumer) wait() { v.wg.Wait() }
