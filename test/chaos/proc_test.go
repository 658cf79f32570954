package chaos_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/test/testenv"
)

// Bounds on waits: generous, because the machine runs other tests too; they
// only turn a hang into a clear failure and are never asserted as limits.
const (
	readyWait = 90 * time.Second
	stopWait  = 20 * time.Second
)

// binary returns the path of one of the binaries TestMain prepared.
func binary(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(os.Getenv(chaosBinEnv), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("binary %s: %v (run `make build`, or unset %s)", name, err, binEnv)
	}
	return p
}

// proc is one run of a binary, in its own process group, appending its
// output to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit status, valid once done is closed
}

// spawn starts bin; output is appended to logPath.
func spawn(name, logPath string, env []string, bin string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	fmt.Fprintf(f, "#### %s start %s: %s %s\n", time.Now().Format(time.RFC3339Nano), name, filepath.Base(bin), strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		fmt.Fprintf(f, "#### %s exit %s: %v\n", time.Now().Format(time.RFC3339Nano), name, p.err)
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// signal sends sig to the whole process group (yt-dlp, ffmpeg included).
func (p *proc) signal(sig syscall.Signal) {
	if p == nil || p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to exit and reports whether it did.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// kill SIGKILLs the group and waits for the exit.
func (p *proc) kill() {
	if p == nil {
		return
	}
	p.signal(syscall.SIGKILL)
	<-p.done
}

// stop ends the process gracefully if it can, else kills it.
func (p *proc) stop() {
	if p == nil || p.exited() {
		return
	}
	p.signal(syscall.SIGTERM)
	if !p.wait(stopWait) {
		p.signal(syscall.SIGKILL)
		<-p.done
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// logFile is an append-only log shared by the successive runs of one
// service, read back for accounting.
type logFile struct {
	path string
}

func (l *logFile) read() string {
	b, err := os.ReadFile(l.path)
	if err != nil {
		return fmt.Sprintf("(read log: %v)", err)
	}
	return string(b)
}

func (l *logFile) tail(lines int) string {
	s := strings.Split(l.read(), "\n")
	if len(s) > lines {
		s = append([]string{fmt.Sprintf("... (%d lines before)", len(s)-lines)}, s[len(s)-lines:]...)
	}
	return strings.Join(s, "\n")
}

// runCmd runs a command to completion and returns its combined output.
func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// freePort picks a free loopback port for a service the suite starts.
func freePort(t testing.TB) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(testenv.FreeAddr(t))
	n, _ := strconv.Atoi(p)
	return n
}
