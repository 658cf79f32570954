package worker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/agent/internal/gpu"
)

// exitError is a non-zero exit as a gpu.Runner reports it.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitError) ExitCode() int { return int(e) }

// nvidiaSMI answers like nvidia-smi on a machine with n A10s.
func nvidiaSMI(n int) gpu.Runner {
	return func(context.Context, string, ...string) ([]byte, error) {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%d, NVIDIA A10, 23028, GPU-%d, 545.29.06\n", i, i)
		}
		return []byte(b.String()), nil
	}
}

func driverError(context.Context, string, ...string) ([]byte, error) {
	return []byte("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n"), exitError(9)
}

// TestGPUsSetMaxTranscribes: the GPUs found are advertised, and without
// --max-transcribes the agent transcribes one chunk per GPU at a time.
func TestGPUsSetMaxTranscribes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		run        gpu.Runner
		configured int
		gpus, want int
	}{
		{"no GPUs: concurrency only", nvidiaSMI(0), 0, 0, 0},
		{"driver error: concurrency only", driverError, 0, 0, 0},
		{"one per GPU", nvidiaSMI(3), 0, 3, 3},
		{"configured wins", nvidiaSMI(3), 1, 3, 1},
		{"configured without GPUs", nvidiaSMI(0), 2, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := New(context.Background(), Config{Server: "http://127.0.0.1:1", Token: "yta_test_secret", Engine: "pocketsphinx",
				WorkDir: t.TempDir(), Concurrency: 4, MaxTranscribes: tt.configured, NvidiaSMI: tt.run}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer w.guard.Close()
			if got := len(w.Capabilities().GPUs); got != tt.gpus {
				t.Errorf("advertised %d GPUs, want %d", got, tt.gpus)
			}
			if w.cfg.MaxTranscribes != tt.want {
				t.Errorf("max transcribes %d, want %d", w.cfg.MaxTranscribes, tt.want)
			}
		})
	}
}

func TestDoctorGPU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		run    gpu.Runner
		ok     bool
		detail string
	}{
		{"none", nvidiaSMI(0), true, "none (CPU engines only)"},
		{"two", nvidiaSMI(2), true, "NVIDIA A10 (23028 MiB); NVIDIA A10 (23028 MiB)"},
		{"driver error", driverError, false, "nvidia-smi exited with status 9: NVIDIA-SMI has failed because it couldn't communicate " +
			"with the NVIDIA driver. (check the NVIDIA driver: install it, or reboot after an upgrade); now: none (CPU engines only)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range Doctor(context.Background(), Config{Engine: "pocketsphinx", NvidiaSMI: tt.run}).Checks {
				if c.Name != "gpu" {
					continue
				}
				if c.OK != tt.ok || c.Required || c.Detail != tt.detail {
					t.Errorf("got %+v, want ok=%v %q", c, tt.ok, tt.detail)
				}
				return
			}
			t.Error("no gpu check")
		})
	}
}
