package cli_test

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/artifact"
	"github.com/ytcaption/ytcaption/agent/internal/cli"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/testplane"
)

// TestDoctorArtifactCache runs doctor against a real control plane that
// offers two models while the cache holds one: it reports the cache (what
// it holds, its use of the limit), the model it lacks with what to do next,
// a limit too small for it, a cache that cannot be written, and a cache
// turned off while artifacts are offered.
func TestDoctorArtifactCache(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	admin := testplane.Start(t)
	push := func(name string, body []byte) { testplane.Push(t, admin, name, api.ArtifactModel, "v1", body) }
	e, err := admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := api.NewClient(admin.BaseURL(), "", nil).Register(ctx, api.RegisterRequest{EnrollmentToken: e.Token, Name: "doctor",
		Capabilities: api.Capabilities{Slots: 1, Engines: []api.EngineCapability{{Name: "pocketsphinx"}}}})
	if err != nil {
		t.Fatal(err)
	}

	// The cache holds ggml-a.bin; ggml-b.bin is pushed afterwards.
	push("ggml-a.bin", bytes.Repeat([]byte("a"), 3000))
	dir := t.TempDir()
	cache, err := artifact.New(dir, 1<<20, nil, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := api.NewClient(admin.BaseURL(), reg.Token, nil).AgentArtifacts(ctx)
	if err != nil || len(l.Artifacts) != 1 {
		t.Fatalf("listed %+v, %v", l, err)
	}
	if _, err := cache.Ensure(ctx, l.Artifacts[0]); err != nil {
		t.Fatal(err)
	}
	push("ggml-b.bin", bytes.Repeat([]byte("b"), 5000))

	bin := t.TempDir()
	today := time.Now().Format("2006.01.02")
	base := []string{"--config", "", "--server", admin.BaseURL(), "--token", reg.Token, "--state-dir", "", "--artifact-dir", dir,
		"--yt-dlp", fakeTool(t, bin, "yt-dlp", today), "--ffmpeg", fakeTool(t, bin, "ffmpeg", "ffmpeg version 6.1"),
		"--ffprobe", fakeTool(t, bin, "ffprobe", "ffprobe version 6.1")}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	notDir := filepath.Join(bin, "yt-dlp", "cache") // under a file

	type want struct{ name, status, detail, fix string }
	for _, tc := range []struct {
		name string
		args []string
		want []want
	}{
		{"one model missing", with("--artifact-cache-size", strconv.Itoa(1<<20)), []want{
			{"artifact cache", "ok", regexp.QuoteMeta(dir) + `: 0.0 MiB of 1.0 MiB used; models: ggml-a.bin \(v1\); tools: none`, ""},
			{"artifacts", "warn", `offers model ggml-b.bin \(v1\), which this agent does not hold`, "start the agent"},
		}},
		{"cache too small", with("--artifact-cache-size", "4000"), []want{
			{"artifacts", "warn", "ggml-b.bin", "set artifact_cache_size .*at least 5000 bytes: ggml-b.bin does not fit"},
		}},
		{"not writable", with("--artifact-cache-size", "4000", "--artifact-dir", notDir), []want{
			{"artifact cache", "fail", "not a directory", "set artifact_dir"},
		}},
		{"whisper model to fetch", with("--artifact-cache-size", strconv.Itoa(1<<20), "--artifact-dir", t.TempDir(), "--engine", "whisper-cpp",
			"--whisper-cli", fakeTool(t, bin, "whisper-cli", "usage"), "--sphinx-model-dir", filepath.Join(bin, "none")), []want{
			{"engines", "warn", "whisper-cpp runs once the agent has fetched ggml-a.bin", "start the agent"},
		}},
		{"whisper model nowhere", with("--artifact-cache-size", "0", "--engine", "whisper-cpp",
			"--whisper-cli", fakeTool(t, bin, "whisper-cli", "usage"), "--sphinx-model-dir", filepath.Join(bin, "none")), []want{
			{"engines", "fail", "no speech engine can run here", "whisper-cli with a model"},
		}},
		{"cache off", with("--artifact-cache-size", "0"), []want{
			{"artifact cache", "warn", `off: the control plane offers model ggml-a.bin \(v1\), model ggml-b.bin \(v1\)`, "set artifact_cache_size = 10737418240"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, stderr, _ := doctor(t, nil, tc.args...)
			for _, w := range tc.want {
				status, detail, fix := r.check(w.name)
				if status != w.status || !regexp.MustCompile(w.detail).MatchString(detail) || !regexp.MustCompile(w.fix).MatchString(fix) {
					t.Errorf("%s: %s %q, fix %q; want %s %q, fix %q (stderr %s)", w.name, status, detail, fix, w.status, w.detail, w.fix, stderr)
				}
			}
		})
	}

	// The text report says the same, with the next step.
	var out bytes.Buffer
	cli.Main(ctx, append([]string{"doctor"}, with("--artifact-cache-size", strconv.Itoa(1<<20))...), &out, io.Discard, func(string) string { return "" })
	if !regexp.MustCompile(`\[warn\] artifacts +the control plane offers model ggml-b.bin \(v1\).*\n +next: start the agent`).MatchString(out.String()) {
		t.Errorf("text report:\n%s", out.String())
	}
	if _, err := os.Stat(notDir); err == nil {
		t.Errorf("doctor created %s", notDir)
	}
}
