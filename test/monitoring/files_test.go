package monitoring_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// dir is jobs/monitoring, seen from this package's directory (go test runs
// tests there).
const dir = "../../jobs/monitoring"

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// ruleFiles lists the rule files (everything *.yml but the unit tests).
func ruleFiles(t testing.TB) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	files := slices.DeleteFunc(all, func(p string) bool { return strings.HasSuffix(p, "_test.yml") })
	if len(files) == 0 {
		t.Fatalf("no rule files in %s", dir)
	}
	return files
}

// rules reads every rule of every rule file.
func rules(t testing.TB) []rule {
	t.Helper()
	var out []rule
	for _, p := range ruleFiles(t) {
		var f ruleFile
		readYAML(t, p, &f)
		for _, g := range f.Groups {
			out = append(out, g.Rules...)
		}
	}
	return out
}

func readYAML(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// expression is a PromQL expression and where it comes from.
type expression struct{ where, expr string }

// grafanaVars are the Grafana variables the dashboards' queries use, with
// a value that makes them plain PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m")

// expressions returns every PromQL expression of the rules and dashboards.
func expressions(t testing.TB) []expression {
	t.Helper()
	var out []expression
	for _, r := range rules(t) {
		out = append(out, expression{"rule " + r.Record + r.Alert, r.Expr})
	}
	boards, err := filepath.Glob(filepath.Join(dir, "dashboards", "*.json"))
	if err != nil || len(boards) == 0 {
		t.Fatalf("no dashboards in %s/dashboards (%v)", dir, err)
	}
	for _, p := range boards {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, e := range exprFields(doc) {
			out = append(out, expression{"dashboard " + filepath.Base(p), grafanaVars.Replace(e)})
		}
	}
	return out
}

// exprFields collects the "expr" strings anywhere in a decoded JSON document.
func exprFields(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "expr" {
				out = append(out, s)
				continue
			}
			out = append(out, exprFields(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, exprFields(x)...)
		}
	}
	return out
}

// metricNames parses expr and returns the metric names its selectors name.
func metricNames(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			for _, m := range vs.LabelMatchers {
				if m.Name == "__name__" {
					names = append(names, m.Value)
				}
			}
		}
		return nil
	})
	return names, nil
}

// usedNames is every metric name the rules and dashboards select, with the
// expressions that name it.
func usedNames(t testing.TB) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	for _, e := range expressions(t) {
		names, err := metricNames(e.expr)
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", e.where, e.expr, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s: %q selects no metric", e.where, e.expr)
		}
		for _, n := range names {
			used[n] = append(used[n], e.where)
		}
	}
	return used
}

// recorded is the set of names the recording rules define.
func recorded(t testing.TB) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, r := range rules(t) {
		if r.Record != "" {
			out[r.Record] = true
		}
	}
	return out
}

// documentedFamilies reads the metric families listed in docs/api.md's
// metrics table: the list of what the control plane exports.
func documentedFamilies(t testing.TB) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(ytcaption_[a-z_]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = true
	}
	if len(out) == 0 {
		t.Fatal("docs/api.md lists no ytcaption_ metric families")
	}
	return out
}

// family is the metric family a series name belongs to: histograms expose
// _bucket, _count and _sum series of a family.
func family(name string, families map[string]bool) string {
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && families[base] {
			return base
		}
	}
	return name
}
