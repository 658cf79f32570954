package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pipeTx is a transaction that sends the statements whose answers nobody
// waits for (BEGIN, and writes queued with sendLater) with the next
// statement that is waited for, instead of one round trip each: a group
// commit's transaction costs two round trips where it cost four or more,
// and its writer, the one a batch of callers waits for, is back sooner. A
// queued statement that fails fails the round trip it went with: the
// transaction is then aborted and can only be rolled back, as with pgx's
// own transaction. It has no savepoints: a change that must fail alone is
// written again without the rest (applyReports).
type pipeTx struct {
	conn *pgx.Conn
	// pending is sent, in order, before the next statement.
	pending []*pgx.QueuedQuery
	closed  bool
}

// beginPipe starts a transaction on conn whose BEGIN goes with its first
// statement.
func beginPipe(conn *pgx.Conn) *pipeTx {
	tx := &pipeTx{conn: conn}
	tx.later("begin")
	return tx
}

// later queues sql to go with the next round trip.
func (tx *pipeTx) later(sql string, args ...any) {
	tx.pending = append(tx.pending, &pgx.QueuedQuery{SQL: sql, Arguments: args})
}

// sendLater queues b's statements to go with the next round trip (at the
// latest the commit); their results are not read.
func (tx *pipeTx) sendLater(b *pgx.Batch) {
	tx.pending = append(tx.pending, b.QueuedQueries...)
}

// send sends the pending statements followed by b's, reads the pending ones'
// results, and returns b's.
func (tx *pipeTx) send(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if tx.closed {
		return errResults{pgx.ErrTxClosed}
	}
	n := len(tx.pending)
	if n > 0 {
		b = &pgx.Batch{QueuedQueries: append(tx.pending, b.QueuedQueries...)}
		tx.pending = nil
	}
	br := tx.conn.SendBatch(ctx, b)
	for range n {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return errResults{fmt.Errorf("queued statement: %w", err)}
		}
	}
	return br
}

// SendBatch sends b with the pending statements.
func (tx *pipeTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return tx.send(ctx, b)
}

// Exec runs sql with the pending statements.
func (tx *pipeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br := tx.send(ctx, b)
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// Query runs sql with the pending statements; closing the rows ends the
// round trip.
func (tx *pipeTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br := tx.send(ctx, b)
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return rows, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// QueryRow runs sql with the pending statements.
func (tx *pipeTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := tx.Query(ctx, sql, args...)
	return &pipeRow{rows: rows, err: err}
}

// Commit commits the transaction with the pending statements.
func (tx *pipeTx) Commit(ctx context.Context) error {
	if tx.closed {
		return pgx.ErrTxClosed
	}
	tag, err := tx.Exec(ctx, "commit")
	tx.closed = true
	if err != nil {
		tx.rollback(ctx) // a statement sent with it failed, so it did not run
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// Rollback rolls the transaction back, dropping the pending statements.
func (tx *pipeTx) Rollback(ctx context.Context) error {
	if tx.closed {
		return pgx.ErrTxClosed
	}
	tx.closed = true
	tx.pending = nil
	tx.rollback(ctx)
	return nil
}

// rollback ends the transaction on the server if it is still open there,
// and closes the connection if that fails, so the pool never hands out a
// connection inside a transaction.
func (tx *pipeTx) rollback(ctx context.Context) {
	if tx.conn.PgConn().TxStatus() == 'I' {
		return // BEGIN never went, or the transaction has ended
	}
	if _, err := tx.conn.Exec(ctx, "rollback"); err != nil {
		_ = tx.conn.Close(ctx)
	}
}

// Conn is the transaction's connection.
func (tx *pipeTx) Conn() *pgx.Conn { return tx.conn }

// batchRows are a batch's last rows; closing them closes the batch.
type batchRows struct {
	pgx.Rows
	br       pgx.BatchResults
	closeErr error
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if err := r.br.Close(); err != nil {
		r.closeErr = err
	}
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.closeErr
}

// pipeRow is QueryRow's row, as pgx's: Scan reads the first row and closes.
type pipeRow struct {
	rows pgx.Rows
	err  error
}

func (r *pipeRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if !r.rows.Next() {
		r.rows.Close()
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		r.rows.Close()
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

// errResults are the results of a batch that could not be sent.
type errResults struct{ err error }

func (e errResults) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, e.err }
func (e errResults) Query() (pgx.Rows, error)         { return nil, e.err }
func (e errResults) QueryRow() pgx.Row                { return &pipeRow{err: e.err} }
func (e errResults) Close() error                     { return e.err }
func (e errResults) Tx() pgx.Tx                       { return nil }
