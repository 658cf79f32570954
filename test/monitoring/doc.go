// Package monitoring tests the deployment's monitoring files in
// jobs/monitoring: the Prometheus rules pass `promtool check rules` and their
// `promtool test rules` unit tests (every alert both fires and stays quiet),
// every PromQL expression in rules and dashboards parses and names only
// metrics the control plane exports, and a real Prometheus scraping a real
// control plane that ran a job finds every one of those metrics.
package monitoring
