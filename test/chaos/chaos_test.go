package chaos_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"

	"github.com/ytcaption/ytcaption/test/testenv"
)

// mode sizes a run.
type mode struct {
	name        string
	cycles      int           // rounds of the whole fault schedule
	agentKills  int           // agent SIGKILLs per round
	replicaDown time.Duration // a killed replica stays down this long
	pgDown      time.Duration // PostgreSQL is down this long per restart
	outage      time.Duration // Redis and MinIO outages
	testAgents  int
	// rollingRounds is how many times both replicas are restarted in turn.
	rollingRounds int
	every         time.Duration // submission pace
	maxInflight   int
	drain         time.Duration // bound on the final wait for every job to finish
}

func chaosMode() mode {
	if os.Getenv(chaosModeEnv) == "long" {
		return mode{name: "long", cycles: 3, agentKills: 3, replicaDown: 10 * time.Second, pgDown: 10 * time.Second,
			outage: 30 * time.Second, testAgents: 4, rollingRounds: 4, every: 500 * time.Millisecond, maxInflight: 10, drain: 6 * time.Minute}
	}
	return mode{name: "short", cycles: 1, agentKills: 2, replicaDown: 3 * time.Second, pgDown: 2 * time.Second,
		outage: 8 * time.Second, testAgents: 3, rollingRounds: 2, every: 700 * time.Millisecond, maxInflight: 6, drain: 3 * time.Minute}
}

const (
	testSpeech = "Hello and welcome to the show."
	realSpeech = "Hello and welcome to the show. Today we are going to talk about the history of music. Thank you for listening."
	// maxRealWER is lenient: this suite checks that the real engine ran
	// under faults, the accuracy tests live elsewhere.
	maxRealWER = 0.5
	// engineDelay is the test engine's time per task.
	engineDelay = 1500 * time.Millisecond
	// recoveryWait bounds the wait for the first success after a fault heals.
	recoveryWait = 3 * time.Minute
)

// faultRec is one injected fault.
type faultRec struct {
	kind      string
	target    string
	start     time.Time
	healed    time.Time
	recovered time.Duration // fault start → first success after healing; <0 if not seen
	note      string
}

// suite is one chaos run.
type suite struct {
	t      *testing.T
	m      mode
	c      *cluster
	w      *workload
	rng    *rand.Rand
	faults []faultRec
	// diskMount is the tmpfs work dir of the disk agent ("" when mounting
	// is not permitted, and the scenario is skipped).
	diskMount string
	// checks of single scenarios, reported at the end
	partition, disk scenarioResult
	// broken is set when throughput did not resume after a fault: the
	// remaining faults are skipped and the accounting shows the damage.
	broken bool
}

type scenarioResult struct {
	ran     bool
	skipped string
	notes   []string
}

