package monitoring_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/ytcaption/ytcaption/test/testenv"
)

// binEnv names the directory holding ytcaption and ytcaption-agent; `make
// test` sets it, else TestMain builds both once into a temporary directory.
const binEnv = "YTCAPTION_BIN"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv(binEnv) != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ytcaption-monitoring-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "monitoring:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	for name, pkg := range map[string]string{
		"ytcaption":       "github.com/ytcaption/ytcaption/control-plane/cmd/ytcaption",
		"ytcaption-agent": "github.com/ytcaption/ytcaption/agent/cmd/ytcaption-agent",
	} {
		if err := testenv.Build(dir, name, pkg); err != nil {
			fmt.Fprintln(os.Stderr, "monitoring:", err)
			return 1
		}
	}
	if err := os.Setenv(binEnv, dir); err != nil {
		fmt.Fprintln(os.Stderr, "monitoring:", err)
		return 1
	}
	return m.Run()
}
