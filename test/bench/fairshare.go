package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// FairShare measures how long a small tenant's jobs wait for their first
// start while a big tenant's backlog keeps every agent busy: from the
// submission of each of the small tenant's jobs to the moment an agent
// holds its first task. Agents spend FairWork on each task, so the backlog
// outlasts the probes.
func FairShare(ctx context.Context, cfg Config, r *Results) error {
	sc := cfg.Scale
	s, err := StartServer(ctx, cfg, "fairshare")
	if err != nil {
		return err
	}
	defer s.Stop()
	hc := agentHTTP(sc.FairAgents)
	agents, err := registerAgents(ctx, s, sc.FairAgents, hc)
	if err != nil {
		return err
	}
	// The big tenant is the admin key's ("default").
	if err := seedQueued(ctx, s, sc.FairBacklog); err != nil {
		return err
	}
	admin := api.NewClient(s.URL, s.AdminKey, hc)
	key, err := admin.CreateKey(ctx, api.KeyRequest{Tenant: "small", Role: "submitter"})
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	small := api.NewClient(s.URL, key.Secret, hc)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		leasedAt = map[string]time.Time{} // job → its first lease
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil && ctx.Err() == nil {
			firstErr = err
			cancel()
		}
	}
	for _, ag := range agents {
		wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := ag.Lease(ctx, api.LeaseRequest{Max: 1, WaitSeconds: 1})
				if err != nil {
					fail(fmt.Errorf("lease: %w", err))
					return
				}
				for _, l := range resp.Tasks {
					now := time.Now()
					mu.Lock()
					if _, ok := leasedAt[l.JobID]; !ok {
						leasedAt[l.JobID] = now
					}
					mu.Unlock()
					select {
					case <-ctx.Done():
						return
					case <-time.After(sc.FairWork):
					}
					if _, err := ag.Complete(ctx, l.TaskID, api.CompleteRequest{Token: l.Token, Result: api.TaskResult{Key: l.Upload.Key, Result: api.Result{Engine: "noop"}}}); err != nil {
						fail(fmt.Errorf("complete: %w", err))
						return
					}
				}
			}
		})
	}

	// The small tenant submits its jobs one at a time, spread out, while
	// the backlog is being worked.
	f := false
	submitted := map[string]time.Time{}
	tick := time.NewTicker(sc.FairInterval)
	defer tick.Stop()
	for i := 0; i < sc.FairProbes && ctx.Err() == nil; i++ {
		<-tick.C
		at := time.Now()
		j, err := small.SubmitJob(ctx, api.JobRequest{URL: fmt.Sprintf("http://127.0.0.1:9/small/%d.mp4", i), Cache: &f}, "")
		if err != nil {
			fail(fmt.Errorf("submit: %w", err))
			break
		}
		submitted[j.ID] = at
	}
	// Wait until every probe has started (or the context ends).
	var ds []time.Duration
	for ctx.Err() == nil {
		mu.Lock()
		ds = ds[:0]
		for id, at := range submitted {
			if l, ok := leasedAt[id]; ok {
				ds = append(ds, l.Sub(at))
			}
		}
		mu.Unlock()
		if len(ds) == len(submitted) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if len(ds) < sc.FairProbes {
		return fmt.Errorf("%d of %d probe jobs started", len(ds), sc.FairProbes)
	}
	var waits Latencies
	waits.Merge(ds)
	r.Set("fair_share_first_start_p50_ms", waits.Pct(50), "ms")
	r.Set("fair_share_first_start_p99_ms", waits.Pct(99), "ms")
	return nil
}
