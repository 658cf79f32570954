package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// TestHealthMetrics: on PostgreSQL, Redis and MinIO, /metrics reports each
// dependency reached and the object-store breaker closed, and counts a
// rescued lease and a reported failure by its code.
func TestHealthMetrics(t *testing.T) {
	t.Parallel()
	cfg := postgresBackend().cfg(t)
	cfg.LeaseDuration = time.Second
	cfg.SweepInterval = 50 * time.Millisecond
	cfg.RetryPolicy = job.RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}
	r := startReplica(t, cfg)
	ctx := context.Background()
	ag := enrollAgent(t, r, "silent", api.Capabilities{})
	if _, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/rescued"}, ""); err != nil {
		t.Fatal(err)
	}
	l1 := ag.leaseOne(5 * time.Second)
	// No heartbeat: the lease runs out, the sweeper rescues the task and it
	// comes back as a second attempt.
	l2 := ag.leaseOne(15 * time.Second)
	if l2.TaskID != l1.TaskID || l2.Attempt != 2 {
		t.Fatalf("re-lease: first %+v second %+v", l1, l2)
	}
	err := ag.c.Fail(ctx, l2.TaskID, api.FailRequest{Token: l2.Token, Error: api.Error{Code: api.CodeSourcePrivate, Message: "private video"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`ytcaption_lease_rescues_total 1`,
		`ytcaption_task_failures_total{code="source_private"} 1`,
		`ytcaption_dependency_up{dependency="database"} 1`,
		`ytcaption_dependency_up{dependency="object_store"} 1`,
		`ytcaption_dependency_up{dependency="redis_wakeups"} 1`,
		`ytcaption_circuit_breaker_open{breaker="object_store"} 0`,
		`ytcaption_circuit_breaker_trips_total{breaker="object_store"} 0`,
	}
	// The Redis subscription may still be coming up: poll until it is.
	var text string
	deadline := time.Now().Add(30 * time.Second)
	for {
		text = scrape(t, r.url)
		missing := 0
		for _, w := range want {
			if !strings.Contains(text, w+"\n") {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, w := range want {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("metrics lack %s", w)
		}
	}
	t.Log(text)
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
