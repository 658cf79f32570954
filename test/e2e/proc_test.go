package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/testenv"
)

// Bounds on waits. They are generous because the machine may be busy with
// the other tests; they only turn a hang into a clear failure.
const (
	readyWait = 60 * time.Second
	jobWait   = 4 * time.Minute
	stopWait  = testenv.StopWait
)

// waitReady polls base/readyz until it answers 200.
func waitReady(t testing.TB, p *testenv.Proc, base string) {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyWait)
	var last string
	for {
		if p.Exited() {
			t.Fatalf("%s exited before it was ready (%v):\n%s", p.Name, p.Err(), p.Tail(100))
		}
		resp, err := hc.Get(base + "/readyz")
		if err == nil {
			b, _ := readAll(resp)
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("HTTP %d %s", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready at %s/readyz after %s: %s\n%s", p.Name, base, readyWait, last, p.Tail(100))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readAll(resp *http.Response) (string, error) {
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err := b.ReadFrom(resp.Body)
	return b.String(), err
}

// runCLI runs a command to completion and returns its stdout; it fails the
// test if the command fails.
func runCLI(t testing.TB, env []string, bin string, args ...string) string {
	t.Helper()
	out, errOut, err := tryCLI(t, 3*time.Minute, env, bin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// tryCLI runs a command to completion (or until timeout) in its own process
// group and returns its stdout, stderr and exit error.
func tryCLI(t testing.TB, timeout time.Duration, env []string, bin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("still running after %s: %w", timeout, err)
	}
	return o.String(), e.String(), err
}

// stack is a running control plane and its admin credential.
type stack struct {
	url   string
	key   string
	admin *api.Client
	srv   *testenv.Proc
}

// apiKey makes an admin key unique to a test.
func apiKey(t testing.TB) string {
	return "e2e-admin-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name()) + fmt.Sprintf("-%d", time.Now().UnixNano())
}

// startDev runs `ytcaption dev` with n in-process agents.
func startDev(t testing.TB, agents int) *stack {
	t.Helper()
	addr, key := testenv.FreeAddr(t), apiKey(t)
	p := testenv.StartProc(t, "ytcaption-dev", testenv.ChildEnv(), testenv.Binary(t, "ytcaption"),
		"dev", "--addr", addr, "--data", t.TempDir(), "--agents", fmt.Sprint(agents), "--api-key", key)
	s := &stack{url: "http://" + addr, key: key, srv: p}
	waitReady(t, p, s.url)
	s.admin = api.NewClient(s.url, key, nil)
	return s
}

// startServer runs `ytcaption server` configured by env (YTCAPTION_*
// settings) and extra flags. Without YTCAPTION_DATABASE_URL it uses SQLite
// and local disk in a temporary directory.
func startServer(t testing.TB, env []string, args ...string) *stack {
	t.Helper()
	addr, key := testenv.FreeAddr(t), apiKey(t)
	env = append([]string{
		"YTCAPTION_LISTEN=" + addr,
		"YTCAPTION_DATA_DIR=" + t.TempDir(),
		"YTCAPTION_ADMIN_KEY=" + key,
		"YTCAPTION_ALLOW_PRIVATE_SOURCES=true", // the test media is served on loopback
	}, env...)
	p := testenv.StartProc(t, "ytcaption-server", testenv.ChildEnv(env...), testenv.Binary(t, "ytcaption"), append([]string{"server"}, args...)...)
	s := &stack{url: "http://" + addr, key: key, srv: p}
	waitReady(t, p, s.url)
	s.admin = api.NewClient(s.url, key, nil)
	return s
}

// cliEnv is the environment of a `ytcaption` user command against s.
func (s *stack) cliEnv(extra ...string) []string {
	return testenv.ChildEnv(append([]string{"YTCAPTION_SERVER=" + s.url, "YTCAPTION_API_KEY=" + s.key}, extra...)...)
}

// enroll creates an agent enrollment token with `ytcaption agents enroll`.
func (s *stack) enroll(t testing.TB) string {
	t.Helper()
	out := runCLI(t, s.cliEnv(), testenv.Binary(t, "ytcaption"), "agents", "enroll")
	return singleLine(t, "agents enroll", out)
}

// singleLine checks that a command printed exactly one line and returns it.
func singleLine(t testing.TB, what, out string) string {
	t.Helper()
	line, rest, _ := strings.Cut(out, "\n")
	if line == "" || rest != "" || strings.ContainsAny(line, " \t") {
		t.Fatalf("%s: want one token alone on stdout, got %q", what, out)
	}
	return line
}

// agent is a ytcaption-agent process.
type agent struct {
	*testenv.Proc
	workDir  string
	stateDir string
}

// startAgent runs `ytcaption-agent run` against s with its own state and
// work directories.
func (s *stack) startAgent(t testing.TB, token, name string, args ...string) *agent {
	t.Helper()
	return s.startAgentEnv(t, token, name, nil, args...)
}

// startAgentEnv is startAgent with extra environment.
func (s *stack) startAgentEnv(t testing.TB, token, name string, env []string, args ...string) *agent {
	t.Helper()
	work, state := t.TempDir(), t.TempDir()
	args = append([]string{"run", "--server", s.url, "--token", token, "--name", name,
		"--state-dir", state, "--work-dir", work}, args...)
	p := testenv.StartProc(t, name, testenv.ChildEnv(env...), testenv.Binary(t, "ytcaption-agent"), args...)
	return &agent{Proc: p, workDir: work, stateDir: state}
}

// waitAgents waits until n agents are registered and active.
func (s *stack) waitAgents(t testing.TB, n int, procs ...*agent) {
	t.Helper()
	deadline := time.Now().Add(readyWait)
	for {
		for _, a := range procs {
			if a.Exited() {
				t.Fatalf("agent %s exited (%v):\n%s", a.Name, a.Err(), a.Tail(100))
			}
		}
		l, err := s.admin.ListAgents(context.Background())
		if err != nil {
			t.Fatalf("list agents: %v", err)
		}
		active := 0
		for _, a := range l.Agents {
			if a.State == "active" {
				active++
			}
		}
		if active >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d agents active after %s", active, n, readyWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitJob waits until the job is final.
func waitJob(t testing.TB, c *api.Client, id string) api.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), jobWait)
	defer cancel()
	j, err := c.WaitJob(ctx, id, 100*time.Millisecond, nil)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("job %s not final after %s: status %s, stage %q, progress %.2f, attempts %d",
			id, jobWait, j.Status, j.Stage, j.Progress, j.Attempts)
	}
	if err != nil {
		t.Fatalf("wait for job %s: %v", id, err)
	}
	return j
}

// mustSucceed fails the test with the job's error unless it succeeded.
func mustSucceed(t testing.TB, j api.Job) {
	t.Helper()
	if j.Status != api.JobSucceeded {
		t.Fatalf("job %s (%s%s) ended %s, error %+v", j.ID, j.Source.URL, j.Source.Filename, j.Status, j.Error)
	}
	if j.Result == nil {
		t.Fatalf("job %s succeeded without a result", j.ID)
	}
}

// logEvent is one runner log line about a task.
type logEvent struct {
	task, job string
	attempt   string
}

var taskLine = regexp.MustCompile(`msg="([^"]+)" task=(\S+) job=(\S+) attempt=(\d+)`)

// events returns the agent's log lines with message msg, in order.
func (a *agent) events(msg string) []logEvent {
	var out []logEvent
	for _, m := range taskLine.FindAllStringSubmatch(a.Output(), -1) {
		if m[1] == msg {
			out = append(out, logEvent{task: m[2], job: m[3], attempt: m[4]})
		}
	}
	return out
}

// didSoon is did, waiting up to 30 s for the line: an agent logs a
// completion after the control plane has committed it.
func (a *agent) didSoon(msg, jobID string) bool {
	return eventually(30*time.Second, func() bool { return a.did(msg, jobID) })
}

// did reports whether the agent logged msg for the job.
func (a *agent) did(msg, jobID string) bool {
	for _, e := range a.events(msg) {
		if e.job == jobID {
			return true
		}
	}
	return false
}

// emptyDir fails the test unless dir has no entries. An agent removes its
// files after its completion call returns, which may be just after the job
// was seen succeeding, so it waits a while for the last of them to go.
func emptyDir(t testing.TB, what, dir string) {
	t.Helper()
	var names []string
	empty := eventually(30*time.Second, func() bool {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		names = names[:0]
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return len(names) == 0
	})
	if !empty {
		t.Errorf("%s %s is not empty: %v", what, dir, names)
	}
}

// eventually checks cond every 50 ms until it holds (true) or d has passed
// (false).
func eventually(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}
