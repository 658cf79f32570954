// Package postgres is the PostgreSQL implementation of store.Store, on a pgx
// connection pool. It is the store for multi-replica deployments: replicas
// lease from one queue with SELECT ... FOR UPDATE SKIP LOCKED, so they never
// wait on each other's rows and never hand one task to two agents.
//
// Locking discipline (it is what keeps the store free of deadlocks): every
// change to a task holds the row lock of its job, taken before any write to
// the task, and a transaction that locks several jobs waits for them in id
// order. The group-committed reports of agents (heartbeat, complete, fail,
// release) lock all their batch's jobs in one statement, in id order.
// Operations that scan for tasks (lease, rescue) lock task and job together
// with SKIP LOCKED and so never wait at all. Holding the job's lock, a
// change reads the job's tasks unlocked: no one else may write them.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store on PostgreSQL.
type Store struct {
	store.Changes // cancel, retry and the agents' reports, on report and changeJob

	pool     *pgxpool.Pool
	log      *slog.Logger
	creates  *batcher[createReq, created]                // group commit of CreateJob (create.go)
	reports  *batcher[store.Report, store.Reported]      // group commit of agents' reports (taskchange.go)
	leases   *batcher[store.LeaseParams, []store.Leased] // group commit of leases (tasks.go)
	jobReads *batcher[jobRead, job.Job]                  // batched GetJob (jobs.go)
	vacuum   *vacuumer                                   // of tasks, after many leases (vacuum.go)
}

// Open connects to PostgreSQL at dsn (a postgres:// URL or key=value string;
// unknown parameters such as search_path are sent as run-time parameters). It
// does not migrate: call Migrate.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database url: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgx's default (max(4, cores)) queues concurrent submits and lease
		// long-polls behind four connections; PostgreSQL commits many
		// concurrent transactions in one WAL flush, so more connections
		// means more commits a second (see docs/performance.md).
		cfg.MaxConns = int32(max(16, 4*runtime.NumCPU()))
	}
	sh := newShards()
	cfg.AfterConnect, cfg.BeforeClose = sh.afterConnect, sh.beforeClose
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool, log: logger, vacuum: &vacuumer{pool: pool, log: logger, every: vacuumEvery}}
	s.creates = newBatcher(createWriters, createMaxBatch, s.createBatch)
	s.reports = newBatcher(taskWriters, taskMaxBatch, s.applyReports)
	s.leases = newBatcher(leaseWriters, leaseMaxBatch, s.leaseBatch)
	s.jobReads = newBatcher(jobReaders, jobReadMaxBatch, s.readJobs)
	s.Changes = store.Changes{Report: s.report, Job: s.changeJob}
	return s, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.creates.close()
	s.reports.close()
	s.leases.close()
	s.jobReads.close()
	s.vacuum.wait()
	s.pool.Close()
	return nil
}

// inPipe runs fn in a READ COMMITTED transaction, pipelined (pipetx.go).
// The locking discipline makes deadlocks a bug, but a deadlock or
// serialization failure is retried a few times anyway rather than surfaced
// to an agent as an internal error; fn must therefore set its results only
// from what it reads.
func (s *Store) inPipe(ctx context.Context, fn func(*pipeTx) error) error {
	const attempts = 3
	for i := 1; ; i++ {
		err := s.txOnce(ctx, fn)
		if err == nil || i == attempts || !retryable(err) {
			return err
		}
		s.log.WarnContext(ctx, "postgres: retrying transaction", "attempt", i, "err", err)
	}
}

// txOnce runs fn in one transaction on a pooled connection: committed if fn
// succeeds, rolled back if it fails or panics.
func (s *Store) txOnce(ctx context.Context, fn func(*pipeTx) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	tx := beginPipe(conn.Conn())
	defer func() { _ = tx.Rollback(ctx) }() // after a commit: ErrTxClosed, a no-op
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// mapErr turns the job rules' errors and PostgreSQL constraint violations
// into the store's sentinel errors, keeping the original in the chain.
func mapErr(err error) error {
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, job.ErrStaleLease), errors.Is(err, job.ErrInvalidState):
		return store.RuleError(err)
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	case errors.As(err, &pe) && pe.Code == "23505" && !errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}
