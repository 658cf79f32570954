package chaos_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
