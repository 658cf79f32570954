package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pipeTx is a transaction that sends the statements whose answers nobody
// waits for (BEGIN, SAVEPOINT, RELEASE, and writes queued with sendLater)
// with the next statement that is waited for, instead of one round trip
// each: a group commit's transaction costs two round trips where it cost
// four or more, and its writer, the one a batch of callers waits for, is
// back sooner. A queued statement that fails fails the round trip it went
// with: the transaction is then aborted and can only be rolled back, as
// with pgx's own transaction. A savepoint's queued writes go at the latest
// with its release, which then waits for them, so that one that fails is
// undone with the savepoint alone. It implements pgx.Tx; a savepoint
// (Begin) is one too.
type pipeTx struct {
	conn *pgx.Conn
	// pending is sent, in order, before the next statement.
	pending []*pgx.QueuedQuery
	// savepoint is this savepoint's name; "" for the transaction itself.
	savepoint string
	parent    *pipeTx // nil for the transaction itself
	nested    int     // savepoints made in it, for their names
	wrote     bool    // sendLater was called on it
	closed    bool
}

var _ pgx.Tx = (*pipeTx)(nil)

// beginPipe starts a transaction on conn whose BEGIN goes with its first
// statement.
func beginPipe(conn *pgx.Conn) *pipeTx {
	tx := &pipeTx{conn: conn}
	tx.later("begin")
	return tx
}

// root is the transaction that owns the queue of pending statements.
func (tx *pipeTx) root() *pipeTx {
	for tx.parent != nil {
		tx = tx.parent
	}
	return tx
}

// later queues sql to go with the next round trip.
func (tx *pipeTx) later(sql string, args ...any) {
	r := tx.root()
	r.pending = append(r.pending, &pgx.QueuedQuery{SQL: sql, Arguments: args})
}

// sendLater queues b's statements to go with the next round trip (at the
// latest the commit); their results are not read.
func (tx *pipeTx) sendLater(b *pgx.Batch) {
	tx.wrote = true
	r := tx.root()
	r.pending = append(r.pending, b.QueuedQueries...)
}

// send sends the pending statements followed by b's, reads the pending ones'
// results, and returns b's.
func (tx *pipeTx) send(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	r := tx.root()
	if r.closed {
		return errResults{pgx.ErrTxClosed}
	}
	n := len(r.pending)
	if n > 0 {
		b = &pgx.Batch{QueuedQueries: append(r.pending, b.QueuedQueries...)}
		r.pending = nil
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

// Begin makes a savepoint, sent with the next statement.
func (tx *pipeTx) Begin(context.Context) (pgx.Tx, error) {
	if tx.root().closed {
		return nil, pgx.ErrTxClosed
	}
	return tx.begin(), nil
}

// begin is Begin for callers that queue writes in the savepoint.
func (tx *pipeTx) begin() *pipeTx {
	tx.nested++
	sp := &pipeTx{conn: tx.conn, parent: tx, savepoint: tx.savepointName() + "_" + strconv.Itoa(tx.nested)}
	sp.later("savepoint " + sp.savepoint)
	return sp
}

// savepointName prefixes the names of the savepoints made in tx.
func (tx *pipeTx) savepointName() string {
	if tx.savepoint == "" {
		return "sp"
	}
	return tx.savepoint
}

// Commit commits the transaction with the pending statements, or releases
// the savepoint: with the next round trip, or now if writes were queued in
// it. If one of those fails, the savepoint is rolled back and Commit
// returns the failure; the transaction goes on without the savepoint's
// work.
func (tx *pipeTx) Commit(ctx context.Context) error {
	if tx.closed || tx.root().closed {
		return pgx.ErrTxClosed
	}
	if tx.parent != nil {
		tx.closed = true
		release := "release savepoint " + tx.savepoint
		if !tx.wrote {
			tx.later(release)
			return nil
		}
		if _, err := tx.parent.Exec(ctx, release); err != nil {
			if _, rerr := tx.parent.Exec(ctx, "rollback to savepoint "+tx.savepoint); rerr != nil {
				return errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rerr))
			}
			return err
		}
		return nil
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

// Rollback rolls the transaction back, dropping the pending statements, or
// rolls back to the savepoint.
func (tx *pipeTx) Rollback(ctx context.Context) error {
	if tx.closed || tx.root().closed {
		return pgx.ErrTxClosed
	}
	tx.closed = true
	if tx.parent != nil {
		// Now, not later: after a failed statement PostgreSQL parses
		// nothing but transaction control until this has run.
		_, err := tx.Exec(ctx, "rollback to savepoint "+tx.savepoint)
		return err
	}
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

// CopyFrom copies once the pending statements have gone.
func (tx *pipeTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	if err := tx.send(ctx, &pgx.Batch{}).Close(); err != nil {
		return 0, err
	}
	return tx.conn.CopyFrom(ctx, table, cols, src)
}

// Prepare prepares on the connection, as pgx's transaction does.
func (tx *pipeTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return tx.conn.Prepare(ctx, name, sql)
}

// LargeObjects are not supported: the store has none.
func (tx *pipeTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

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
