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

// TestHeartbeatIsHOT: a heartbeat rewrites its task's lease deadline, stage
// and progress, none of them indexed, and the task's page keeps room, so
// the new row version is a heap-only tuple (HOT): no index gets an entry.
// Read with pageinspect, which ships with PostgreSQL's server package.
func TestHeartbeatIsHOT(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	at := time.Now().UTC()
	for range 100 {
		createPlanned(t, s, testJob(at, ""))
	}
	l := leaseOne(t, s, at)
	if _, err := s.Heartbeat(ctx, store.Heartbeat{TaskID: l.ID, Holder: "a", Token: l.Token, Stage: "download", Progress: 0.5,
		Now: at, Deadline: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// The extension lives in this test's schema (dropped with it) unless
	// the database has it already, wherever that is.
	if _, err := s.pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pageinspect`); err != nil {
		t.Fatalf("pageinspect: %v", err)
	}
	var ext string
	if err := s.pool.QueryRow(ctx, `SELECT quote_ident(extnamespace::regnamespace::text) FROM pg_extension WHERE extname = 'pageinspect'`).Scan(&ext); err != nil {
		t.Fatal(err)
	}
	const heapOnlyTuple = 0x8000 // t_infomask2's HEAP_ONLY_TUPLE
	var heapOnly bool
	if err := s.pool.QueryRow(ctx, `SELECT (p.t_infomask2 & $2) <> 0
		FROM tasks t, `+ext+`.heap_page_items(`+ext+`.get_raw_page('tasks', (t.ctid::text::point)[0]::int)) p
		WHERE t.id = $1 AND p.lp = (t.ctid::text::point)[1]::int`, l.ID, heapOnlyTuple).Scan(&heapOnly); err != nil {
		t.Fatal(err)
	}
	if !heapOnly {
		t.Fatal("the heartbeat's row version is not heap-only: it added index entries")
	}
}
