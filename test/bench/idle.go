package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// procStat is a process's CPU time so far and its resident set size, read
// from /proc (the server is a separate process, so none of the load
// generator's own cost is counted).
func procStat(pid int) (cpu time.Duration, rssMiB float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read stat: %w", err)
	}
	s := string(b)
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	cpu = time.Duration(utime+stime) * time.Second / hz
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read status: %w", err)
	}
	for line := range strings.SplitSeq(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			rssMiB = kb / 1024
		}
	}
	return cpu, rssMiB, nil
}

// raiseFileLimit lifts this process's open-file limit to its hard limit;
// the server started afterwards inherits it.
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("setrlimit: %w", err)
	}
	return lim.Cur, nil
}

// Idle holds IdleAgents long-polls open on one replica and measures the
// server's memory and CPU while they wait.
func Idle(ctx context.Context, cfg Config, r *Results) error {
	limit, err := raiseFileLimit()
	if err != nil {
		return err
	}
	n := cfg.Scale.IdleAgents
	if need := uint64(n) + 512; limit < need {
		return fmt.Errorf("open-file limit %d is below the %d this benchmark needs", limit, need)
	}
	s, err := StartServer(ctx, cfg, "idle")
	if err != nil {
		return err
	}
	defer s.Stop()
	hc := agentHTTP(n)
	agents, err := registerAgents(ctx, s, n, hc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var (
		inFlight, errs atomic.Int64
		wg             sync.WaitGroup
	)
	for _, ag := range agents {
		wg.Go(func() {
			for ctx.Err() == nil {
				inFlight.Add(1)
				_, err := ag.Lease(ctx, api.LeaseRequest{Max: 1, WaitSeconds: 30})
				inFlight.Add(-1)
				if err != nil && ctx.Err() == nil {
					errs.Add(1)
					time.Sleep(time.Second)
				}
			}
		})
	}
	defer func() { cancel(); wg.Wait(); hc.CloseIdleConnections() }()
	// Every agent is in its long-poll before anything is measured; then the
	// burst of first lease calls is given time to settle.
	for deadline := time.Now().Add(time.Minute); inFlight.Load() < int64(n); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d of %d agents reached their long-poll", inFlight.Load(), n)
		}
	}
	time.Sleep(cfg.Scale.Settle)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		c0, _, err := procStat(s.Pid)
		if err != nil {
			return err
		}
		time.Sleep(time.Second)
		c1, _, _ := procStat(s.Pid)
		if c1-c0 < 100*time.Millisecond {
			break
		}
	}
	c0, _, err := procStat(s.Pid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	minHeld := inFlight.Load()
	for time.Since(t0) < cfg.Scale.IdleWindow {
		time.Sleep(250 * time.Millisecond)
		minHeld = min(minHeld, inFlight.Load())
	}
	c1, rss, err := procStat(s.Pid)
	if err != nil {
		return err
	}
	if e := errs.Load(); e > 0 {
		return fmt.Errorf("%d long-polls failed", e)
	}
	r.Set("idle_agents", float64(minHeld), "agents")
	r.Set("idle_rss_mib", rss, "MiB")
	r.Set("idle_cpu_pct", 100*float64(c1-c0)/float64(time.Since(t0)), "%")
	return nil
}
