package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// The changes agents report (heartbeat, complete, fail, release) are
// group-committed (batch.go): one transaction takes the job locks of a whole
// batch in id order, reads every job's state in the same round trip, decides
// the reports in arrival order (store.ApplyReports), and writes them all
// with its commit: two round trips. This is what a busy fleet calls most:
// three times per task.
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
// stale lease, say) writes nothing and does not disturb the batch. The
// accepted reports that ask for the agent's next tasks lease them in the
// same transaction, all with one fair-share query per set of capabilities,
// the leases' writes going with the commit. Should that transaction fail,
// the batch is written again without leases: a lease that fails leases
// nothing, the reports stand, and their agents ask again.
func (s *Store) applyReports(batch []*call[store.Report, store.Reported]) {
	if slices.ContainsFunc(batch, func(c *call[store.Report, store.Reported]) bool { return c.req.Next != nil }) {
		err := commitBatch(s, batch, s.writeReports(true))
		if err == nil {
			return
		}
		s.log.Warn("postgres: reports with their agents' next leases not written; writing them without the leases", "err", err)
	}
	groupCommit(s, batch, s.writeReports(false))
}

// writeReports writes a batch of reports and, if lease is set, the next
// tasks they ask for.
func (s *Store) writeReports(lease bool) batchWrite[store.Report, store.Reported] {
	return func(ctx context.Context, tx *pipeTx, batch []*call[store.Report, store.Reported]) (func(context.Context), error) {
		reports := make([]store.Report, len(batch))
		for i, c := range batch {
			reports[i] = c.req
		}
		out, err := store.ApplyReports(ctx, stateTx{tx: tx}, reports)
		if err != nil {
			return nil, err
		}
		if lease {
			if err := s.leaseNext(ctx, tx, batch, out); err != nil {
				return nil, err
			}
		}
		return func(context.Context) {
			for i, c := range batch {
				c.answer(out[i], nil)
			}
		}, nil
	}
}

// leaseNext leases the next tasks the accepted reports of batch ask for
// (Report.Next) into out.
func (s *Store) leaseNext(ctx context.Context, tx *pipeTx, batch []*call[store.Report, store.Reported], out []store.Reported) error {
	ps := make([]store.LeaseParams, len(batch))
	asked := false
	for i, c := range batch {
		if n := c.req.Next; n != nil && out[i].Err == nil && c.ctx.Err() == nil {
			ps[i], asked = *n, true
		}
	}
	if !asked {
		return nil
	}
	leased, err := s.leaseAll(ctx, tx, ps)
	if err != nil {
		return fmt.Errorf("lease after reports: %w", err)
	}
	for i := range out {
		out[i].Next = leased[i]
	}
	return nil
}
