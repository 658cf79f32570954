package monitoring_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
	"github.com/ytcaption/ytcaption/test/testenv"
)

// Bounds on waits: generous, since the machine may be busy; they only turn
// a hang into a clear failure.
const (
	readyWait  = time.Minute
	jobWait    = 4 * time.Minute
	scrapeWait = 2 * time.Minute
)

// TestPrometheusScrape runs a control plane on PostgreSQL, Redis and MinIO
// with a real agent, puts one job through that succeeds and one that fails,
// and has a real Prometheus scrape it with the rules of jobs/monitoring
// loaded. Every metric the rules and dashboards name must then be in
// Prometheus, with no exceptions: those two jobs make every family appear
// (the object-store breaker's only with S3, hence MinIO). Every rule must
// evaluate without error.
func TestPrometheusScrape(t *testing.T) {
	t.Parallel()
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not found: test/env/bootstrap.sh (run by `make test`) installs Debian's prometheus package")
	}
	cp := startControlPlane(t)
	token := strings.TrimSpace(runCLI(t, cp.cliEnv(), testenv.Binary(t, "ytcaption"), "agents", "enroll"))
	cp.startAgent(t, token)

	mp4 := media.MP4(t, media.Speech(t, "the monitoring test speaks a short sentence"))
	base := media.Serve(t, filepath.Dir(mp4))
	noCache := false
	ctx := context.Background()
	want := map[string]api.JobStatus{base + "/" + filepath.Base(mp4): api.JobSucceeded, base + "/missing.mp4": api.JobFailed}
	for u, status := range want {
		j, err := cp.admin.SubmitJob(ctx, api.JobRequest{URL: u, Language: "en", Captions: "asr-only", Cache: &noCache}, "")
		if err != nil {
			t.Fatalf("submit %s: %v", u, err)
		}
		wctx, cancel := context.WithTimeout(ctx, jobWait)
		j, err = cp.admin.WaitJob(wctx, j.ID, 200*time.Millisecond, nil)
		cancel()
		if err != nil || j.Status != status {
			t.Fatalf("job for %s: %s (error %+v, wait %v), want %s", u, j.Status, j.Error, err, status)
		}
	}

	p := startPrometheus(t, prom, cp.addr)
	need, ruleCount := usedNames(t), len(rules(t))
	var missing []string
	var unhealthy error
	deadline := time.Now().Add(scrapeWait)
	for {
		have, err := p.names(ctx)
		if err != nil {
			t.Fatal(err)
		}
		missing = missing[:0]
		for name := range need {
			if !have[name] {
				missing = append(missing, name)
			}
		}
		unhealthy = p.rulesHealthy(ctx, ruleCount)
		if len(missing) == 0 && unhealthy == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	slices.Sort(missing)
	for _, name := range missing {
		t.Errorf("Prometheus has no series %s (used by %v)", name, slices.Compact(slices.Sorted(slices.Values(need[name]))))
	}
	if unhealthy != nil {
		t.Error(unhealthy)
	}
	t.Logf("Prometheus has %d of the %d metrics the rules and dashboards use; %d rules evaluated", len(need)-len(missing), len(need), ruleCount)
}

