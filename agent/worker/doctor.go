package worker

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/asr"
	"github.com/ytcaption/ytcaption/agent/internal/gpu"
)

// Check is one line of a doctor report.
type Check struct {
	Name     string
	OK       bool
	Required bool
	Detail   string
}

// Report is what doctor found.
type Report struct{ Checks []Check }

// Doctor checks the tools, engines, models and GPUs the configuration uses.
func Doctor(ctx context.Context, cfg Config) Report {
	var r Report
	tool := func(name, bin string, args ...string) {
		if bin == "" {
			bin = name
		}
		c := Check{Name: name, Required: true}
		path, err := exec.LookPath(bin)
		if err != nil {
			c.Detail = "not found on PATH (Debian/Ubuntu: apt-get install " + name + ")"
			r.Checks = append(r.Checks, c)
			return
		}
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		out, _ := exec.CommandContext(tctx, path, args...).CombinedOutput()
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		c.OK, c.Detail = true, path+"  "+line
		r.Checks = append(r.Checks, c)
	}
	tool("yt-dlp", cfg.YTDLPBinary, "--version")
	tool("ffmpeg", cfg.FFmpeg, "-version")
	tool("ffprobe", cfg.FFprobe, "-version")

	all := engines(cfg)
	caps, why := asr.Capabilities(ctx, all)
	for _, c := range caps {
		r.Checks = append(r.Checks, Check{Name: "engine " + c.Name, OK: true, Detail: "models: " + strings.Join(c.Models, ", ")})
	}
	names := make([]string, 0, len(why))
	for name := range why {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r.Checks = append(r.Checks, Check{Name: "engine " + name, Detail: why[name].Error()})
	}
	gpus, err := gpu.Detect(ctx, cfg.NvidiaSMI)
	g := Check{Name: "gpu", OK: true, Detail: "none (CPU engines only)"}
	if len(gpus) > 0 {
		var names []string
		for _, x := range gpus {
			names = append(names, fmt.Sprintf("%s (%d MiB)", x.Name, x.MemoryMB))
		}
		g.Detail = strings.Join(names, "; ")
	}
	if err != nil {
		// Not required: CPU engines still work, but the GPUs go unused.
		g.OK = false
		g.Detail = strings.ReplaceAll(err.Error(), "\n", "; ") + " (check the NVIDIA driver: install it, or reboot after an upgrade); now: " + g.Detail
	}
	r.Checks = append(r.Checks, g)
	return r
}
