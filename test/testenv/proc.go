package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ChildEnv is this process's environment without any YTCAPTION_* setting (a
// developer's YTCAPTION_SERVER must not leak into a process a test starts),
// plus extra.
func ChildEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "YTCAPTION_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// FreeAddr picks a free loopback address. The port is closed again before
// the process that will use it starts; another process could take it
// meanwhile, which is unlikely enough on a test machine.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("pick a port: %v", err)
	}
	return addr
}

// Build compiles the main package pkg into dir/name, with optional build
// tags, for suites that drive the real binaries.
func Build(dir, name, pkg string, tags ...string) error {
	args := []string{"build", "-o", filepath.Join(dir, name)}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: %w", name, err)
	}
	return nil
}

// BinEnv names the directory holding ytcaption and ytcaption-agent; `make
// test` sets it.
const BinEnv = "YTCAPTION_BIN"

// RunWithBinaries runs a suite that drives the real binaries: with BinEnv
// unset it first builds both once into a temporary directory and sets
// BinEnv to it (the environment, not a package variable, carries the path,
// so the tests read it alike whoever set it). suite names the suite in
// errors. A TestMain returns its result to os.Exit.
func RunWithBinaries(m *testing.M, suite string) int {
	if os.Getenv(BinEnv) != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ytcaption-"+suite+"-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, suite+":", err)
		return 1
	}
	defer os.RemoveAll(dir)
	for name, pkg := range map[string]string{
		"ytcaption":       "github.com/ytcaption/ytcaption/control-plane/cmd/ytcaption",
		"ytcaption-agent": "github.com/ytcaption/ytcaption/agent/cmd/ytcaption-agent",
	} {
		if err := Build(dir, name, pkg); err != nil {
			fmt.Fprintln(os.Stderr, suite+":", err)
			return 1
		}
	}
	if err := os.Setenv(BinEnv, dir); err != nil {
		fmt.Fprintln(os.Stderr, suite+":", err)
		return 1
	}
	return m.Run()
}

// Binary returns the path of the built binary name in BinEnv's directory.
func Binary(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv(BinEnv)
	if dir == "" {
		t.Fatalf("%s is not set", BinEnv)
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("binary %s: %v (run `make build`, or unset %s to let the tests build it)", name, err, BinEnv)
	}
	return p
}

// StopWait is how long StartProc's processes get to exit after SIGTERM.
const StopWait = 15 * time.Second

// StartProc starts bin with args and env (see Start), its log in the
// test's temporary directory; it is stopped (SIGTERM, then SIGKILL after
// StopWait) when the test ends, and the end of its log is dumped into the
// test log if the test failed.
func StartProc(t testing.TB, name string, env []string, bin string, args ...string) *Proc {
	t.Helper()
	p, err := Start(name, filepath.Join(t.TempDir(), name+".log"), env, bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !p.Stop(StopWait) {
			t.Logf("%s did not exit within %s of SIGTERM; it was killed", name, StopWait)
		}
		if t.Failed() {
			t.Logf("---- %s: %s %s ----\n%s", name, filepath.Base(bin), strings.Join(args, " "), p.Tail(300))
		}
	})
	return p
}

// Proc is a binary running in its own process group for a test suite, its
// output appended to a log file (several runs of one service may share it).
type Proc struct {
	Name string
	Log  string // the log file
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the exit status, valid once done is closed
}

// Start starts bin with args and env, marking the start and the exit in the
// log file (without the arguments, which may hold credentials).
func Start(name, logPath string, env []string, bin string, args ...string) (*Proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	fmt.Fprintf(f, "#### %s start %s: %s\n", time.Now().Format(time.RFC3339Nano), name, filepath.Base(bin))
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		fmt.Fprintf(f, "#### %s exit %s: %v\n", time.Now().Format(time.RFC3339Nano), name, p.err)
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Signal sends sig to the whole process group (yt-dlp, ffmpeg included).
func (p *Proc) Signal(sig syscall.Signal) {
	if p == nil || p.Exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// SignalMain sends sig to the process alone, as `kill PID` or a service
// manager does; its children (ffmpeg, the speech engine) do not get it.
func (p *Proc) SignalMain(sig syscall.Signal) {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(sig)
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is the exit status once the process has exited.
func (p *Proc) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Wait waits up to d for the process to exit and reports whether it did.
func (p *Proc) Wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// Kill SIGKILLs the group and waits for the exit.
func (p *Proc) Kill() {
	if p == nil {
		return
	}
	p.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop ends the process with SIGTERM, or SIGKILL after grace, and reports
// whether SIGTERM was enough. Children left in the group go too.
func (p *Proc) Stop(grace time.Duration) bool {
	if p == nil || p.Exited() {
		return true
	}
	p.Signal(syscall.SIGTERM)
	graceful := p.Wait(grace)
	if !graceful {
		p.Kill()
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	return graceful
}

// Output is the log file's content so far.
func (p *Proc) Output() string { return ReadLog(p.Log) }

// Tail is the last lines of the log file.
func (p *Proc) Tail(lines int) string { return Tail(p.Log, lines) }

// ReadLog reads a log file (or says why it could not).
func ReadLog(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(read log: %v)", err)
	}
	return string(b)
}

// Tail is the last lines of a log file, saying how many came before.
func Tail(path string, lines int) string {
	s := strings.Split(ReadLog(path), "\n")
	if len(s) > lines {
		s = append([]string{fmt.Sprintf("... (%d lines before)", len(s)-lines)}, s[len(s)-lines:]...)
	}
	return strings.Join(s, "\n")
}
