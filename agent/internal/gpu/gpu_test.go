package gpu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// exitError is a non-zero exit as a Runner reports it.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitError) ExitCode() int { return int(e) }

// recorded replays a recorded nvidia-smi output (testdata) and exit status,
// after checking that Detect asked for the columns Parse reads.
func recorded(t *testing.T, file string, exit int) Runner {
	return func(_ context.Context, name string, args ...string) ([]byte, error) {
		if name != "nvidia-smi" || !slices.Equal(args, []string{
			"--query-gpu=index,name,memory.total,uuid,driver_version", "--format=csv,noheader,nounits"}) {
			t.Errorf("ran %s %v", name, args)
		}
		out, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		if exit != 0 {
			return out, exitError(exit)
		}
		return out, nil
	}
}

func same(n int, g api.GPU, uuid func(int) string) []api.GPU {
	var gpus []api.GPU
	for i := range n {
		g.UUID = uuid(i)
		gpus = append(gpus, g)
	}
	return gpus
}

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		run     Runner
		want    []api.GPU
		wantErr string // "": no error
	}{
		{"one A100", recorded(t, "a100.txt", 0), []api.GPU{{Name: "NVIDIA A100-SXM4-80GB", MemoryMB: 81920,
			UUID: "GPU-4c2a6a3e-8f1d-2b7e-93a1-6f0e2d8c5b17", DriverVersion: "535.104.05"}}, ""},
		{"8×H100", recorded(t, "h100x8.txt", 0),
			same(8, api.GPU{Name: "NVIDIA H100 80GB HBM3", MemoryMB: 81559, DriverVersion: "550.54.15"},
				func(i int) string { return fmt.Sprintf("GPU-9b1e7d2c-3a4f-5e6d-8c7b-0a1f2e3d4c5%d", i) }), ""},
		{"mixed 2×RTX 4090 + A10", recorded(t, "mixed.txt", 0), []api.GPU{
			{Name: "NVIDIA GeForce RTX 4090", MemoryMB: 24564, UUID: "GPU-1f0d8e2a-77c3-4b9e-a5d6-3c2b1a0f9e81", DriverVersion: "545.29.06"},
			{Name: "NVIDIA GeForce RTX 4090", MemoryMB: 24564, UUID: "GPU-6e5d4c3b-2a19-4f8e-b7d6-5c4b3a291807", DriverVersion: "545.29.06"},
			{Name: "NVIDIA A10", MemoryMB: 23028, UUID: "GPU-0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d", DriverVersion: "545.29.06"},
		}, ""},
		{"none", recorded(t, "none.txt", 0), nil, ""},
		{"driver error", recorded(t, "driver-error.txt", 9), nil,
			"nvidia-smi exited with status 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. " +
				"Make sure that the latest NVIDIA driver is installed and running."},
		{"no nvidia-smi", func(context.Context, string, ...string) ([]byte, error) {
			return nil, &exec.Error{Name: "nvidia-smi", Err: exec.ErrNotFound}
		}, nil, ""},
		{"silent failure", func(context.Context, string, ...string) ([]byte, error) { return nil, exitError(6) },
			nil, "nvidia-smi exited with status 6"},
		{"cannot start", func(context.Context, string, ...string) ([]byte, error) { return nil, os.ErrPermission },
			nil, "run nvidia-smi: permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Detect(context.Background(), tt.run)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("GPUs\n got %+v\nwant %+v", got, tt.want)
			}
			if msg := errString(err); msg != tt.wantErr {
				t.Errorf("error %q, want %q", msg, tt.wantErr)
			}
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		out     string
		want    []api.GPU
		wantErr string
	}{
		{"spaces and no trailing newline", "  0 ,  Tesla T4 ,15360 , GPU-a ,  470.82.01  ",
			[]api.GPU{{Name: "Tesla T4", MemoryMB: 15360, UUID: "GPU-a", DriverVersion: "470.82.01"}}, ""},
		{"CRLF and blank lines", "\r\n0, Tesla T4, 15360, GPU-a, 470.82.01\r\n\r\n",
			[]api.GPU{{Name: "Tesla T4", MemoryMB: 15360, UUID: "GPU-a", DriverVersion: "470.82.01"}}, ""},
		{"not available", "0, NVIDIA A100-SXM4-40GB MIG 1g.5gb, [N/A], [Not Supported], 535.104.05\n",
			[]api.GPU{{Name: "NVIDIA A100-SXM4-40GB MIG 1g.5gb", DriverVersion: "535.104.05"}}, ""},
		{"quoted name with a comma", `0, "Acme GPU, rev 2", 1024, GPU-q, 1.0` + "\n",
			[]api.GPU{{Name: "Acme GPU, rev 2", MemoryMB: 1024, UUID: "GPU-q", DriverVersion: "1.0"}}, ""},
		{"ordered by index", "1, B, 2, GPU-b, 1\n0, A, 1, GPU-a, 1\n",
			[]api.GPU{{Name: "A", MemoryMB: 1, UUID: "GPU-a", DriverVersion: "1"}, {Name: "B", MemoryMB: 2, UUID: "GPU-b", DriverVersion: "1"}}, ""},
		{"unknown index keeps order", "[N/A], B, 2, GPU-b, 1\n[N/A], A, 1, GPU-a, 1\n",
			[]api.GPU{{Name: "B", MemoryMB: 2, UUID: "GPU-b", DriverVersion: "1"}, {Name: "A", MemoryMB: 1, UUID: "GPU-a", DriverVersion: "1"}}, ""},
		{"bad lines skipped, good ones kept", "0, A, 1, GPU-a, 1\nWarning: something odd\n2, [N/A], 3, GPU-c, 1\n",
			[]api.GPU{{Name: "A", MemoryMB: 1, UUID: "GPU-a", DriverVersion: "1"}},
			"nvidia-smi output line 2: 1 fields, want 5\nnvidia-smi output line 3: no GPU name"},
		{"empty", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tt.out))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("GPUs\n got %+v\nwant %+v", got, tt.want)
			}
			if msg := errString(err); msg != tt.wantErr {
				t.Errorf("error %q, want %q", msg, tt.wantErr)
			}
		})
	}
}

// TestExec runs a real program through Exec: a missing one is no GPUs, one
// that fails is an error carrying what it printed.
func TestExec(t *testing.T) {
	t.Parallel()
	t.Run("missing", func(t *testing.T) {
		gpus, err := Detect(context.Background(), func(ctx context.Context, _ string, args ...string) ([]byte, error) {
			return Exec(ctx, "ytcaption-test-no-such-nvidia-smi", args...)
		})
		if gpus != nil || err != nil {
			t.Errorf("got %v, %v", gpus, err)
		}
	})
	t.Run("fails", func(t *testing.T) {
		sh, err := exec.LookPath("sh")
		if err != nil {
			t.Skip("no sh")
		}
		_, err = Detect(context.Background(), func(ctx context.Context, _ string, _ ...string) ([]byte, error) {
			return Exec(ctx, sh, "-c", "echo 'Failed to initialize NVML: Driver/library version mismatch' >&2; exit 18")
		})
		if want := "nvidia-smi exited with status 18: Failed to initialize NVML: Driver/library version mismatch"; errString(err) != want {
			t.Errorf("error %q, want %q", errString(err), want)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
