package monitoring_test

import (
	"slices"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// scrapeMetrics are series Prometheus itself makes for every target.
var scrapeMetrics = map[string]bool{"up": true}

// TestExpressionsNameExportedMetrics parses every PromQL expression of the
// rules and dashboards and checks that each metric it names is a family the
// control plane exports (as docs/api.md lists them), a recording rule, or a
// series Prometheus makes itself. TestPrometheusScrape checks the same names
// against what a running control plane really exports.
func TestExpressionsNameExportedMetrics(t *testing.T) {
	t.Parallel()
	families, rec := documentedFamilies(t), recorded(t)
	used := usedNames(t)
	for name, where := range used {
		if !rec[name] && !scrapeMetrics[name] && !families[family(name, families)] {
			t.Errorf("%s names %s, which is neither in docs/api.md's metrics table nor a recording rule", slices.Compact(slices.Sorted(slices.Values(where))), name)
		}
	}
	t.Logf("%d metric names in rules and dashboards", len(used))
}

// TestUnitTestSeriesAreExported checks the promtool tests feed the rules
// series the control plane really exports: a test on a misspelt series
// would pass while proving nothing.
func TestUnitTestSeriesAreExported(t *testing.T) {
	t.Parallel()
	families := documentedFamilies(t)
	p := parser.NewParser(parser.Options{})
	for _, f := range unitTestFiles(t) {
		for _, tc := range readUnitTests(t, f).Tests {
			for _, s := range tc.InputSeries {
				lbls, err := p.ParseMetric(s.Series)
				if err != nil {
					t.Errorf("%s: series %q: %v", tc.Name, s.Series, err)
					continue
				}
				if name := lbls.Get("__name__"); !scrapeMetrics[name] && !families[family(name, families)] {
					t.Errorf("%s: series %s is not an exported metric", tc.Name, name)
				}
			}
		}
	}
}
