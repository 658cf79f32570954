package e2e_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/ytcaption/ytcaption/test/testenv"
)

// binEnv names the directory holding ytcaption and ytcaption-agent. `make
// test` sets it; without it TestMain builds both binaries once into a
// temporary directory and sets it for the tests.
const binEnv = "YTCAPTION_BIN"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv(binEnv) != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ytcaption-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	for name, pkg := range map[string]string{
		"ytcaption":       "github.com/ytcaption/ytcaption/control-plane/cmd/ytcaption",
		"ytcaption-agent": "github.com/ytcaption/ytcaption/agent/cmd/ytcaption-agent",
	} {
		if err := testenv.Build(dir, name, pkg); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
	}
	// The environment, not a package variable, carries the path: the tests
	// read it the same way whether make or TestMain set it.
	if err := os.Setenv(binEnv, dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}
