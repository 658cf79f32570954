package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// TestStageUpdateStaysOnItsPage: a job's pages keep room, so an update of
// its stage and progress (what a heartbeat writes) stays on the job's page,
// a HOT update that adds no index entries, even on a page filled by inserts.
func TestStageUpdateStaysOnItsPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	at := time.Now()
	for range 100 {
		if _, _, err := s.CreateJob(ctx, testJob(at, ""), nil, store.JobMeta{}); err != nil {
			t.Fatal(err)
		}
	}
	var id string
	var pages int
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT id FROM jobs WHERE (ctid::text::point)[0] = 0 LIMIT 1),
		(SELECT count(DISTINCT (ctid::text::point)[0])::int FROM jobs)`).Scan(&id, &pages); err != nil {
		t.Fatal(err)
	}
	if pages < 2 {
		t.Fatalf("100 jobs on %d page; the first page is not full", pages)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE jobs SET stage = 'transcribe', progress = 0.5, updated_at = now() WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	var block int
	if err := s.pool.QueryRow(ctx, `SELECT (ctid::text::point)[0]::int FROM jobs WHERE id = $1`, id).Scan(&block); err != nil {
		t.Fatal(err)
	}
	if block != 0 {
		t.Fatalf("the updated job moved from page 0 to page %d", block)
	}
}
