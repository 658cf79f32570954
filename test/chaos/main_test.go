package chaos_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ytcaption/ytcaption/test/testenv"
)

// binEnv names the directory holding a built bin/ytcaption (`make test`
// sets it). The agent is always built here, with the test-only engine.
const binEnv = "YTCAPTION_BIN"

// Environment variables of the test binary itself, not of the processes
// it starts.
const (
	chaosModeEnv = "YTCAPTION_CHAOS"      // "long" for the long run
	reportDirEnv = "YTCAPTION_REPORT_DIR" // where the results table is written (chaos-<mode>.md)
	chaosBinEnv  = "YTCAPTION_CHAOS_BIN"  // set by TestMain: where the binaries are
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run builds the agent with the test engine (and the control plane when
// YTCAPTION_BIN does not provide it) into a temporary directory.
func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ytcaption-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	err = testenv.Build(dir, "ytcaption-agent", "github.com/ytcaption/ytcaption/agent/cmd/ytcaption-agent", "ytcaption_testengine")
	if err == nil {
		if bin := os.Getenv(binEnv); bin != "" {
			err = os.Symlink(filepath.Join(bin, "ytcaption"), filepath.Join(dir, "ytcaption"))
		} else {
			err = testenv.Build(dir, "ytcaption", "github.com/ytcaption/ytcaption/control-plane/cmd/ytcaption")
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	// The environment carries the path, not a package variable.
	if err := os.Setenv(chaosBinEnv, dir); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	return m.Run()
}
