package dashboards

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// api shows the API against its SLOs (99.9% without 5xx; 99% of
// interactive requests within 50 ms) and its traffic by route.
func api() *dashboard.DashboardBuilder {
	return newDashboard("ytcaption-api", "ytcaption / API",
		"Requests, errors and latency of the control plane's HTTP API against its SLOs.").
		WithRow(dashboard.NewRowBuilder("SLOs")).
		WithPanel(single("Availability, 30 days", "Share of requests answered without a 5xx (SLO 99.9%).", "percentunit", greenFrom(0.999),
			query{`1 - (sum(increase(ytcaption_http_requests_total{code=~"5.."}[30d])) or on() vector(0)) / sum(increase(ytcaption_http_requests_total[30d]))`, "availability"})).
		WithPanel(single("Availability budget spent, 30 days", "Share of the month's 0.1% error budget used up.", "percentunit", redFrom(1),
			query{`((sum(increase(ytcaption_http_requests_total{code=~"5.."}[30d])) or on() vector(0)) / sum(increase(ytcaption_http_requests_total[30d]))) / 0.001`, "spent"})).
		WithPanel(single("Within 50 ms, 30 days", "Share of interactive requests answered within 50 ms (SLO 99%).", "percentunit", greenFrom(0.99),
			query{`sum(increase(ytcaption_http_request_duration_seconds_bucket{le="0.05",` + latencyExcluded + `}[30d])) / sum(increase(ytcaption_http_request_duration_seconds_count{` + latencyExcluded + `}[30d]))`, "within 50 ms"})).
		WithPanel(single("Latency budget spent, 30 days", "Share of the month's 1% slow-request budget used up.", "percentunit", redFrom(1),
			query{`(1 - sum(increase(ytcaption_http_request_duration_seconds_bucket{le="0.05",` + latencyExcluded + `}[30d])) / sum(increase(ytcaption_http_request_duration_seconds_count{` + latencyExcluded + `}[30d]))) / 0.01`, "spent"})).
		WithPanel(graph("5xx ratio by window", "The burn-rate alerts' windows; page at 1.44% (1h and 5m), ticket at 0.6% (6h and 30m).", "percentunit", false,
			query{"ytcaption:http_errors:ratio_rate5m", "5m"}, query{"ytcaption:http_errors:ratio_rate30m", "30m"},
			query{"ytcaption:http_errors:ratio_rate1h", "1h"}, query{"ytcaption:http_errors:ratio_rate6h", "6h"})).
		WithPanel(graph("Share slower than 50 ms by window", "The latency burn-rate alerts' windows; page at 14.4% (1h and 5m), ticket at 6% (6h and 30m).", "percentunit", false,
			query{"ytcaption:http_slow:ratio_rate5m", "5m"}, query{"ytcaption:http_slow:ratio_rate30m", "30m"},
			query{"ytcaption:http_slow:ratio_rate1h", "1h"}, query{"ytcaption:http_slow:ratio_rate6h", "6h"})).
		WithRow(dashboard.NewRowBuilder("Traffic")).
		WithPanel(graph("Requests by route", "", "reqps", true,
			query{`sum by (method, route) (rate(ytcaption_http_requests_total[$__rate_interval]))`, "{{method}} {{route}}"})).
		WithPanel(graph("Responses by status", "", "reqps", true,
			query{`sum by (code) (rate(ytcaption_http_requests_total[$__rate_interval]))`, "{{code}}"})).
		WithPanel(graph("5xx by route", "", "reqps", true,
			query{`sum by (method, route, code) (rate(ytcaption_http_requests_total{code=~"5.."}[$__rate_interval]))`, "{{code}} {{method}} {{route}}"})).
		WithPanel(graph("p99 latency by route", "Long-polls and streams hold requests open on purpose.", "s", false,
			query{`histogram_quantile(0.99, sum by (le, method, route) (rate(ytcaption_http_request_duration_seconds_bucket[$__rate_interval])))`, "{{method}} {{route}}"})).
		WithPanel(graph("p50 latency by route", "", "s", false,
			query{`histogram_quantile(0.5, sum by (le, method, route) (rate(ytcaption_http_request_duration_seconds_bucket[$__rate_interval])))`, "{{method}} {{route}}"})).
		WithPanel(graph("Audit writes failed", "Operator actions whose audit entry could not be written.", "short", false,
			query{`sum(increase(ytcaption_audit_write_failures_total[$__rate_interval]))`, "failed"}))
}
