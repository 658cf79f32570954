// Package gpu finds the NVIDIA GPUs on this machine by asking nvidia-smi,
// which ships with the driver. A machine without nvidia-smi simply has no
// GPUs; one whose nvidia-smi fails (typically a driver that is not loaded or
// does not match the kernel) also has none for scheduling, but the failure
// comes back as an error so the agent can log it and doctor can show it.
package gpu

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Runner runs a command and returns its standard output. A missing binary
// must come back as an error wrapping exec.ErrNotFound, and a non-zero exit
// as an error with an ExitCode() int method, as os/exec reports them.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// Exec is the Runner that runs real commands.
func Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, name, args...).Output()
}

// Command is the program Detect runs.
const Command = "nvidia-smi"

// Query asks nvidia-smi for one CSV line per GPU: index, name, total memory
// in MiB, UUID and driver version, which Parse reads.
const (
	Query  = "--query-gpu=index,name,memory.total,uuid,driver_version"
	Format = "--format=csv,noheader,nounits"
)

// timeout bounds nvidia-smi, which can hang on a wedged driver.
const timeout = 10 * time.Second

// Detect lists the NVIDIA GPUs that run (nil: Exec) finds through
// nvidia-smi, ordered by index. Without nvidia-smi there are none and no
// error. When nvidia-smi fails, or prints lines it cannot read, the error
// says why; the GPUs it could read are returned with it.
func Detect(ctx context.Context, run Runner) ([]api.GPU, error) {
	if run == nil {
		run = Exec
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := run(ctx, Command, Query, Format)
	if errors.Is(err, exec.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, failed(out, err)
	}
	return Parse(out)
}

// failed describes a failed nvidia-smi run by its exit status and the first
// thing it said: nvidia-smi prints its driver errors on standard output,
// other failures on standard error.
func failed(stdout []byte, err error) error {
	msg := firstLine(stdout)
	var exit *exec.ExitError
	if errors.As(err, &exit) && msg == "" {
		msg = firstLine(exit.Stderr)
	}
	var coder interface{ ExitCode() int }
	if errors.As(err, &coder) {
		if msg == "" {
			return fmt.Errorf("%s exited with status %d", Command, coder.ExitCode())
		}
		return fmt.Errorf("%s exited with status %d: %s", Command, coder.ExitCode(), msg)
	}
	return fmt.Errorf("run %s: %w", Command, err)
}

func firstLine(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// Parse reads nvidia-smi's CSV (the columns of Query, without header or
// units). Fields nvidia-smi cannot fill ("[N/A]", "[Not Supported]") are
// left empty or zero; lines it cannot read are skipped and reported in the
// error, and the others returned.
func Parse(out []byte) ([]api.GPU, error) {
	type indexed struct {
		index int
		gpu   api.GPU
	}
	r := csv.NewReader(bytes.NewReader(out))
	r.TrimLeadingSpace = true
	r.LazyQuotes = true
	r.FieldsPerRecord = -1 // checked per line, so one bad line does not hide the rest
	var (
		found []indexed
		errs  []error
	)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// Past a malformed quote the reader no longer knows where lines end.
			errs = append(errs, fmt.Errorf("%s output: %w", Command, err))
			break
		}
		line, _ := r.FieldPos(0)
		if len(rec) != 5 {
			errs = append(errs, fmt.Errorf("%s output line %d: %d fields, want 5", Command, line, len(rec)))
			continue
		}
		for i := range rec {
			rec[i] = value(rec[i])
		}
		if rec[1] == "" {
			errs = append(errs, fmt.Errorf("%s output line %d: no GPU name", Command, line))
			continue
		}
		index, err := strconv.Atoi(rec[0])
		if err != nil {
			index = len(found) // unknown: keep the order nvidia-smi printed
		}
		mb, _ := strconv.Atoi(rec[2]) // unknown: 0
		found = append(found, indexed{index, api.GPU{Name: rec[1], MemoryMB: mb, UUID: rec[3], DriverVersion: rec[4]}})
	}
	slices.SortStableFunc(found, func(a, b indexed) int { return a.index - b.index })
	var gpus []api.GPU
	for _, f := range found {
		gpus = append(gpus, f.gpu)
	}
	return gpus, errors.Join(errs...)
}

// value trims a field and empties nvidia-smi's placeholders for values it
// does not know ("[N/A]", "[Not Supported]", "[Unknown Error]").
func value(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return ""
	}
	return s
}
