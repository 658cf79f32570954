package bench

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestStress starts the loaded run's stress-ng and stops it: it must
// still be running when stopped.
func TestStress(t *testing.T) {
	if _, err := exec.LookPath("stress-ng"); err != nil {
		t.Skip("stress-ng not installed; make test-env installs it")
	}
	stop, err := stress(1)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := stop(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("stress-ng ended by itself before it was stopped: %v", err)
	}
}
