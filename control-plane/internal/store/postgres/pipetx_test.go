package postgres

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ytcaption/ytcaption/test/testenv"
)

// roundTrips counts what a connection sends: each query and each batch is
// one round trip.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// tracedConn connects with cfg and counts the round trips it makes.
func tracedConn(t *testing.T, cfg *pgx.ConnConfig) (*pgx.Conn, *roundTrips) {
	t.Helper()
	rt := &roundTrips{}
	cfg.Tracer = rt
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn, rt
}

// pipeConn connects to a fresh schema holding table t (x int primary key)
// and counts the round trips made after that.
func pipeConn(t *testing.T) (*pgx.Conn, *roundTrips) {
	t.Helper()
	cfg, err := pgx.ParseConfig(testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	conn, rt := tracedConn(t, cfg)
	if _, err := conn.Exec(context.Background(), "CREATE TABLE t (x int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	rt.n.Store(0)
	return conn, rt
}

func tableRows(t *testing.T, conn *pgx.Conn) []int {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT x FROM t ORDER BY x")
	if err != nil {
		t.Fatal(err)
	}
	xs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return xs
}

func insert(xs ...int) *pgx.Batch {
	b := &pgx.Batch{}
	for _, x := range xs {
		b.Queue("INSERT INTO t VALUES ($1)", x)
	}
	return b
}

// A transaction that begins, reads and commits writes nobody waited for
// makes two round trips: the read and the commit.
func TestPipeTxRoundTrips(t *testing.T) {
	ctx := context.Background()
	conn, rt := pipeConn(t)
	tx := beginPipe(conn)
	var one int
	if err := tx.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("QueryRow = %d, %v", one, err)
	}
	tx.sendLater(insert(1, 2))
	if got := rt.n.Load(); got != 1 {
		t.Fatalf("%d round trips before the commit, want 1", got)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rt.n.Load(); got != 2 {
		t.Fatalf("%d round trips, want 2", got)
	}
	if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxClosed) {
		t.Fatalf("second Commit = %v, want ErrTxClosed", err)
	}
	if got := tableRows(t, conn); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("rows %v, want [1 2]", got)
	}
}

// A queued write that fails fails the commit, and the whole transaction is
// rolled back: the connection is usable and idle.
func TestPipeTxQueuedWriteFailsCommit(t *testing.T) {
	ctx := context.Background()
	conn, _ := pipeConn(t)
	tx := beginPipe(conn)
	if _, err := tx.Exec(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	tx.sendLater(insert(2, 1)) // 1 is taken
	err := tx.Commit(ctx)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" {
		t.Fatalf("Commit = %v, want a unique violation", err)
	}
	_ = tx.Rollback(ctx)
	if conn.IsClosed() {
		t.Fatal("connection closed") // left in the failed transaction, it would be
	}
	if s := conn.PgConn().TxStatus(); s != 'I' {
		t.Fatalf("transaction status %q, want idle", s)
	}
	if got := tableRows(t, conn); len(got) != 0 {
		t.Fatalf("rows %v after the failed commit, want none", got)
	}
}

// Reads and writes see the transaction's own work, a QueryRow of no row
// is ErrNoRows, and a rollback before anything was sent sends nothing.
func TestPipeTxReads(t *testing.T) {
	ctx := context.Background()
	conn, rt := pipeConn(t)

	idle := beginPipe(conn)
	if err := idle.Rollback(ctx); err != nil || rt.n.Load() != 0 {
		t.Fatalf("Rollback of an unsent transaction = %v after %d round trips, want nil after 0", err, rt.n.Load())
	}

	tx := beginPipe(conn)
	if _, err := tx.Exec(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("count = %d, %v; want 1", n, err)
	}
	if err := tx.QueryRow(ctx, "SELECT x FROM t WHERE x = 9").Scan(&n); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("QueryRow of no row = %v, want ErrNoRows", err)
	}
	rows, err := tx.Query(ctx, "SELECT x FROM t")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if _, err := tx.Exec(ctx, "INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := tableRows(t, conn); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("rows %v, want [1 2]", got)
	}
}
