// Package chaos is the fault-injection suite. It starts real processes on
// loopback — its own PostgreSQL, Redis and MinIO, two control-plane
// replicas, several agents behind TCP proxies it controls — runs a steady
// workload, and injects faults while it runs: killed agents and replicas, a
// PostgreSQL restart, Redis and MinIO outages, a network partition longer
// than a lease, and a full work disk. It then accounts for every job
// exactly: none lost, none failed but the deliberately invalid ones, each
// task's result committed once. A rolling restart of the replicas under
// client load must produce no 5xx and no failed job.
//
// `go test ./test/chaos/` runs the short version; YTCAPTION_CHAOS=long (set
// by `make chaos`) runs the long one. The results table is logged and, when
// YTCAPTION_REPORT_DIR is set, written there as chaos-<mode>.md; the suite
// never writes into the tree (`make chaos-record` puts a long run's table
// into docs/reliability.md).
package chaos
