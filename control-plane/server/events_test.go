package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// TestEvents: the SSE stream shows queued → running (with stage) → succeeded
// and ends when the job is final.
func TestEvents(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	j, _ := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/e"}, "")
	req, _ := http.NewRequest(http.MethodGet, r.url+"/v1/jobs/"+j.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := validatingClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan api.Job, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e api.Job
				if json.Unmarshal([]byte(data), &e) == nil {
					events <- e
				}
			}
		}
	}()
	next := func() api.Job {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("stream ended early")
			}
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
		return api.Job{}
	}
	if e := next(); e.Status != api.JobQueued {
		t.Fatalf("first event %s", e.Status)
	}
	ag := enrollAgent(t, r, "a", api.Capabilities{})
	l := ag.leaseOne(5 * time.Second)
	if e := next(); e.Status != api.JobRunning {
		t.Fatalf("second event %s", e.Status)
	}
	if _, err := ag.c.Heartbeat(ctx, l.TaskID, api.HeartbeatRequest{Token: l.Token, Stage: "transcribe", Progress: 0.5}); err != nil {
		t.Fatal(err)
	}
	if e := next(); e.Stage != "transcribe" {
		t.Fatalf("stage event %+v", e)
	}
	if err := ag.complete(l); err != nil {
		t.Fatal(err)
	}
	if e := next(); e.Status != api.JobSucceeded {
		t.Fatalf("final event %s", e.Status)
	}
	if _, ok := <-events; ok {
		t.Fatal("stream continued after the final event")
	}
}
