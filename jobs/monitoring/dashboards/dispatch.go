package dashboards

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// dispatch shows the queue, how fast agents take work, the fleet, and the
// dependencies dispatch relies on.
func dispatch() *dashboard.DashboardBuilder {
	return newDashboard("ytcaption-dispatch", "ytcaption / Dispatch & fleet",
		"The task queue, leases and rescues, the agent fleet, and the control plane's dependencies.").
		WithRow(dashboard.NewRowBuilder("Queue")).
		WithPanel(single("Ready work waiting", "Age of the oldest ready task (tickets at 10 min and growing).", "s", redFrom(600),
			query{"ytcaption:queue_oldest_ready_age_seconds:max", "oldest ready"})).
		WithPanel(single("Queued tasks", "", "short", neutral(), query{`max(ytcaption_queue_depth{state="queued"})`, "queued"})).
		WithPanel(single("Leases, 10 min", "Tasks agents took in the last 10 minutes (pages at 0 while work waits).", "short", neutral(),
			query{"ytcaption:leases:increase10m", "leases"})).
		WithPanel(single("Lease rescues, 15 min", "Tasks taken back from agents whose lease expired.", "short", redFrom(4),
			query{`sum(increase(ytcaption_lease_rescues_total[15m]))`, "rescues"})).
		WithPanel(graph("Queue depth", "Every replica reports the same store-wide value.", "short", false,
			query{`max by (state) (ytcaption_queue_depth)`, "{{state}}"})).
		WithPanel(graph("Oldest task age", "queued: since it became ready; leased: since its last heartbeat.", "s", false,
			query{`max by (state) (ytcaption_queue_oldest_age_seconds)`, "{{state}}"})).
		WithPanel(graph("Lease wait", "How long a ready task waited for an agent.", "s", false,
			query{`histogram_quantile(0.5, sum by (le) (rate(ytcaption_lease_wait_seconds_bucket[$__rate_interval])))`, "p50"},
			query{`histogram_quantile(0.95, sum by (le) (rate(ytcaption_lease_wait_seconds_bucket[$__rate_interval])))`, "p95"})).
		WithPanel(graph("Leases and rescues", "", "ops", false,
			query{`sum(rate(ytcaption_lease_wait_seconds_count[$__rate_interval]))`, "leases"},
			query{`sum(rate(ytcaption_lease_rescues_total[$__rate_interval]))`, "rescues"})).
		WithRow(dashboard.NewRowBuilder("Fleet")).
		WithPanel(graph("Agents by state", "", "short", true,
			query{`max by (state) (ytcaption_agents)`, "{{state}}"})).
		WithPanel(graph("Result cache", "Submissions answered from an earlier result.", "percentunit", false,
			query{`sum(rate(ytcaption_cache_lookups_total{result="hit"}[$__rate_interval])) / sum(rate(ytcaption_cache_lookups_total[$__rate_interval]))`, "hit ratio"})).
		WithRow(dashboard.NewRowBuilder("Dependencies")).
		WithPanel(graph("Dependency probes", "1: the replica reached it at the last scrape.", "short", false,
			query{`min by (instance, dependency) (ytcaption_dependency_up)`, "{{instance}} {{dependency}}"})).
		WithPanel(graph("Object-store circuit breaker", "open: calls refused with 503; trips: times it opened.", "short", false,
			query{`max by (instance) (ytcaption_circuit_breaker_open{breaker="object_store"})`, "{{instance}} open"},
			query{`sum by (instance) (increase(ytcaption_circuit_breaker_trips_total{breaker="object_store"}[$__rate_interval]))`, "{{instance}} trips"})).
		WithPanel(graph("Webhook attempts by outcome", "", "ops", true,
			query{`sum by (outcome) (rate(ytcaption_webhook_attempts_total[$__rate_interval]))`, "{{outcome}}"})).
		WithPanel(graph("Replicas scraped", "", "short", false,
			query{`sum(up{job="ytcaption"})`, "up"}))
}