// TestChaos runs the workload through every fault, then a rolling restart,
// and accounts for every job.
func TestChaos(t *testing.T) {
	m := chaosMode()
	if testing.Short() && m.name != "long" {
		t.Skip("chaos suite skipped in -short mode")
	}
	s := &suite{t: t, m: m, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42))}

	// Media: a short clip for the test engine, a sentence for pocketsphinx.
	dir := t.TempDir()
	media.Copy(t, media.MP4(t, media.Speech(t, testSpeech)), dir, "test.mp4")
	media.Copy(t, media.MP4(t, media.Speech(t, realSpeech)), dir, "real.mp4")
	// About 37 s of speech: three or four chunks of 10 s.
	media.Copy(t, media.MP4(t, media.Speech(t, strings.Repeat(realSpeech+" ", 6))), dir, "long.mp4")
	base := media.Serve(t, dir)

	s.diskMount = mountTmpfs(t)
	var specs []agentSpec
	for i := range m.testAgents {
		specs = append(specs, agentSpec{name: fmt.Sprintf("agent-%d", i+1), engine: "test", labels: "asr=test", delay: engineDelay})
	}
	specs = append(specs,
		agentSpec{name: "agent-disk", engine: "test", labels: "asr=test", delay: engineDelay, workDir: s.diskMount},
		agentSpec{name: "agent-ps", engine: "pocketsphinx", labels: "asr=pocketsphinx"},
	)
	s.c = startCluster(t, specs)
	s.w = &workload{c: s.c.client, testURL: base + "/test.mp4", realURL: base + "/real.mp4", longURL: base + "/long.mp4",
		missingURL: base + "/missing.mp4", every: m.every, maxInflight: m.maxInflight, invalidEvery: 12, realEv: 8, longEvery: 10,
		byID: map[string]*jobRec{}}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	pollCtx, stopPoll := context.WithCancel(context.Background())
	defer stopPoll()
	submitDone := make(chan struct{})
	go func() { defer close(submitDone); s.w.submitLoop(ctx) }()
	go s.w.pollLoop(pollCtx)
	go s.c.supervise(pollCtx)

	s.w.setPhase("warm-up")
	s.waitSucceeded(3)
	for round := range m.cycles {
		t.Logf("round %d of %d", round+1, m.cycles)
		for range m.agentKills {
			s.inject("agent SIGKILL", s.killAgent)
		}
		s.inject("replica SIGKILL", s.killReplica)
		s.inject("PostgreSQL restart", func(f *faultRec) error { return s.outage(f, s.c.pg, m.pgDown) })
		s.inject("Redis outage", func(f *faultRec) error { return s.outage(f, s.c.redis, m.outage) })
		s.inject("MinIO outage", func(f *faultRec) error { return s.outage(f, s.c.minio, m.outage) })
		s.inject("partition > lease", s.partitionAgent)
		if s.diskMount != "" {
			s.inject("work disk full", s.fillDisk)
		} else {
			s.disk.skipped = "mounting a tmpfs is not permitted here"
		}
	}
	s.inject("rolling restart", s.rollingRestart)

	s.w.setPhase("drain")
	stop()
	<-submitDone
	s.drain()
	stopPoll()
	s.account()
}

