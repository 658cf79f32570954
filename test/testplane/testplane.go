// Package testplane runs a real control plane in the test's process (the
// embedded SQLite store and local blobs, nothing else reachable) for the
// agent's tests, and pushes artifacts through it as an operator would.
package testplane

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/server"
)

// AdminKey is the started control plane's admin key.
const AdminKey = "testplane-admin-key"

// Start runs a control plane until the test ends and returns an admin
// client of it (its BaseURL is the control plane's URL).
func Start(t *testing.T) *api.Client {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: dir, DatabaseURL: filepath.Join(dir, "db"), AdminKey: AdminKey},
		slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return api.NewClient(srv.URL(), AdminKey, nil)
}

// Push pushes data as the artifact name (kind, version) and commits it.
func Push(t *testing.T, admin *api.Client, name, kind, version string, data []byte) {
	t.Helper()
	ctx := t.Context()
	sum := sha256.Sum256(data)
	p, err := admin.PushArtifact(ctx, api.ArtifactRequest{Name: name, Kind: kind, Version: version,
		SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))})
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
