package monitoring_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// unitTests is a `promtool test rules` file.
type unitTests struct {
	RuleFiles          []string    `yaml:"rule_files"`
	EvaluationInterval string      `yaml:"evaluation_interval"`
	Raw                []yaml.Node `yaml:"tests"`
	Tests              []unitTest  `yaml:"-"`
}

// unitTest is one test group: input series and what alerts to expect.
type unitTest struct {
	Name        string `yaml:"name"`
	InputSeries []struct {
		Series string `yaml:"series"`
	} `yaml:"input_series"`
	AlertRuleTests []struct {
		EvalTime  string           `yaml:"eval_time"`
		Alertname string           `yaml:"alertname"`
		ExpAlerts []map[string]any `yaml:"exp_alerts"`
	} `yaml:"alert_rule_test"`
}

func unitTestFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no *_test.yml in %s (%v)", dir, err)
	}
	return files
}

func readUnitTests(t testing.TB, path string) unitTests {
	t.Helper()
	var u unitTests
	readYAML(t, path, &u)
	for i := range u.Raw {
		var tc unitTest
		if err := u.Raw[i].Decode(&tc); err != nil {
			t.Fatalf("%s: test %d: %v", path, i, err)
		}
		u.Tests = append(u.Tests, tc)
	}
	return u
}

// promtool returns the path of promtool, or skips the test without it.
func promtool(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found: test/env/bootstrap.sh (run by `make test`) installs Debian's prometheus package, which has it")
	}
	return p
}

func runTool(t testing.TB, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

func TestPromtoolCheckRules(t *testing.T) {
	t.Parallel()
	out, err := runTool(t, promtool(t), append([]string{"check", "rules"}, ruleFiles(t)...)...)
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(out))
}

// TestPromtoolTestRules runs each unit test group on its own, so the log
// says for every alert where it fires and where it stays quiet, and checks
// that every alert has both kinds of case.
func TestPromtoolTestRules(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	fires, quiet := map[string]int{}, map[string]int{}
	for _, path := range unitTestFiles(t) {
		u := readUnitTests(t, path)
		var ruleFiles []string
		for _, f := range u.RuleFiles {
			abs, err := filepath.Abs(filepath.Join(filepath.Dir(path), f))
			if err != nil {
				t.Fatal(err)
			}
			ruleFiles = append(ruleFiles, abs)
		}
		for i, tc := range u.Tests {
			for _, a := range tc.AlertRuleTests {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname]++
				} else {
					quiet[a.Alertname]++
				}
			}
			one, err := yaml.Marshal(map[string]any{
				"rule_files": ruleFiles, "evaluation_interval": u.EvaluationInterval, "tests": []*yaml.Node{&u.Raw[i]},
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Run(tc.Name, func(t *testing.T) {
				t.Parallel()
				f := filepath.Join(t.TempDir(), "test.yml")
				if err := os.WriteFile(f, one, 0o600); err != nil {
					t.Fatal(err)
				}
				out, err := runTool(t, bin, "test", "rules", f)
				for _, a := range tc.AlertRuleTests {
					verdict := "does not fire"
					if len(a.ExpAlerts) > 0 {
						verdict = "fires"
					}
					result := "ok"
					if err != nil {
						result = "FAILED"
					}
					t.Logf("%s %s at %s: %s", a.Alertname, verdict, a.EvalTime, result)
				}
				if err != nil {
					t.Errorf("promtool test rules: %v\n%s", err, out)
				}
			})
		}
	}
	for _, r := range rules(t) {
		if r.Alert == "" {
			continue
		}
		if fires[r.Alert] == 0 || quiet[r.Alert] == 0 {
			t.Errorf("alert %s has %d firing and %d quiet test cases; it needs both", r.Alert, fires[r.Alert], quiet[r.Alert])
		}
	}
}

// runbookPrefix is where every alert's runbook_url points.
const runbookPrefix = "https://github.com/ytcaption/ytcaption/blob/main/docs/operations.md#"

// TestAlertsHaveRunbooks checks every alert's severity and annotations, and
// that its runbook_url names a heading of docs/operations.md.
func TestAlertsHaveRunbooks(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(string(b), -1) {
		anchors[slug(m[1])] = true
	}
	for _, r := range rules(t) {
		if r.Alert == "" {
			continue
		}
		if s := r.Labels["severity"]; s != "page" && s != "ticket" {
			t.Errorf("%s: severity %q, want page or ticket", r.Alert, s)
		}
		for _, k := range []string{"summary", "description", "runbook_url"} {
			if r.Annotations[k] == "" {
				t.Errorf("%s: no %s annotation", r.Alert, k)
			}
		}
		anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], runbookPrefix)
		if !ok || !anchors[anchor] {
			t.Errorf("%s: runbook_url %q is not %s<a heading of docs/operations.md>", r.Alert, r.Annotations["runbook_url"], runbookPrefix)
		}
	}
}

// slug is the anchor GitHub gives a Markdown heading.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func TestSlug(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Alerts and SLOs":                   "alerts-and-slos",
		"Object-store circuit breaker open": "object-store-circuit-breaker-open",
		"Redis wake-ups degraded":           "redis-wake-ups-degraded",
		"`make dashboards` (Grafana)":       "make-dashboards-grafana",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
