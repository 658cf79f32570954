package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/internal/store/sqlite"
	"github.com/ytcaption/ytcaption/control-plane/internal/store/storetest"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "ytcaption.db"))
	})
}

func TestStoredRows(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ytcaption.db")
	s := open(t, path)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(60000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	storetest.StoredRows(t, s, func(ctx context.Context, table, column, keyColumn, key, text string) error {
		_, err := db.ExecContext(ctx, fmt.Sprintf(`UPDATE %s SET %s = ? WHERE %s = ?`, table, column, keyColumn), text, key)
		return err
	})
}

func TestOpenPathForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		path func(dir string) string
		file string // what it names inside dir
	}{
		{"plain path", func(dir string) string { return filepath.Join(dir, "a.db") }, "a.db"},
		{"path with spaces and ?", func(dir string) string { return filepath.Join(dir, "my data?.db") }, "my data?.db"},
		{"file URI", func(dir string) string { return "file:" + filepath.Join(dir, "b.db") }, "b.db"},
		{"file URI with parameters", func(dir string) string { return "file:" + filepath.Join(dir, "c.db") + "?cache=private" }, "c.db"},
		{"sqlite URL", func(dir string) string { return "sqlite://" + filepath.Join(dir, "d.db") }, "d.db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := tc.path(dir)
			s := open(t, path)
			if _, err := os.Stat(filepath.Join(dir, tc.file)); err != nil {
				t.Fatalf("database file: %v", err)
			}
			if err := s.Ping(context.Background()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			// The same location opened again sees the same data.
			at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			if err := s.CreateAPIKey(context.Background(), store.APIKey{ID: "k", Tenant: "t", Role: store.RoleAdmin, Hash: "h", CreatedAt: at}); err != nil {
				t.Fatalf("CreateAPIKey: %v", err)
			}
			again := open(t, path)
			if _, err := again.GetAPIKey(context.Background(), "k"); err != nil {
				t.Fatalf("reopened store: GetAPIKey: %v", err)
			}
		})
	}
	for _, bad := range []string{"", ":memory:"} {
		if _, err := sqlite.Open(context.Background(), bad, nil); err == nil {
			t.Errorf("Open(%q): no error", bad)
		}
	}
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "m.db"))
	for i := range 3 {
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("Migrate run %d: %v", i+2, err)
		}
	}
}

// Two stores on one file stand for two processes: their writes must wait for
// each other (busy timeout, immediate transactions), never fail or overlap.
func TestTwoStoresOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "shared.db")
	a, b := open(t, path), open(t, path)
	ctx := context.Background()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 60
	for i := range n {
		j := job.Job{ID: uuid.Must(uuid.NewV7()).String(), Tenant: "t", CreatedAt: at.Add(time.Duration(i) * time.Millisecond),
			Spec: job.Spec{URL: "https://example.com/a.mp4", Language: "en", Task: api.TaskTranscribe}}
		if _, _, err := a.CreateJob(ctx, j, job.Plan(j, func() string { return uuid.Must(uuid.NewV7()).String() }, 3), store.JobMeta{}); err != nil {
			t.Fatalf("CreateJob: %v", err)
		}
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	now := at.Add(time.Minute)
	for w, s := range []*sqlite.Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				got, err := s.LeaseTasks(ctx, store.LeaseParams{AgentID: "w", Max: 2, Now: now, Deadline: now.Add(time.Minute),
					Capabilities: api.Capabilities{Slots: 1}})
				if err != nil {
					t.Errorf("worker %d: LeaseTasks: %v", w, err)
					return
				}
				if len(got) == 0 {
					return
				}
				for _, tk := range got {
					if _, err := s.CompleteTask(ctx, store.Completion{TaskID: tk.ID, Token: tk.Token, Result: api.TaskResult{Key: "k"}, Now: now}); err != nil {
						t.Errorf("worker %d: CompleteTask: %v", w, err)
						return
					}
				}
				mu.Lock()
				for _, tk := range got {
					seen[tk.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct tasks leased, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("task %s leased %d times", id, c)
		}
	}
}
