package dashboards

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// pipeline shows what agents report: stage times, transcription speed,
// downloads, and how jobs end.
func pipeline() *dashboard.DashboardBuilder {
	return newDashboard("ytcaption-pipeline", "ytcaption / Pipeline",
		"Pipeline stage durations, real-time factor, downloads, and failures by code, as agents report them.").
		WithRow(dashboard.NewRowBuilder("Stages")).
		WithPanel(graph("Stage duration p50", "", "s", false,
			query{`histogram_quantile(0.5, sum by (le, stage) (rate(ytcaption_stage_duration_seconds_bucket[$__rate_interval])))`, "{{stage}}"})).
		WithPanel(graph("Stage duration p95", "", "s", false,
			query{`histogram_quantile(0.95, sum by (le, stage) (rate(ytcaption_stage_duration_seconds_bucket[$__rate_interval])))`, "{{stage}}"})).
		WithPanel(graph("Real-time factor p50", "Transcription time / media duration (below 1: faster than real time).", "short", false,
			query{`histogram_quantile(0.5, sum by (le, engine, model) (rate(ytcaption_realtime_factor_bucket[$__rate_interval])))`, "{{engine}} {{model}}"})).
		WithPanel(graph("Real-time factor p95", "", "short", false,
			query{`histogram_quantile(0.95, sum by (le, engine, model) (rate(ytcaption_realtime_factor_bucket[$__rate_interval])))`, "{{engine}} {{model}}"})).
		WithRow(dashboard.NewRowBuilder("Outcomes")).
		WithPanel(graph("Jobs finished by status", "", "short", true,
			query{`sum by (status) (increase(ytcaption_jobs_finished_total[$__rate_interval]))`, "{{status}}"})).
		WithPanel(graph("Task failures by code", "Retried or final; see the error codes in docs/api.md.", "short", true,
			query{`sum by (code) (increase(ytcaption_task_failures_total[$__rate_interval]))`, "{{code}}"})).
		WithPanel(graph("Download success rate by site", "", "percentunit", false,
			query{`sum by (site) (rate(ytcaption_downloads_total{outcome="success"}[$__rate_interval])) / sum by (site) (rate(ytcaption_downloads_total[$__rate_interval]))`, "{{site}}"})).
		WithPanel(graph("Downloads by site and outcome", "", "ops", true,
			query{`sum by (site, outcome) (rate(ytcaption_downloads_total[$__rate_interval]))`, "{{site}} {{outcome}}"}))
}
