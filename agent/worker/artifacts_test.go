package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/server"
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
	const adminKey = "worker-artifacts-admin-key"
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: dir, DatabaseURL: filepath.Join(dir, "db"), AdminKey: adminKey},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srvDone := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(srvDone) }()
	t.Cleanup(func() { cancel(); <-srvDone })
	admin := api.NewClient(srv.URL(), adminKey, nil)
	push := func(name, kind, version string, data []byte) {
		t.Helper()
		sum := sha256.Sum256(data)
		p, err := admin.PushArtifact(ctx, api.ArtifactRequest{Name: name, Kind: kind, Version: version, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))})
		if err != nil {
			t.Fatal(err)
		}
		if err := admin.PutPresigned(ctx, p.Upload, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.CommitArtifact(ctx, p.Artifact.ID); err != nil {
			t.Fatal(err)
		}
	}
	return ctx, srv.URL(), admin, push
}
