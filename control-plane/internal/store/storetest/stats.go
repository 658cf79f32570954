package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// testStats drives jobs through submission, lease, success, failure and
// cancel at known times and checks the statistics bucket by bucket.
func testStats(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := epoch() // 03:04:05
	j1, _ := create(t, s, t0, spec{})
	j2, _ := create(t, s, t0.Add(time.Millisecond), spec{})
	k1 := leaseAs(t, s, "agent-a", t0.Add(10*time.Second), 1, defaultCaps())
	k2 := leaseAs(t, s, "agent-b", t0.Add(10*time.Second), 1, defaultCaps())
	if len(k1) != 1 || len(k2) != 1 || k1[0].JobID != j1.ID || k2[0].JobID != j2.ID {
		t.Fatalf("leases: %v %v", taskIDs(k1), taskIDs(k2))
	}
	j3, _ := create(t, s, t0.Add(time.Minute), spec{})
	_, err := s.FailTask(ctx, store.Failure{TaskID: k2[0].ID, Holder: "agent-b", Token: k2[0].Token,
		Error: api.Error{Code: api.CodeDownloadFailed, Message: "gone"}, Policy: defaultPolicy(), Now: t0.Add(70 * time.Second)})
	noErr(t, "FailTask", err)
	res := api.TaskResult{Key: "results/" + j1.ID + "/transcript.json", Result: api.Result{Language: "en", Duration: 60}}
	_, err = s.CompleteTask(ctx, store.Completion{TaskID: k1[0].ID, Holder: "agent-a", Token: k1[0].Token,
		Result: res, Now: t0.Add(130 * time.Second)})
	noErr(t, "CompleteTask", err)
	_, err = s.CancelJob(ctx, "", j3.ID, t0.Add(3*time.Minute))
	noErr(t, "CancelJob", err)
	create(t, s, t0.Add(5*time.Minute), spec{Tenant: "other"})

	now := t0.Add(30 * time.Minute)
	got, err := s.Stats(ctx, store.StatsQuery{Tenant: "acme", Window: api.Window1h, Now: now})
	noErr(t, "Stats", err)

	from := now.Truncate(time.Minute).Add(-59 * time.Minute)
	if !got.From.Equal(from) || !got.To.Equal(from.Add(time.Hour)) || got.BucketSeconds != 60 || len(got.Buckets) != 60 {
		t.Fatalf("window: from %s to %s, %d buckets of %d s; want from %s, 60 of 60 s", got.From, got.To, len(got.Buckets), got.BucketSeconds, from)
	}
	hist := func(d time.Duration, n int64) []int64 {
		h := make([]int64, job.HistBins)
		h[job.HistBin(d)] = n
		return h
	}
	wait := hist(10*time.Second, 2)
	failProc, okProc := hist(60*time.Second, 1), hist(120*time.Second, 1)
	bothProc := make([]int64, job.HistBins)
	for i := range bothProc {
		bothProc[i] = failProc[i] + okProc[i]
	}
	want := make([]api.StatsBucket, 60)
	for i := range want {
		want[i].Start = from.Add(time.Duration(i) * time.Minute).UTC()
	}
	i0 := int(t0.Truncate(time.Minute).Sub(from) / time.Minute)
	want[i0].StatsCounts = api.StatsCounts{Submitted: 2,
		QueueWaitP50: job.HistQuantile(wait, 0.5), QueueWaitP95: job.HistQuantile(wait, 0.95)}
	want[i0+1].StatsCounts = api.StatsCounts{Submitted: 1, Failed: 1,
		ProcessingP50: job.HistQuantile(failProc, 0.5), ProcessingP95: job.HistQuantile(failProc, 0.95)}
	want[i0+1].QueueDepth = 1
	want[i0+2].StatsCounts = api.StatsCounts{Succeeded: 1, AudioSeconds: 60, RealTimeFactor: 2,
		ProcessingP50: job.HistQuantile(okProc, 0.5), ProcessingP95: job.HistQuantile(okProc, 0.95)}
	want[i0+2].QueueDepth = 1
	want[i0+3].StatsCounts = api.StatsCounts{Canceled: 1}
	for i := range want {
		if !reflect.DeepEqual(got.Buckets[i], want[i]) {
			t.Errorf("bucket %d (%s):\n got %+v\nwant %+v", i, want[i].Start.Format(time.TimeOnly), got.Buckets[i], want[i])
		}
	}
	wantSummary := api.StatsCounts{Submitted: 3, Succeeded: 1, Failed: 1, Canceled: 1, AudioSeconds: 60, RealTimeFactor: 2,
		QueueWaitP50: job.HistQuantile(wait, 0.5), QueueWaitP95: job.HistQuantile(wait, 0.95),
		ProcessingP50: job.HistQuantile(bothProc, 0.5), ProcessingP95: job.HistQuantile(bothProc, 0.95)}
	if got.Summary != wantSummary {
		t.Errorf("summary:\n got %+v\nwant %+v", got.Summary, wantSummary)
	}
	wantTotals := map[api.JobStatus]int64{api.JobQueued: 0, api.JobRunning: 0, api.JobSucceeded: 1, api.JobFailed: 1, api.JobCanceled: 1}
	if !reflect.DeepEqual(got.Totals, wantTotals) {
		t.Errorf("totals = %v, want %v", got.Totals, wantTotals)
	}
	wantAgents := []api.AgentStats{{AgentID: "agent-a", Succeeded: 1}, {AgentID: "agent-b", Failed: 1}}
	if !reflect.DeepEqual(got.Agents, wantAgents) {
		t.Errorf("agents = %+v, want %+v", got.Agents, wantAgents)
	}
	if len(got.Tenants) != 1 || got.Tenants[0].Tenant != "acme" || got.Tenants[0].StatsCounts != wantSummary {
		t.Errorf("tenants = %+v, want acme's alone", got.Tenants)
	}

	// Every tenant: the other tenant's job is queued from its minute on.
	all, err := s.Stats(ctx, store.StatsQuery{Window: api.Window1h, Now: now})
	noErr(t, "Stats of every tenant", err)
	if all.Totals[api.JobQueued] != 1 || all.Summary.Submitted != 4 || len(all.Tenants) != 2 || all.Tenants[1].Tenant != "other" ||
		all.Tenants[1].Submitted != 1 {
		t.Errorf("every tenant: totals %v, summary %+v, tenants %+v", all.Totals, all.Summary, all.Tenants)
	}
	for i, b := range all.Buckets {
		wantDepth := want[i].QueueDepth
		if i >= i0+5 {
			wantDepth = 1
		}
		if b.QueueDepth != wantDepth {
			t.Errorf("every tenant: bucket %d queue depth %d, want %d", i, b.QueueDepth, wantDepth)
		}
	}

	// A day's window folds the same minutes into 15-minute buckets.
	day, err := s.Stats(ctx, store.StatsQuery{Tenant: "acme", Window: api.Window24h, Now: now})
	noErr(t, "Stats over 24h", err)
	if len(day.Buckets) != 96 || day.BucketSeconds != 900 || day.Summary != wantSummary {
		t.Errorf("24h: %d buckets of %d s, summary %+v", len(day.Buckets), day.BucketSeconds, day.Summary)
	}
	if _, err := s.Stats(ctx, store.StatsQuery{Window: "2h", Now: now}); err == nil {
		t.Error("Stats accepted window 2h")
	}
}
