package storetest

import (
	"context"
	"fmt"
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

// testStatsMore checks the top error codes (ranked, cut at ten, scoped to
// a tenant), the per-agent series and the fleet's samples.
func testStatsMore(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := epoch()
	fail := func(tenant, code, agent string, at time.Time) {
		t.Helper()
		j, _ := create(t, s, at, spec{Tenant: tenant})
		k := leaseAs(t, s, agent, at, 1, defaultCaps())
		if len(k) != 1 || k[0].JobID != j.ID {
			t.Fatalf("lease of job %s: %v", j.ID, taskIDs(k))
		}
		_, err := s.FailTask(ctx, store.Failure{TaskID: k[0].ID, Holder: agent, Token: k[0].Token,
			Error: api.Error{Code: code, Message: "no"}, Policy: defaultPolicy(), Now: at})
		noErr(t, "FailTask", err)
	}
	for i, m := range []int{0, 1, 2} {
		fail("acme", api.CodeUndecodable, "agent-a", t0.Add(time.Duration(m)*time.Minute+time.Duration(i)*time.Second))
	}
	fail("acme", api.CodeDownloadFailed, "agent-a", t0.Add(2*time.Minute+10*time.Second))
	fail("other", api.CodeNoAudio, "agent-b", t0.Add(3*time.Minute))
	fail("other", api.CodeNoAudio, "agent-b", t0.Add(3*time.Minute+time.Second))
	for i := range 9 {
		fail("other", fmt.Sprintf("x%02d", i), "agent-b", t0.Add(3*time.Minute+time.Duration(2+i)*time.Second))
	}
	for _, f := range []store.FleetSample{
		{At: t0, Busy: 1, Slots: 4}, {At: t0.Add(10 * time.Second), Busy: 3, Slots: 4}, {At: t0.Add(2 * time.Minute), Busy: 2, Slots: 8},
	} {
		noErr(t, "RecordFleetSample", s.RecordFleetSample(ctx, f))
	}
	now := t0.Add(30 * time.Minute)

	acme, err := s.Stats(ctx, store.StatsQuery{Tenant: "acme", Window: api.Window1h, Now: now, AgentSeries: true})
	noErr(t, "Stats of acme", err)
	wantErrs := []api.ErrorCount{{Code: api.CodeUndecodable, Count: 3}, {Code: api.CodeDownloadFailed, Count: 1}}
	if !reflect.DeepEqual(acme.Errors, wantErrs) {
		t.Errorf("acme's errors = %+v, want %+v", acme.Errors, wantErrs)
	}
	i0 := int(t0.Truncate(time.Minute).Sub(acme.From) / time.Minute)
	wantFailed := make([]int64, 60)
	wantFailed[i0], wantFailed[i0+1], wantFailed[i0+2] = 1, 1, 2
	wantAgents := []api.AgentStats{{AgentID: "agent-a", Failed: 4, SucceededSeries: make([]int64, 60), FailedSeries: wantFailed}}
	if !reflect.DeepEqual(acme.Agents, wantAgents) {
		t.Errorf("acme's agents with series = %+v, want %+v", acme.Agents, wantAgents)
	}
	for i, b := range acme.Buckets {
		if b.BusySlots != 0 || b.Slots != 0 {
			t.Errorf("acme sees the fleet: bucket %d busy %v of %v slots", i, b.BusySlots, b.Slots)
		}
	}

	all, err := s.Stats(ctx, store.StatsQuery{Window: api.Window1h, Now: now})
	noErr(t, "Stats of every tenant", err)
	wantAll := []api.ErrorCount{{Code: api.CodeUndecodable, Count: 3}, {Code: api.CodeNoAudio, Count: 2}, {Code: api.CodeDownloadFailed, Count: 1}}
	for i := range 7 {
		wantAll = append(wantAll, api.ErrorCount{Code: fmt.Sprintf("x%02d", i), Count: 1})
	}
	if !reflect.DeepEqual(all.Errors, wantAll) {
		t.Errorf("every tenant's errors = %+v, want %+v", all.Errors, wantAll)
	}
	wantAgents = []api.AgentStats{{AgentID: "agent-a", Failed: 4}, {AgentID: "agent-b", Failed: 11}}
	if !reflect.DeepEqual(all.Agents, wantAgents) {
		t.Errorf("agents without series = %+v, want %+v", all.Agents, wantAgents)
	}
	type load struct{ busy, slots float64 }
	wantLoad := map[int]load{i0: {2, 4}, i0 + 2: {2, 8}}
	for i, b := range all.Buckets {
		if w := wantLoad[i]; b.BusySlots != w.busy || b.Slots != w.slots {
			t.Errorf("bucket %d: busy %v of %v slots, want %v of %v", i, b.BusySlots, b.Slots, w.busy, w.slots)
		}
	}

	// The day's 15-minute bucket averages all three samples.
	day, err := s.Stats(ctx, store.StatsQuery{Window: api.Window24h, Now: now, AgentSeries: true})
	noErr(t, "Stats over 24h", err)
	d0 := int(t0.Truncate(15*time.Minute).Sub(day.From) / (15 * time.Minute))
	if b := day.Buckets[d0]; b.BusySlots != 2 || b.Slots != float64(16)/3 {
		t.Errorf("24h bucket %d: busy %v of %v slots, want 2 of %v", d0, b.BusySlots, b.Slots, float64(16)/3)
	}
	if len(day.Agents) != 2 || len(day.Agents[1].FailedSeries) != 96 || day.Agents[1].FailedSeries[d0] != 11 {
		t.Errorf("24h agents = %+v, want agent-b's 11 failures in bucket %d of 96", day.Agents, d0)
	}
}