// waitOK polls url until it answers 200 while p runs.
func waitOK(t testing.TB, p *testenv.Proc, url string) {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyWait)
	for {
		if p.Exited() {
			t.Fatalf("%s exited (%v):\n%s", p.Name, p.Err(), p.Tail(100))
		}
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not ready after %s: %v\n%s", p.Name, url, readyWait, err, p.Tail(100))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func runCLI(t testing.TB, env []string, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// controlPlane is a running `ytcaption server` and its admin credential.
type controlPlane struct {
	addr, key string
	admin     *api.Client
}

func startControlPlane(t testing.TB) *controlPlane {
	t.Helper()
	redisURL, prefix := testenv.Redis(t)
	s3 := testenv.MinIO(t)
	c := &controlPlane{addr: testenv.FreeAddr(t), key: testenv.Name("monitoring-admin-")}
	env := testenv.ChildEnv(
		"YTCAPTION_LISTEN="+c.addr,
		"YTCAPTION_DATA_DIR="+t.TempDir(),
		"YTCAPTION_ADMIN_KEY="+c.key,
		"YTCAPTION_ALLOW_PRIVATE_SOURCES=true", // the test media is served on loopback
		"YTCAPTION_DATABASE_URL="+testenv.Postgres(t),
		"YTCAPTION_REDIS_URL="+redisURL,
		"YTCAPTION_REDIS_PREFIX="+prefix,
		"YTCAPTION_S3_ENDPOINT="+s3.Endpoint,
		"YTCAPTION_S3_BUCKET="+s3.Bucket,
		"YTCAPTION_S3_ACCESS_KEY="+s3.AccessKey,
		"YTCAPTION_S3_SECRET_KEY="+s3.SecretKey,
	)
	p := testenv.StartProc(t, "ytcaption-server", env, testenv.Binary(t, "ytcaption"), "server")
	waitOK(t, p, "http://"+c.addr+"/readyz")
	c.admin = api.NewClient("http://"+c.addr, c.key, nil)
	return c
}

func (c *controlPlane) cliEnv() []string {
	return testenv.ChildEnv("YTCAPTION_SERVER=http://"+c.addr, "YTCAPTION_API_KEY="+c.key)
}

func (c *controlPlane) startAgent(t testing.TB, token string) {
	t.Helper()
	testenv.StartProc(t, "ytcaption-agent", testenv.ChildEnv(), testenv.Binary(t, "ytcaption-agent"), "run",
		"--server", "http://"+c.addr, "--token", token, "--name", "monitoring-agent",
		"--state-dir", t.TempDir(), "--work-dir", t.TempDir())
}

// prometheus is a running Prometheus server.
type prometheus struct{ base string }

// startPrometheus runs prometheus scraping target every second, with the
// rules of jobs/monitoring, on a free port and a temporary data directory.
func startPrometheus(t testing.TB, bin, target string) *prometheus {
	t.Helper()
	var files []string
	for _, f := range ruleFiles(t) {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, abs)
	}
	rulesJSON, err := json.Marshal(files)
	if err != nil {
		t.Fatal(err)
	}
	// The job is named as in jobs/monitoring.nomad.hcl: the rules select it.
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: %s
scrape_configs:
  - job_name: ytcaption
    static_configs:
      - targets: [%q]
`, rulesJSON, target)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	p := testenv.StartProc(t, "prometheus", testenv.ChildEnv(), bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	waitOK(t, p, "http://"+addr+"/-/ready")
	return &prometheus{base: "http://" + addr}
}

// get decodes the data of a Prometheus HTTP API answer into out.
func (p *prometheus) get(ctx context.Context, path string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("prometheus %s: %w", path, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("prometheus %s: %w", path, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("prometheus %s: %s", path, body.Error)
	}
	return json.Unmarshal(body.Data, out)
}

// names is the set of metric names Prometheus holds series of.
func (p *prometheus) names(ctx context.Context) (map[string]bool, error) {
	var names []string
	if err := p.get(ctx, "/api/v1/label/__name__/values?"+url.Values{"start": {fmt.Sprint(time.Now().Add(-time.Hour).Unix())}}.Encode(), &names); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

// rulesHealthy checks that Prometheus loaded want rules and evaluated each
// without error.
func (p *prometheus) rulesHealthy(ctx context.Context, want int) error {
	var data struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := p.get(ctx, "/api/v1/rules", &data); err != nil {
		return err
	}
	var errs []error
	n := 0
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health != "ok" {
				errs = append(errs, fmt.Errorf("rule %s: health %q %s", r.Name, r.Health, r.LastError))
			}
		}
	}
	if n != want {
		errs = append(errs, fmt.Errorf("Prometheus loaded %d rules, want %d", n, want))
	}
	return errors.Join(errs...)
}
