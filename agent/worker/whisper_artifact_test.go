package worker

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

// TestWhisperModelFromArtifacts: an agent whose only ggml model is pushed
// through the artifact cache advertises whisper-cpp with it once fetched at
// start, and transcribes a job naming that model with the cached file (a
// stand-in whisper-cli records the -m it was given; no real model here).
func TestWhisperModelFromArtifacts(t *testing.T) {
	t.Parallel()
	ctx, url, admin, push := artifactPlane(t)
	push("ggml-tiny.bin", api.ArtifactModel, "v1", bytes.Repeat([]byte("ggml"), 1000))

	fixture, err := filepath.Abs("../internal/asr/testdata/whisper_full.json")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	used := filepath.Join(bin, "model-used")
	script := filepath.Join(bin, "whisper-cli")
	body := `#!/bin/sh
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    -m) printf '%s' "$2" > "` + used + `" ;;
    -of) out="$2" ;;
  esac
  shift
done
cp "` + fixture + `" "$out.json"
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}

	e, err := admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	// Pocketsphinx lets the agent start: whisper-cpp has no model until
	// the cache is filled.
	w, err := New(ctx, Config{Server: url, Token: e.Token, WorkDir: t.TempDir(), StateDir: state,
		WhisperBinary: script, ArtifactCacheSize: 1 << 20, LeaseWait: 200 * time.Millisecond}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(w.Capabilities().Engines, func(c api.EngineCapability) bool { return c.Name == "whisper-cpp" }) {
		t.Fatalf("whisper-cpp advertised before its model arrived: %+v", w.Capabilities().Engines)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() { stop(); <-done }()

	deadline := time.Now().Add(2 * time.Minute)
	for {
		l, err := admin.ListAgents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Agents) == 1 && len(l.Agents[0].Capabilities.Artifacts) == 1 {
			i := slices.IndexFunc(l.Agents[0].Capabilities.Engines, func(c api.EngineCapability) bool { return c.Name == "whisper-cpp" })
			if i < 0 || !slices.Equal(l.Agents[0].Capabilities.Engines[i].Models, []string{"tiny"}) {
				t.Fatalf("engines advertised %+v", l.Agents[0].Capabilities.Engines)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent never advertised its artifacts: %+v", l)
		}
		time.Sleep(50 * time.Millisecond)
	}

	wav, err := os.Open(media.Speech(t, "Hello there."))
	if err != nil {
		t.Fatal(err)
	}
	defer wav.Close()
	zero := 0.0
	j, err := admin.UploadJob(ctx, api.JobRequest{Model: "whisper-cpp:tiny", Captions: "asr-only", ChunkSeconds: &zero}, "hello.wav", wav, "")
	if err != nil {
		t.Fatal(err)
	}
	wait, waitDone := context.WithTimeout(ctx, 2*time.Minute)
	defer waitDone()
	j, err = admin.WaitJob(wait, j.ID, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != api.JobSucceeded || j.Result == nil || j.Result.Engine != "whisper-cpp" || j.Result.Model != "tiny" {
		t.Fatalf("job %+v, error %+v, result %+v", j.Status, j.Error, j.Result)
	}
	got, err := os.ReadFile(used)
	if want := filepath.Join(state, "artifacts", api.ArtifactModel, "ggml-tiny.bin"); err != nil || string(got) != want {
		t.Fatalf("whisper-cli ran with model %q (%v), want the cached %q", got, err, want)
	}
}
