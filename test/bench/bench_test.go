package bench_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/test/bench"
	"github.com/ytcaption/ytcaption/test/testenv"
)

// serverBin is the control plane binary, with the agent's beside it:
// YTCAPTION_BIN's (make test builds them), or built here.
func serverBin(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("YTCAPTION_BIN"); dir != "" {
		return filepath.Join(dir, "ytcaption")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/",
		"github.com/ytcaption/ytcaption/control-plane/cmd/ytcaption", "github.com/ytcaption/ytcaption/agent/cmd/ytcaption-agent")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	return filepath.Join(dir, "ytcaption")
}

// TestSmoke runs every benchmark with tiny counts and checks that each
// figure is produced and the document is written. It asserts no times.
func TestSmoke(t *testing.T) {
	redisURL, _ := testenv.Redis(t)
	var out strings.Builder
	cfg := bench.Config{
		Bin: serverBin(t), PostgresURL: testenv.PostgresURL(), RedisURL: redisURL,
		WorkDir: t.TempDir(), LogLevel: "warn", Scale: bench.SmokeScale(), Out: &out,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := bench.Run(ctx, cfg)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"http_echo_rps", "http_echo_p99_ms", "api_get_vs_echo", "api_submit_vs_echo",
		"api_get_rps", "api_get_p50_ms", "api_get_p99_ms", "api_submit_rps", "api_submit_p99_ms",
		"dispatch_tasks_per_s", "dispatch_latency_p50_ms", "dispatch_latency_p99_ms",
		"river_jobs_per_s", "river_latency_p50_ms", "river_latency_p99_ms",
		"river_tuned_jobs_per_s", "river_tuned_latency_p50_ms", "river_tuned_latency_p99_ms",
		"idle_agents", "idle_rss_mib", "idle_cpu_pct",
		"lease_p99_ms_1k_queued", "lease_p99_ms_1m_queued", "lease_p50_ms_1k_queued", "lease_p50_ms_1m_queued",
		"pg_insert_tps_ceiling", "fair_share_first_start_p99_ms", "long_media_speedup_2_agents", "long_media_overhead_pct",
		"stats_p99_ms_1m_jobs",
		"dispatch_vs_river_rate", "dispatch_vs_river_tuned_rate", "dispatch_vs_river_p99", "dispatch_vs_river_tuned_p99",
		"e2e_seconds_12s_clip", "e2e_overhead_ms_p50", "e2e_overhead_ms_p99", "recognizer_rtf",
	}
	for _, m := range want {
		v, ok := r.Get(m)
		if !ok {
			t.Errorf("%s not measured", m)
			continue
		}
		if !strings.Contains(out.String(), "bench: "+m+" ") {
			t.Errorf("no bench line for %s", m)
		}
		// An overhead is a difference: on a busy machine the split run can
		// come out ahead.
		if v < 0 && m != "long_media_overhead_pct" {
			t.Errorf("%s = %v", m, v)
		}
	}
	if n, _ := r.Get("idle_agents"); int(n) != cfg.Scale.IdleAgents {
		t.Errorf("idle_agents = %v, want every agent holding a long-poll (%d)", n, cfg.Scale.IdleAgents)
	}
	if got := len(r.Scaling()); got != len(cfg.Scale.ScalingRows) {
		t.Errorf("%d scaling rows, want %d", got, len(cfg.Scale.ScalingRows))
	}
	doc := filepath.Join(t.TempDir(), "performance.md")
	for _, load := range []int{0, 2} { // the idle run's sections, then the loaded run's table
		if err := bench.WriteDoc(doc, r, time.Now(), load); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(doc)
	for _, s := range []string{"| `api_get_rps` |", "| agents |", "cores", "| transcribe |", "with `stress-ng --cpu 2` beside it"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("document lacks %q:\n%s", s, b)
		}
	}
}
