package cli

import (
	"errors"
	"log/slog"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// serverGCPercent is a replica's GOGC unless the environment sets one. Its
// live heap is small and nearly all it allocates lives for one request or
// one batch, so at Go's default of 100 it collected many times a second
// under load; at 400 a dispatch burn-down cost about a fifth less server
// CPU a task for about 30 MiB more resident memory (docs/performance.md).
const serverGCPercent = 400

// memLimitRatio is the part of the cgroup's memory limit taken as the soft
// memory limit.
const memLimitRatio = 0.9

// tuneGC sets the collector of a replica: GOGC serverGCPercent unless GOGC
// is set, and, unless GOMEMLIMIT is set, a soft memory limit at
// memLimitRatio of what limit reports (the cgroup's memory limit: a Nomad
// task's memory), so the larger GC target never takes the process to the
// OOM killer: near the limit Go collects sooner instead. No limit found
// leaves the memory limit unset.
func tuneGC(io IO, limit memlimit.Provider, log *slog.Logger) {
	if io.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	if io.Getenv("GOMEMLIMIT") != "" {
		return
	}
	n, err := limit()
	switch {
	case errors.Is(err, memlimit.ErrNoLimit):
	case err != nil:
		log.Warn("no soft memory limit: cannot read the memory limit", "err", err)
	default:
		debug.SetMemoryLimit(int64(float64(n) * memLimitRatio))
	}
}