// waitSucceeded waits until n jobs have succeeded in all.
func (s *suite) waitSucceeded(n int) {
	deadline := time.Now().Add(recoveryWait)
	for s.w.succeeded() < n {
		if time.Now().After(deadline) {
			s.t.Fatalf("fewer than %d jobs succeeded after %s; workload errors: %v", n, recoveryWait, s.w.errs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// inject runs one fault, then waits for throughput to resume and lets the
// system settle a moment.
func (s *suite) inject(kind string, fault func(*faultRec) error) {
	s.t.Helper()
	if s.broken {
		s.t.Logf("fault %s skipped: the system did not recover from an earlier one", kind)
		return
	}
	s.w.setPhase(kind)
	f := faultRec{kind: kind, start: time.Now(), recovered: -1}
	err := fault(&f)
	if f.healed.IsZero() {
		f.healed = time.Now()
	}
	if err != nil {
		s.t.Errorf("%s: %v", kind, err)
	}
	if at, ok := s.waitSuccessAfter(f.healed); ok {
		f.recovered = at.Sub(f.start)
	} else {
		s.t.Errorf("%s: no job succeeded within %s of healing", kind, recoveryWait)
		s.broken = true
	}
	s.faults = append(s.faults, f)
	s.t.Logf("fault %-20s %-12s healed after %6.1fs, recovered after %6.1fs %s", kind, f.target,
		f.healed.Sub(f.start).Seconds(), f.recovered.Seconds(), f.note)
	time.Sleep(2 * time.Second)
}

func (s *suite) waitSuccessAfter(t time.Time) (time.Time, bool) {
	deadline := time.Now().Add(recoveryWait)
	for time.Now().Before(deadline) {
		if at, ok := s.w.succeededAfter(t); ok {
			return at, true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Time{}, false
}

// killAgent SIGKILLs a random agent, busy if any is, and starts it again.
func (s *suite) killAgent(f *faultRec) error {
	var busy []*agentProc
	for _, a := range s.c.agents {
		if len(running(testenv.ReadLog(a.log))) > 0 {
			busy = append(busy, a)
		}
	}
	pool := busy
	if len(pool) == 0 {
		pool = s.c.agents
	}
	a := pool[s.rng.IntN(len(pool))]
	f.target = a.name
	if n := len(running(testenv.ReadLog(a.log))); n > 0 {
		f.note = fmt.Sprintf("(%d task running)", n)
	}
	a.expected.Store(true)
	defer a.expected.Store(false)
	a.proc().Kill()
	time.Sleep(time.Second)
	f.healed = time.Now()
	return a.start()
}

// killReplica SIGKILLs a random replica and starts it again after a while.
func (s *suite) killReplica(f *faultRec) error {
	r := s.c.replicas[s.rng.IntN(len(s.c.replicas))]
	f.target = r.name
	r.expected.Store(true)
	defer r.expected.Store(false)
	r.proc().Kill()
	time.Sleep(s.m.replicaDown)
	ctx, cancel := context.WithTimeout(context.Background(), readyWait)
	defer cancel()
	err := r.start(ctx)
	f.healed = time.Now()
	return err
}

// outage stops a backing service, waits, and starts it again.
func (s *suite) outage(f *faultRec, svc service, down time.Duration) error {
	f.target = svc.Name()
	ctx, cancel := context.WithTimeout(context.Background(), readyWait)
	defer cancel()
	if err := svc.Stop(ctx); err != nil {
		return fmt.Errorf("stop %s: %w", svc.Name(), err)
	}
	time.Sleep(down)
	err := svc.Start(ctx)
	f.healed = time.Now()
	if err != nil {
		return fmt.Errorf("start %s: %w", svc.Name(), err)
	}
	return nil
}

// partitionAgent cuts an agent that is running a task off from the control
// plane for longer than the lease. The task must be rescued and finished by
// another agent, and the partitioned agent's late outcome refused.
func (s *suite) partitionAgent(f *faultRec) error {
	s.partition.ran = true
	var cands []*agentProc
	for _, a := range s.c.agents {
		if strings.HasPrefix(a.name, "agent-") && a.name != "agent-disk" && a.name != "agent-ps" {
			cands = append(cands, a)
		}
	}
	seen := map[string]bool{}
	for _, a := range cands {
		for _, e := range agentEvents(testenv.ReadLog(a.log), false) {
			seen[e.task+"/"+e.attempt] = true
		}
	}
	// Wait for a task of a valid job to start on one of them and reach
	// transcription, then cut that agent off: its result is then ready
	// within the lease, so the agent tries to complete late (a stale
	// completion) rather than noticing the lost lease first. A task that
	// finishes before the cut is passed over for the next one.
	var (
		a  *agentProc
		ev agentEvent
	)
	deadline := time.Now().Add(recoveryWait)
	for tries := 0; ; tries++ {
		a = nil
		for a == nil {
			if time.Now().After(deadline) {
				return errors.New("no task of a valid job could be cut off on a test agent")
			}
			for _, c := range cands {
				for _, e := range running(testenv.ReadLog(c.log)) {
					// An invalid job fails before the partition matters.
					if r, ok := s.w.get(e.job); ok && r.kind == kindTest && !seen[e.task+"/"+e.attempt] {
						a, ev = c, e
						break
					}
				}
				if a != nil {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		seen[ev.task+"/"+ev.attempt] = true
		// After a few misses, cut it off at once: the agent then notices the
		// lost lease itself instead of completing late (also a stale outcome).
		stage := "transcribe"
		if tries >= 5 {
			stage = ""
		}
		if s.jobAt(ev.job, stage, deadline) {
			a.proxy.partition()
			f.start = time.Now()
			time.Sleep(300 * time.Millisecond)
			if s.jobAt(ev.job, "", time.Now()) {
				break // still running, now cut off
			}
			a.proxy.heal() // it finished before the cut took hold
		}
	}
	f.target = a.name
	agentID := a.id()
	s.t.Logf("partitioned %s (agent %s) running task %s of job %s", a.name, agentID, ev.task, ev.job)

	// Keep it cut off until the job finished elsewhere, and at least for
	// longer than the lease (and the outage length in long runs).
	minCut := max(leaseDuration+2*time.Second, s.m.outage)
	deadline = time.Now().Add(recoveryWait)
	for {
		r, ok := s.w.get(ev.job)
		if ok && r.final && time.Since(f.start) >= minCut {
			if r.last.Status != api.JobSucceeded {
				a.proxy.heal()
				f.healed = time.Now()
				return fmt.Errorf("job %s of the partitioned task ended %s: %+v", ev.job, r.last.Status, r.last.Error)
			}
			break
		}
		if time.Now().After(deadline) {
			a.proxy.heal()
			f.healed = time.Now()
			return fmt.Errorf("job %s not finished elsewhere within %s of the partition", ev.job, recoveryWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.proxy.heal()
	f.healed = time.Now()

	// The agent must learn its lease is gone; the job has exactly one
	// accepted completion, by another agent.
	var outcome string
	deadline = time.Now().Add(2 * time.Minute)
	for outcome == "" && time.Now().Before(deadline) {
		for _, e := range agentEvents(testenv.ReadLog(a.log), false) {
			for _, o := range staleOutcomes {
				if e.task == ev.task && e.attempt == ev.attempt && e.msg == o {
					outcome = o
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if outcome == "" {
		return fmt.Errorf("%s never logged a stale-lease outcome for task %s after healing:\n%s", a.name, ev.task, testenv.Tail(a.log, 30))
	}
	done := serverCompletions(s.c.replicaLogs())[ev.task]
	if len(done) != 1 {
		return fmt.Errorf("task %s: %d accepted completions in the replica logs, want 1", ev.task, len(done))
	}
	if done[0] == agentID {
		return fmt.Errorf("task %s: completion accepted from the partitioned agent %s", ev.task, agentID)
	}
	var lines []string
	for _, line := range strings.Split(testenv.ReadLog(a.log), "\n") {
		if strings.Contains(line, ev.task) {
			lines = append(lines, line)
		}
	}
	s.t.Logf("%s's log for task %s:\n%s", a.name, ev.task, strings.Join(lines, "\n"))
	f.note = fmt.Sprintf("(task %s: %q; completed by another agent)", ev.task[:8], outcome)
	s.partition.notes = append(s.partition.notes, fmt.Sprintf("%s: %s", a.name, outcome))
	return nil
}

// jobAt waits until the job is at stage (or, with stage "", just looks
// once) and reports true, or false once the job is final.
func (s *suite) jobAt(id, stage string, until time.Time) bool {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		j, err := s.c.client.job(ctx, id)
		cancel()
		switch {
		case err == nil && j.Status.Final():
			return false
		case err == nil && (stage == "" || j.Stage == stage):
			return true
		case time.Now().After(until):
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fillDisk fills the disk agent's work dir (a small tmpfs) until a task
// fails on it; the failure must be retryable and the agent keep running.
func (s *suite) fillDisk(f *faultRec) error {
	s.disk.ran = true
	a := s.c.agent("agent-disk")
	f.target = a.name
	before := len(agentEvents(testenv.ReadLog(a.log), false))
	filler := filepath.Join(s.diskMount, "filler")
	if err := fill(filler); err != nil {
		return err
	}
	probe := filepath.Join(s.diskMount, "probe")
	err := os.WriteFile(probe, make([]byte, 4096), 0o644)
	_ = os.Remove(probe)
	if !errors.Is(err, syscall.ENOSPC) {
		_ = os.Remove(filler)
		return fmt.Errorf("the work disk is not full after filling it (probe write: %v)", err)
	}
	var failed agentEvent
	deadline := time.Now().Add(recoveryWait)
	for failed.task == "" {
		if time.Now().After(deadline) {
			_ = os.Remove(filler)
			return errors.New("no task failed on the full disk")
		}
		// Keep it full: a finishing task frees its files, which the next
		// task would otherwise fit into.
		if err := fill(filler); err != nil {
			return err
		}
		evs := agentEvents(testenv.ReadLog(a.log), false)
		for _, e := range evs[min(before, len(evs)):] {
			// Only a valid job's failure is the disk's doing.
			if r, ok := s.w.get(e.job); ok && r.kind == kindTest && e.msg == "task failed" {
				failed = e
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.Remove(filler); err != nil {
		return err
	}
	f.healed = time.Now()
	if failed.retryable != "true" {
		return fmt.Errorf("task %s failed on a full disk with retryable=%s, want a retryable failure", failed.task, failed.retryable)
	}
	if p := a.proc(); p.Exited() {
		return fmt.Errorf("%s exited on a full disk: %v", a.name, p.Err())
	}
	// The job must go on to succeed (checked with all jobs at the end);
	// note who finished it.
	deadline = time.Now().Add(recoveryWait)
	for time.Now().Before(deadline) {
		if r, ok := s.w.get(failed.job); ok && r.final {
			by := serverCompletions(s.c.replicaLogs())[failed.task]
			where := "elsewhere"
			if len(by) == 1 && by[0] == a.id() {
				where = "on the same agent after the disk was freed"
			}
			f.note = fmt.Sprintf("(task %s failed retryably, job %s %s)", failed.task[:8], r.last.Status, where)
			s.disk.notes = append(s.disk.notes, f.note)
			if r.last.Status != api.JobSucceeded {
				return fmt.Errorf("job %s of the disk-full task ended %s: %+v", failed.job, r.last.Status, r.last.Error)
			}
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("job %s not final after the disk was freed", failed.job)
}

// fill appends to path until the file system is full.
func fill(path string) error {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer fh.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := fh.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return fmt.Errorf("fill %s: %w", path, err)
		}
	}
}

// mountTmpfs mounts a small tmpfs for the disk agent's work dir, or returns
// "" when that is not permitted.
func mountTmpfs(t *testing.T) string {
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		t.Log("not root: the full-disk scenario is skipped")
		return ""
	}
	if out, err := runCmd("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", dir); err != nil {
		t.Logf("cannot mount a tmpfs (%v): the full-disk scenario is skipped\n%s", err, out)
		return ""
	}
	// Cleanups run last-in first-out: this one runs after every agent
	// (started later) has stopped.
	t.Cleanup(func() { _, _ = runCmd("umount", "-l", dir) })
	return dir
}

// rollingRestart restarts the replicas one at a time (SIGTERM, wait,
// start) under the steady load, several rounds; after each restart the
// load goes on until a job succeeds again.
func (s *suite) rollingRestart(f *faultRec) error {
	f.target = fmt.Sprintf("2 replicas ×%d", s.m.rollingRounds)
	for range s.m.rollingRounds {
		for _, r := range s.c.replicas {
			if err := s.restartReplica(r); err != nil {
				return err
			}
			if _, ok := s.waitSuccessAfter(time.Now()); !ok {
				return fmt.Errorf("no job succeeded after %s restarted", r.name)
			}
		}
	}
	f.healed = time.Now()
	return nil
}

func (s *suite) restartReplica(r *replica) error {
	r.expected.Store(true)
	defer r.expected.Store(false)
	p := r.proc()
	p.Signal(syscall.SIGTERM)
	if !p.Wait(2 * stopWait) {
		return fmt.Errorf("%s did not stop within %s of SIGTERM", r.name, 2*stopWait)
	}
	if p.Err() != nil {
		s.t.Errorf("%s exited with %v after SIGTERM, want a clean exit", r.name, p.Err())
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyWait)
	defer cancel()
	return r.start(ctx)
}

// drain waits, bounded, for every submitted job to be final.
func (s *suite) drain() {
	deadline := time.Now().Add(s.m.drain)
	for time.Now().Before(deadline) {
		s.w.pollOnce(context.Background())
		if s.w.inflight() == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// serverCompletions maps task id → the agents whose completion a replica
// accepted, from every replica's JSON log.
func serverCompletions(logs string) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, `"task completed"`) {
			continue
		}
		var e struct {
			Msg   string `json:"msg"`
			Task  string `json:"task"`
			Agent string `json:"agent"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "task completed" {
			out[e.Task] = append(out[e.Task], e.Agent)
		}
	}
	return out
}

// machine describes this machine for the results table.
func machine() string {
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%d cores%s", runtime.NumCPU(), mem)
}
