package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/internal/store/postgres"
	"github.com/ytcaption/ytcaption/control-plane/internal/store/storetest"
	"github.com/ytcaption/ytcaption/test/testenv"
)

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		s := open(t, testenv.Postgres(t))
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	})
}

func TestStoredRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	s := open(t, dsn)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	storetest.StoredRows(t, s, func(ctx context.Context, table, column, keyColumn, key, text string) error {
		_, err := conn.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s = $1::jsonb WHERE %s = $2`, table, column, keyColumn), text, key)
		return err
	})
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	s := open(t, dsn)
	for i := range 3 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate run %d: %v", i+1, err)
		}
	}
	// The tables live in the schema named by the DSN's search_path.
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	conn, err := pgx.Connect(ctx, testenv.PostgresURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var tables, versions int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = $1 AND table_name IN ('schema_migrations', 'jobs', 'tasks')`, schema).Scan(&tables); err != nil {
		t.Fatalf("count tables: %v", err)
	}
	if tables != 3 {
		t.Fatalf("found %d of schema_migrations, jobs, tasks in schema %s", tables, schema)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()).Scan(&versions); err != nil {
		t.Fatalf("count versions: %v", err)
	}
	if versions < 1 {
		t.Fatalf("schema_migrations has %d rows", versions)
	}
}

// Replicas starting together all call Migrate; each must succeed and the
// schema must be applied once.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	const replicas = 4
	stores := make([]*postgres.Store, replicas)
	for i := range stores {
		stores[i] = open(t, dsn)
	}
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Migrate(context.Background())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: Migrate: %v", i, err)
		}
	}
	// The schema works from every replica.
	for i, s := range stores {
		if _, err := s.ListAgents(context.Background()); err != nil {
			t.Fatalf("replica %d: ListAgents after concurrent migrations: %v", i, err)
		}
	}
}

func TestOpenBadDSN(t *testing.T) {
	t.Parallel()
	if _, err := postgres.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", nil); err == nil {
		t.Fatal("Open of an unreachable server: no error")
	}
}
