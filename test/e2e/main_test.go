package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: build %s: %v\n", name, err)
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
