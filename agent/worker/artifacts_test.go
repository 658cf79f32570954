package worker

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/testplane"
)

// TestArtifactsBeforeLeasing: a worker with an artifact cache fetches the
// pushed model and yt-dlp before it leases, advertises them (the control
// plane shows them on the agent), and runs the pushed yt-dlp, which is
// newer than the configured one.
func TestArtifactsBeforeLeasing(t *testing.T) {
	t.Parallel()
	ctx, url, admin, push := artifactPlane(t)
	push("ggml-tiny.bin", api.ArtifactModel, "v1", bytes.Repeat([]byte("tiny"), 1000))
	push("yt-dlp", api.ArtifactTool, "2030.01.01", []byte("#!/bin/sh\necho 2030.01.01\n"))
	system := filepath.Join(t.TempDir(), "yt-dlp")
	if err := os.WriteFile(system, []byte("#!/bin/sh\necho 2025.01.15\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e, err := admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	w, err := New(ctx, Config{Server: url, Token: e.Token, Engine: "pocketsphinx", WorkDir: t.TempDir(), StateDir: state,
		YTDLPBinary: system, ArtifactCacheSize: 1 << 20, LeaseWait: 200 * time.Millisecond}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	stopped := false
	defer func() {
		if !stopped {
			stop()
			<-done
		}
	}()

	deadline := time.Now().Add(2 * time.Minute)
	for {
		l, err := admin.ListAgents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Agents) == 1 && len(l.Agents[0].Capabilities.Artifacts) == 2 {
			if a := l.Agents[0].Capabilities.Artifacts; a[0].Name != "ggml-tiny.bin" || a[1].Name != "yt-dlp" || a[1].Version != "2030.01.01" {
				t.Fatalf("advertised %+v", a)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent never advertised its artifacts: %+v", l)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b, err := os.ReadFile(filepath.Join(state, "artifacts", api.ArtifactModel, "ggml-tiny.bin")); err != nil || len(b) != 4000 {
		t.Fatalf("cached model: %d bytes, %v", len(b), err)
	}
	stop()
	<-done
	stopped = true
	if got, want := w.pipeCfg.YTDLP.Binary, filepath.Join(state, "artifacts", api.ArtifactTool, "yt-dlp"); got != want {
		t.Fatalf("yt-dlp %q, want the pushed %q", got, want)
	}
}

// artifactPlane starts an embedded control plane for a test and returns its
// context, URL, an admin client, and push, which pushes and commits an
// artifact through it.
func artifactPlane(t *testing.T) (context.Context, string, *api.Client, func(name, kind, version string, data []byte)) {
	t.Helper()
	admin := testplane.Start(t)
	push := func(name, kind, version string, data []byte) {
		t.Helper()
		testplane.Push(t, admin, name, kind, version, data)
	}
	return t.Context(), admin.BaseURL(), admin, push
}
