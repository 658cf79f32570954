package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// The changes agents report (heartbeat, complete, fail, release) are
// group-committed (batch.go): one transaction takes the job locks of a whole
// batch in id order, reads every job's state in the same round trip, decides
// the reports in arrival order (store.ApplyReports), and writes them all in
// a second round trip. This is what a busy fleet calls most: three times
// per task.
const (
	taskWriters  = 2
	taskMaxBatch = 64
)

// report queues r for the next batch and waits for its answer.
func (s *Store) report(ctx context.Context, r store.Report) (store.Reported, error) {
	res, err := s.reports.do(ctx, r)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return res, fmt.Errorf("postgres: %s task %s: %w", r.Op, r.TaskID, err)
	}
	return res, nil
}

// applyReports writes a batch of reports in one transaction (see
// groupCommit) and answers every call. A report the job rules refuse (a
// stale lease, say) writes nothing and does not disturb the batch.
func (s *Store) applyReports(batch []*call[store.Report, store.Reported]) {
	groupCommit(s, batch, func(ctx context.Context, tx pgx.Tx, batch []*call[store.Report, store.Reported]) (func(context.Context), error) {
		reports := make([]store.Report, len(batch))
		for i, c := range batch {
			reports[i] = c.req
		}
		out, err := store.ApplyReports(ctx, stateTx{tx}, reports)
		if err != nil {
			return nil, err
		}
		return func(context.Context) {
			for i, c := range batch {
				c.answer(out[i], nil)
			}
		}, nil
	})
}
