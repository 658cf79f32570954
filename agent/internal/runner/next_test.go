package runner_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/runner"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// countingProtocol counts the calls that matter for chaining, and can
// hide the server's features to play an older server.
type countingProtocol struct {
	*api.Client
	oldServer     bool
	leasesWithJob atomic.Int64 // lease calls that returned a task
	asked         atomic.Int64 // completions that asked for the next task
	chained       atomic.Int64 // completions that returned one
}

func (p *countingProtocol) Lease(ctx context.Context, req api.LeaseRequest) (api.LeaseResponse, error) {
	resp, err := p.Client.Lease(ctx, req)
	if len(resp.Tasks) > 0 {
		p.leasesWithJob.Add(1)
	}
	if p.oldServer {
		resp.Features = nil
	}
	return resp, err
}

func (p *countingProtocol) Complete(ctx context.Context, id string, req api.CompleteRequest) (api.CompleteResponse, error) {
	if req.Next != nil {
		p.asked.Add(1)
	}
	resp, err := p.Client.Complete(ctx, id, req)
	if len(resp.Next.Tasks) > 0 {
		p.chained.Add(1)
	}
	return resp, err
}

// TestCompletionLeasesNext: with work queued, each completion brings the
// next task (one lease call in all), never running more tasks than the
// agent has slots; against a server that does not announce the feature,
// completions ask for nothing and every task is leased.
func TestCompletionLeasesNext(t *testing.T) {
	t.Parallel()
	for _, old := range []bool{false, true} {
		t.Run(fmt.Sprintf("old_server=%v", old), func(t *testing.T) {
			t.Parallel()
			admin := controlPlane(t, 10*time.Second)
			const n = 5
			var ids []string
			for i := range n {
				j, err := admin.SubmitJob(context.Background(), api.JobRequest{URL: fmt.Sprintf("https://example.com/%d", i)}, "")
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, j.ID)
			}
			proto := &countingProtocol{Client: agentClient(t, admin), oldServer: old}
			var running, most atomic.Int64
			r := runner.New(proto, execFunc(func(ctx context.Context, l api.Lease, p func(string, float64)) (runner.Output, error) {
				now := running.Add(1)
				defer running.Add(-1)
				for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
				}
				p("transcribe", 0.5)
				return transcript(), nil
			}), cfg(), quiet())
			start(t, r)
			for _, id := range ids {
				waitJob(t, admin, id, func(j api.Job) bool { return j.Status == api.JobSucceeded })
			}
			if m := most.Load(); m != 1 {
				t.Errorf("%d tasks ran at once on a one-slot agent", m)
			}
			leased, asked, chained := proto.leasesWithJob.Load(), proto.asked.Load(), proto.chained.Load()
			t.Logf("lease calls with a task %d, completions asking for more %d, completions that brought one %d", leased, asked, chained)
			want := [3]int64{1, n, n - 1}
			if old {
				want = [3]int64{n, 0, 0}
			}
			if got := [3]int64{leased, asked, chained}; got != want {
				t.Errorf("(leases, asked, chained) = %v, want %v", got, want)
			}
		})
	}
}
