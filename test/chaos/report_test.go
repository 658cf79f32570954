package chaos_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"

	"github.com/ytcaption/ytcaption/test/testenv"
)

// tally is the exact accounting of a run.
type tally struct {
	submitted, succeeded, failed, invalid, lost int
	unexpectedFail                              []string // valid jobs that failed
	invalidNotFailed                            []string
	duplicates                                  int // accepted completions beyond the first, per task
	resultProblems                              []string
	retries                                     int
	faults                                      map[string]int
	longest                                     time.Duration
	longestKind                                 string
	rolling5xx                                  int
	rollingFailed                               int
	all5xx                                      map[int]int
	lateRejected                                int // agents' completions refused as stale
	realChecked, longChecked                    int
	crashes                                     int // processes that exited on their own
}

// account checks every job exactly and prints (and maybe records) the table.
func (s *suite) account() {
	t := s.t
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	jobs := s.w.snapshot()
	var tl tally
	tl.faults = map[string]int{}
	for _, j := range jobs {
		tl.submitted++
		st := j.last.Status
		switch {
		case !j.final:
			tl.lost++
			t.Errorf("LOST: job %s (%s, submitted in %q) still %s after the drain: stage %q, attempts %d",
				j.id, j.kind, j.phase, st, j.last.Stage, j.last.Attempts)
		case st == api.JobSucceeded:
			tl.succeeded++
		case st == api.JobFailed:
			tl.failed++
		}
		if j.kind == kindInvalid {
			tl.invalid++
			if j.final && (st != api.JobFailed || j.last.Error == nil || j.last.Error.Code != api.CodeSourceNotFound) {
				tl.invalidNotFailed = append(tl.invalidNotFailed, j.id)
				t.Errorf("invalid job %s ended %s with %+v, want failed %s", j.id, st, j.last.Error, api.CodeSourceNotFound)
			}
		} else if j.final && st != api.JobSucceeded {
			tl.unexpectedFail = append(tl.unexpectedFail, j.id)
			t.Errorf("job %s (%s, submitted in %q) ended %s after %d attempts: %+v", j.id, j.kind, j.phase, st, j.last.Attempts, j.last.Error)
		}
		if j.phase == "rolling restart" && j.kind != kindInvalid && st != api.JobSucceeded {
			tl.rollingFailed++
		}
		tl.retries += max(0, j.last.Attempts-1)
	}

	// Each task's result accepted once, across every replica's log.
	completions := serverCompletions(s.c.replicaLogs())
	for task, by := range completions {
		if len(by) > 1 {
			tl.duplicates += len(by) - 1
			t.Errorf("DUPLICATE: task %s completed %d times (agents %v)", task, len(by), by)
		}
	}
	s.checkResults(ctx, jobs, completions, &tl)
	s.checkReal(ctx, jobs, &tl)

	for _, a := range s.c.agents {
		for _, e := range agentEvents(testenv.ReadLog(a.log), false) {
			if e.msg == staleOutcomes[0] {
				tl.lateRejected++
			}
		}
	}
	for _, a := range s.c.agents {
		tl.crashes += int(a.crashes.Load())
	}
	for _, r := range s.c.replicas {
		tl.crashes += int(r.crashes.Load())
	}
	for _, f := range s.faults {
		tl.faults[f.kind]++
		if f.recovered > tl.longest {
			tl.longest, tl.longestKind = f.recovered, f.kind
		}
	}
	tl.rolling5xx, _ = s.c.client.fivexx("rolling restart")
	_, tl.all5xx = s.c.client.fivexx("")
	if tl.rolling5xx != 0 {
		t.Errorf("rolling restart: %d 5xx answers to the client, want 0", tl.rolling5xx)
	}
	if tl.lost != 0 || tl.duplicates != 0 {
		t.Errorf("lost %d, duplicate results %d; want 0 and 0", tl.lost, tl.duplicates)
	}
	if tl.invalid == 0 || tl.realChecked == 0 || tl.longChecked == 0 {
		t.Errorf("the workload ran %d invalid, %d real-engine and %d long jobs; want some of each", tl.invalid, tl.realChecked, tl.longChecked)
	}
	for _, e := range s.w.errs {
		t.Errorf("workload: %s", e)
	}

	table := s.table(tl)
	t.Logf("chaos results:\n%s", table)
	if dir := os.Getenv(reportDirEnv); dir != "" {
		// Only outside the tree: `make chaos-record` copies a long run's
		// table into docs/reliability.md on purpose.
		if err := os.WriteFile(filepath.Join(dir, "chaos-"+s.m.name+".md"), []byte(table), 0o644); err != nil {
			t.Errorf("write results table: %v", err)
		}
	}
}

