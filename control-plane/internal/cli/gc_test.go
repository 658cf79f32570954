package cli

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// TestTuneGC: a replica collects at GOGC 400 with a soft memory limit at
// 90 % of its cgroup's, unless the environment sets either; no limit found
// leaves the memory limit unset, a limit that cannot be read is logged.
// (Not parallel: the collector's settings are the process's.)
func TestTuneGC(t *testing.T) {
	prevGC, prevMem := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(prevGC); debug.SetMemoryLimit(prevMem) })
	const gib = 1 << 30
	fixed := func(n uint64, err error) memlimit.Provider { return func() (uint64, error) { return n, err } }
	for _, c := range []struct {
		name    string
		env     map[string]string
		limit   memlimit.Provider
		wantGC  int
		wantMem int64
		logged  bool
	}{
		{"defaults in a cgroup", nil, fixed(gib, nil), serverGCPercent, gib * 9 / 10, false},
		{"no cgroup limit", nil, fixed(0, memlimit.ErrNoLimit), serverGCPercent, math.MaxInt64, false},
		{"unreadable limit", nil, fixed(0, errors.New("no cgroup")), serverGCPercent, math.MaxInt64, true},
		{"operator's own", map[string]string{"GOGC": "50", "GOMEMLIMIT": "2GiB"}, fixed(gib, nil), 100, math.MaxInt64, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			var logs bytes.Buffer
			tuneGC(IO{Getenv: func(k string) string { return c.env[k] }}, c.limit, slog.New(slog.NewTextHandler(&logs, nil)))
			if gc := debug.SetGCPercent(100); gc != c.wantGC {
				t.Errorf("GOGC %d, want %d", gc, c.wantGC)
			}
			if mem := debug.SetMemoryLimit(-1); mem != c.wantMem {
				t.Errorf("memory limit %d, want %d", mem, c.wantMem)
			}
			if got := logs.Len() > 0; got != c.logged {
				t.Errorf("logged %q, want a warning: %v", logs.String(), c.logged)
			}
		})
	}
}
