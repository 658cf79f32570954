package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// BenchmarkRollupOf sums a report batch's worth of changes: 64 jobs of
// four tenants finishing, each ending one agent's lease.
func BenchmarkRollupOf(b *testing.B) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	proc := 3 * time.Second
	changes := make([]job.Change, 64)
	for i := range changes {
		changes[i].Stats = job.StatsDelta{Tenant: fmt.Sprintf("t%d", i%4), At: at, From: api.JobRunning,
			To: api.JobSucceeded, Processing: &proc, AudioSeconds: 12, RunSeconds: 2,
			Agents: []job.AgentDelta{{AgentID: fmt.Sprintf("a%d", i%16), Succeeded: 1}}}
	}
	b.ReportAllocs()
	for b.Loop() {
		if r := RollupOf(changes); len(r.Jobs) != 4*len(Resolutions) {
			b.Fatalf("%d job rows", len(r.Jobs))
		}
	}
}
