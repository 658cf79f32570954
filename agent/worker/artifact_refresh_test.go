package worker

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// whisperOnly is the configuration of a box whose only engine is
// whisper-cpp (a stand-in whisper-cli; pocketsphinx lacks its model) and
// whose models come through the artifact cache.
func whisperOnly(t *testing.T, url, token string) Config {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "whisper-cli")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return Config{Server: url, Token: token, Engine: "whisper-cpp", WhisperBinary: bin, SphinxModelDir: t.TempDir(),
		WorkDir: t.TempDir(), StateDir: t.TempDir(), ArtifactCacheSize: 1 << 20, LeaseWait: 200 * time.Millisecond}
}

// runWorker runs w until the test ends.
func runWorker(t *testing.T, ctx context.Context, w *Worker) {
	t.Helper()
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	t.Cleanup(func() { stop(); <-done })
}

// waitAgent polls the control plane until its only agent satisfies ok.
func waitAgent(t *testing.T, ctx context.Context, admin *api.Client, what string, ok func(api.Agent) bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		l, err := admin.ListAgents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Agents) == 1 && ok(l.Agents[0]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent never %s: %+v", what, l)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// whisperModels is what the agent advertises for whisper-cpp (nil: not
// advertised).
func whisperModels(a api.Agent) []string {
	i := slices.IndexFunc(a.Capabilities.Engines, func(c api.EngineCapability) bool { return c.Name == "whisper-cpp" })
	if i < 0 {
		return nil
	}
	return a.Capabilities.Engines[i].Models
}

// TestWhisperOnlyBoxStartsFromArtifacts: a box whose one engine needs a
// model that only the artifact cache holds starts, fetches the model, and
// then advertises whisper-cpp with it.
func TestWhisperOnlyBoxStartsFromArtifacts(t *testing.T) {
	t.Parallel()
	ctx, url, admin, push := artifactPlane(t)
	push("ggml-tiny.bin", api.ArtifactModel, "v1", bytes.Repeat([]byte("ggml"), 100))
	e, err := admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(ctx, whisperOnly(t, url, e.Token), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("a box whose model is in the artifact cache did not start: %v", err)
	}
	runWorker(t, ctx, w)
	waitAgent(t, ctx, admin, "advertised whisper-cpp with the fetched model", func(a api.Agent) bool {
		return slices.Equal(whisperModels(a), []string{"tiny"})
	})
}

// TestNoEngineSaysWhatToPush: with an artifact cache and no model pushed,
// the whisper-only box stops after the fetch, saying what to push.
func TestNoEngineSaysWhatToPush(t *testing.T) {
	t.Parallel()
	ctx, url, admin, _ := artifactPlane(t)
	e, err := admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(ctx, whisperOnly(t, url, e.Token), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err = w.Run(rctx)
	if err == nil || !strings.Contains(err.Error(), "ytcaption artifacts push") || !strings.Contains(err.Error(), "whisper-cpp") {
		t.Fatalf("Run = %v, want an error naming the engine and what to push", err)
	}
}

// TestArtifactPushedWhileRunning: a model pushed while the agent runs
// reaches it without a restart, and its next lease request advertises the
// model and the engine it serves.
func TestArtifactPushedWhileRunning(t *testing.T) {
	t.Parallel()
	ctx, url, admin, push := artifactPlane(t)
	e, err := admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := whisperOnly(t, url, e.Token)
	cfg.Engine, cfg.SphinxModelDir = "pocketsphinx", "" // a working CPU engine until the model comes
	cfg.ArtifactRefresh = 100 * time.Millisecond
	w, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, ctx, w)
	waitAgent(t, ctx, admin, "leased with pocketsphinx", func(a api.Agent) bool {
		return len(a.Capabilities.Engines) > 0 && whisperModels(a) == nil
	})

	push("ggml-tiny.bin", api.ArtifactModel, "v1", bytes.Repeat([]byte("ggml"), 100))
	waitAgent(t, ctx, admin, "advertised the model pushed while it ran", func(a api.Agent) bool {
		return len(a.Capabilities.Artifacts) == 1 && a.Capabilities.Artifacts[0].Name == "ggml-tiny.bin" &&
			slices.Equal(whisperModels(a), []string{"tiny"})
	})
	if _, err := os.Stat(filepath.Join(cfg.StateDir, "artifacts", api.ArtifactModel, "ggml-tiny.bin")); err != nil {
		t.Fatal(err)
	}
}
