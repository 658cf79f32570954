package dashboards

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCommittedJSONIsGenerated fails when a dashboard was edited by hand or
// the generator changed without `make dashboards`.
func TestCommittedJSONIsGenerated(t *testing.T) {
	t.Parallel()
	want, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	committed, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(committed) != len(want) {
		t.Errorf("committed %v; the generator makes %d dashboards", committed, len(want))
	}
	for name, data := range want {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%s: %v (run make dashboards)", name, err)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s differs from the generator's output: run make dashboards", name)
		}
	}
}