// checkResults compares the store with the logs: every succeeded job has
// one committed result, the one its completing attempt wrote, and the
// object is in MinIO.
func (s *suite) checkResults(ctx context.Context, jobs []jobRec, completions map[string][]string, tl *tally) {
	t := s.t
	conn, err := pgx.Connect(ctx, s.c.pg.URL())
	if err != nil {
		t.Errorf("connect to PostgreSQL for the result check: %v", err)
		return
	}
	defer conn.Close(ctx)
	type row struct {
		status, resultKey, task, kind, state string
		attempt                              int
	}
	rows, err := conn.Query(ctx, `SELECT j.id, j.status, j.result_key, t.id, t.attempt, t.kind, t.state
		FROM jobs j JOIN tasks t ON t.job_id = j.id`)
	if err != nil {
		t.Errorf("query jobs: %v", err)
		return
	}
	db := map[string][]row{}
	for rows.Next() {
		var id string
		var r row
		if err := rows.Scan(&id, &r.status, &r.resultKey, &r.task, &r.attempt, &r.kind, &r.state); err != nil {
			t.Errorf("scan: %v", err)
			return
		}
		db[id] = append(db[id], r)
	}
	if err := rows.Err(); err != nil {
		t.Errorf("query jobs: %v", err)
		return
	}
	mc, err := minio.New(strings.TrimPrefix(s.c.minio.Endpoint(), "http://"),
		&minio.Options{Creds: credentials.NewStaticV4(s.c.minio.user, s.c.minio.pass, "")})
	if err != nil {
		t.Errorf("minio client: %v", err)
		return
	}
	problem := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		tl.resultProblems = append(tl.resultProblems, msg)
		t.Error(msg)
	}
	for _, j := range jobs {
		rs := db[j.id]
		// The task whose transcript is the job's: a split job's merge, or
		// the job's only task.
		var r row
		kinds := map[string]int{}
		for _, t := range rs {
			kinds[t.kind]++
			if t.kind == "merge" || len(rs) == 1 {
				r = t
			}
		}
		if r.task == "" {
			problem("job %s has tasks %v in the store, want one task or a graph with a merge", j.id, kinds)
			continue
		}
		if j.last.Status != api.JobSucceeded {
			continue
		}
		if j.kind == kindLong {
			if kinds["prepare"] != 1 || kinds["transcribe"] < 2 || kinds["merge"] != 1 {
				problem("long job %s ran tasks %v, want 1 prepare, ≥ 2 transcribe, 1 merge", j.id, kinds)
			}
			for _, t := range rs {
				if t.state != "succeeded" {
					problem("long job %s succeeded with its %s task %s %s", j.id, t.kind, t.task, t.state)
				}
			}
			tl.longChecked++
		}
		want := fmt.Sprintf("jobs/%s/tasks/%s/attempt-%d/transcript.json", j.id, r.task, r.attempt)
		if r.resultKey != want {
			problem("job %s: committed result %q, want the completing attempt's %q", j.id, r.resultKey, want)
		}
		if n := len(completions[r.task]); n != 1 {
			// Zero is possible only if a replica died between commit and log.
			t.Logf("job %s: %d accepted completions logged for task %s", j.id, n, r.task)
		}
		if _, err := mc.StatObject(ctx, s.c.bucket, r.resultKey, minio.StatObjectOptions{}); err != nil {
			problem("job %s: committed result %s is not in the bucket: %v", j.id, r.resultKey, err)
		}
	}
}

// checkReal checks the pocketsphinx jobs' captions against the spoken text.
func (s *suite) checkReal(ctx context.Context, jobs []jobRec, tl *tally) {
	for _, j := range jobs {
		if j.kind != kindReal || j.last.Status != api.JobSucceeded {
			continue
		}
		txt, err := s.c.client.captions(ctx, j.id, "txt")
		if err != nil {
			s.t.Errorf("real job %s: %v", j.id, err)
			continue
		}
		if j.last.Result == nil || j.last.Result.Engine != "pocketsphinx" {
			s.t.Errorf("real job %s: result %+v, want the pocketsphinx engine", j.id, j.last.Result)
		}
		if wer := media.WER(realSpeech, txt); wer > maxRealWER {
			s.t.Errorf("real job %s: WER %.2f above %.2f: %q", j.id, wer, maxRealWER, txt)
		}
		tl.realChecked++
	}
}

// table renders the run as Markdown.
func (s *suite) table(tl tally) string {
	var kinds []string
	total := 0
	for k, n := range tl.faults {
		kinds = append(kinds, fmt.Sprintf("%s ×%d", k, n))
		total += n
	}
	sort.Strings(kinds)
	fivexx := "none"
	if len(tl.all5xx) > 0 {
		var parts []string
		for code, n := range tl.all5xx {
			parts = append(parts, fmt.Sprintf("%d×%d", n, code))
		}
		sort.Strings(parts)
		fivexx = strings.Join(parts, ", ")
	}
	skipped := ""
	if s.disk.skipped != "" {
		skipped = " (full-disk scenario skipped: " + s.disk.skipped + ")"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### %s — %s run, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), s.m.name, machine())
	b.WriteString("| measure | value |\n|---|---|\n")
	row := func(k string, v any) { fmt.Fprintf(&b, "| %s | %v |\n", k, v) }
	row("jobs submitted", tl.submitted)
	row("succeeded", tl.succeeded)
	row("failed (all deliberately invalid?)", fmt.Sprintf("%d (%d invalid submitted; %d valid jobs failed)", tl.failed, tl.invalid, len(tl.unexpectedFail)))
	row("lost (not final after the drain)", tl.lost)
	row("duplicate committed results", tl.duplicates)
	row("result/store mismatches", len(tl.resultProblems))
	row("faults injected", fmt.Sprintf("%d: %s%s", total, strings.Join(kinds, ", "), skipped))
	row("retries (attempts beyond the first)", tl.retries)
	row("processes that crashed on their own", tl.crashes)
	row("late completions refused (stale lease)", tl.lateRejected)
	row("longest time to recover", fmt.Sprintf("%.1f s (%s)", tl.longest.Seconds(), tl.longestKind))
	row("5xx during the rolling restart", tl.rolling5xx)
	row("5xx seen by clients in the whole run", fivexx)
	row("real-engine (pocketsphinx) jobs checked", tl.realChecked)
	row("long jobs (prepare, chunks, merge) checked", tl.longChecked)
	return b.String()
}
