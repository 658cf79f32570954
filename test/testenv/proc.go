package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
