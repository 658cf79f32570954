package bench

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// target judges a figure against the target, given all results.
type target struct {
	metric string
	text   string
	met    func(v float64, r *Results) (bool, bool) // (met, known)
}

func atLeast(x float64) func(float64, *Results) (bool, bool) {
	return func(v float64, _ *Results) (bool, bool) { return v >= x, true }
}

func atMost(x float64) func(float64, *Results) (bool, bool) {
	return func(v float64, _ *Results) (bool, bool) { return v <= x, true }
}

func targets() []target {
	return []target{
		{"api_get_rps", "≥ 20,000", atLeast(20_000)},
		{"api_get_p99_ms", "≤ 10", atMost(10)},
		{"api_submit_rps", "≥ 10,000", atLeast(10_000)},
		{"api_submit_p99_ms", "≤ 50", atMost(50)},
		{"dispatch_tasks_per_s", "≥ river_jobs_per_s", func(v float64, r *Results) (bool, bool) {
			rv, ok := r.Get("river_jobs_per_s")
			return v >= rv, ok
		}},
		{"dispatch_latency_p99_ms", "≤ 20 and < river_latency_p99_ms", func(v float64, r *Results) (bool, bool) {
			rv, ok := r.Get("river_latency_p99_ms")
			return v <= 20 && v < rv, ok
		}},
		// River tuned is the goal rather than a requirement; the rows say
		// whether dispatch beats it too.
		{"river_tuned_jobs_per_s", "(goal) dispatch_tasks_per_s ≥ this", func(v float64, r *Results) (bool, bool) {
			d, ok := r.Get("dispatch_tasks_per_s")
			return d >= v, ok
		}},
		{"river_tuned_latency_p99_ms", "(goal) dispatch_latency_p99_ms ≤ this", func(v float64, r *Results) (bool, bool) {
			d, ok := r.Get("dispatch_latency_p99_ms")
			return d <= v, ok
		}},
		{"idle_agents", "10,000 held", atLeast(10_000)},
		{"idle_rss_mib", "≤ 1024", atMost(1024)},
		{"idle_cpu_pct", "near zero (≤ 5)", atMost(5)},
		{"lease_p99_ms_1m_queued", "≤ 2 × lease_p99_ms_1k_queued", func(v float64, r *Results) (bool, bool) {
			k, ok := r.Get("lease_p99_ms_1k_queued")
			return v <= 2*k, ok
		}},
		{"e2e_overhead_ms_p50", "≤ 150", atMost(150)},
		{"long_media_speedup_2_agents", "≥ 1.6 (2 cores)", atLeast(1.6)},
		{"long_media_overhead_pct", "≤ 10", atMost(10)},
		{"stats_p99_ms_1m_jobs", "≤ 100", atMost(100)},
		{"lease_p50_ms_1m_queued", "≤ 2 × lease_p50_ms_1k_queued", func(v float64, r *Results) (bool, bool) {
			k, ok := r.Get("lease_p50_ms_1k_queued")
			return v <= 2*k, ok
		}},
	}
}

// Table renders the figures as a Markdown table with a target column.
func Table(r *Results, when time.Time, machine string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %s.\n\n", when.UTC().Format("2006-01-02 15:04 MST"), machine)
	b.WriteString("| metric | value | unit | target | met |\n|---|---:|---|---|---|\n")
	ts := map[string]target{}
	for _, t := range targets() {
		ts[t.metric] = t
	}
	for _, m := range r.Metrics() {
		tgt, met := "", ""
		if t, ok := ts[m.Name]; ok {
			tgt = t.text
			if ok, known := t.met(m.Value, r); !known {
				met = "?"
			} else if ok {
				met = "yes"
			} else {
				met = "**no**"
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", m.Name, format(m.Value), m.Unit, tgt, met)
	}
	return b.String()
}

// ScalingTable renders the scaling rows.
func ScalingTable(r *Results) string {
	var b strings.Builder
	b.WriteString("| agents | tasks | tasks/s | lease p50 (ms) | lease p99 (ms) |\n|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Scaling() {
		fmt.Fprintf(&b, "| %d | %d | %s | %s | %s |\n", s.Agents, s.Tasks, format(s.TasksPerSec), format(s.LeaseP50), format(s.LeaseP99))
	}
	return b.String()
}

// SplitTable renders the parts of the time to captions.
func SplitTable(r *Results) string {
	var b strings.Builder
	b.WriteString("| part | p50 (ms) | p99 (ms) |\n|---|---:|---:|\n")
	for _, p := range r.Split() {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", p.Part, format(p.P50), format(p.P99))
	}
	return b.String()
}

const (
	tableBegin   = "<!-- bench:table:begin -->"
	tableEnd     = "<!-- bench:table:end -->"
	scalingBegin = "<!-- bench:scaling:begin -->"
	scalingEnd   = "<!-- bench:scaling:end -->"
	splitBegin   = "<!-- bench:split:begin -->"
	splitEnd     = "<!-- bench:split:end -->"
	loadedBegin  = "<!-- bench:loaded:begin -->"
	loadedEnd    = "<!-- bench:loaded:end -->"
)

// WriteDoc replaces the generated sections of the performance document
// (between their markers) and keeps everything else in it. A run with
// stress-ng beside it (stressCPU > 0) writes only the loaded run's table.
func WriteDoc(path string, r *Results, when time.Time, stressCPU int) error {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	doc := string(b)
	if doc == "" {
		doc = "# Performance\n\n## Results\n\n" + tableBegin + "\n" + tableEnd + "\n\n## Under load\n\n" + loadedBegin + "\n" + loadedEnd +
			"\n\n## Time to captions\n\n" + splitBegin + "\n" + splitEnd + "\n\n## Scaling\n\n" + scalingBegin + "\n" + scalingEnd + "\n"
	}
	type section struct {
		begin, end, body string
		write            bool
	}
	sections := []section{
		{tableBegin, tableEnd, Table(r, when, Machine()), stressCPU == 0},
		{loadedBegin, loadedEnd, Table(r, when, fmt.Sprintf("%s, with `stress-ng --cpu %d` beside it", Machine(), stressCPU)), stressCPU > 0},
		{scalingBegin, scalingEnd, ScalingTable(r), stressCPU == 0 && len(r.Scaling()) > 0},
		{splitBegin, splitEnd, SplitTable(r), stressCPU == 0 && len(r.Split()) > 0},
	}
	for _, sec := range sections {
		if !sec.write {
			continue
		}
		if doc, err = replaceBetween(doc, sec.begin, sec.end, sec.body); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func replaceBetween(doc, begin, end, body string) (string, error) {
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return "", fmt.Errorf("markers %s … %s not found", begin, end)
	}
	return doc[:i+len(begin)] + "\n" + body + doc[j:], nil
}
