package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

// TestFleet runs a server with three agent processes and 30 jobs: every job
// succeeds on its first attempt with exactly one result, and every agent
// does some of the work.
func TestFleet(t *testing.T) {
	t.Parallel()
	const jobs = 30
	clips := serveClips(t, map[string]string{
		"hello.mp4":  media.MP4(t, media.Speech(t, "Hello and welcome to the show.")),
		"thanks.mp4": media.MP4(t, media.Speech(t, "Thank you for listening.")),
	})
	names := []string{"hello.mp4", "thanks.mp4"}

	s := startServer(t, nil)
	token := s.enroll(t)
	var agents []*agent
	for i := range 3 {
		agents = append(agents, s.startAgent(t, token, fmt.Sprintf("fleet-%d", i+1)))
	}
	s.waitAgents(t, len(agents), agents...)

	ctx := context.Background()
	ids := map[string]bool{}
	var order []string
	for i := range jobs {
		// Distinct URLs and no cache: each job is really run.
		u := fmt.Sprintf("%s?n=%d", clips[names[i%len(names)]].url, i)
		j, err := s.admin.SubmitJob(ctx, api.JobRequest{URL: u, Language: "en", Cache: noCache()}, "")
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		ids[j.ID] = true
		order = append(order, j.ID)
	}
	if len(ids) != jobs {
		t.Fatalf("%d distinct job ids for %d submissions", len(ids), jobs)
	}
	for _, id := range order {
		j := waitJob(t, s.admin, id)
		mustSucceed(t, j)
		if j.Result.Words == 0 || j.Attempts != 1 {
			t.Errorf("job %s: %d words, %d attempts; want words > 0 and 1 attempt", j.ID, j.Result.Words, j.Attempts)
		}
	}

	// Who ran what, from the agents' own logs. An agent logs a completion
	// after its call returns, which may be just after the job reads as
	// succeeded: wait for every line first.
	eventually(30*time.Second, func() bool {
		n := 0
		for _, a := range agents {
			n += len(a.events("task completed"))
		}
		return n >= jobs
	})
	completions := map[string]int{}
	total := 0
	for _, a := range agents {
		done := a.events("task completed")
		for _, e := range done {
			if !ids[e.job] {
				t.Errorf("%s completed unknown job %s", a.Name, e.job)
			}
			completions[e.job]++
		}
		if len(done) == 0 {
			t.Errorf("%s completed no task; the work was not spread", a.Name)
		}
		total += len(done)
		t.Logf("%s completed %d tasks", a.Name, len(done))
		emptyDir(t, a.Name+" work dir", a.workDir)
	}
	if total != jobs {
		t.Errorf("agents completed %d tasks in all, want %d", total, jobs)
	}
	for id := range ids {
		if completions[id] != 1 {
			t.Errorf("job %s completed %d times, want once", id, completions[id])
		}
	}
}
