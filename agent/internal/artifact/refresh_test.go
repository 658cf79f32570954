package artifact_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/artifact"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/testplane"
)

// TestRefreshFromControlPlane: against a real control plane (embedded
// store, air-gapped: nothing else is reachable), an operator's pushed model
// and yt-dlp reach the agent's cache verified; the newer pushed yt-dlp is
// chosen over the system one; a second refresh downloads nothing.
func TestRefreshFromControlPlane(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	admin := testplane.Start(t)
	push := func(name, kind, version string, data []byte) { testplane.Push(t, admin, name, kind, version, data) }
	model := bytes.Repeat([]byte("ggml"), 50000)
	push("ggml-base.en.bin", api.ArtifactModel, "v1", model)
	push(artifact.YtDlpName, api.ArtifactTool, "2030.01.01", []byte("#!/bin/sh\necho 2030.01.01\n"))

	e, err := admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := api.NewClient(admin.BaseURL(), "", nil).Register(ctx, api.RegisterRequest{EnrollmentToken: e.Token, Name: "a",
		Capabilities: api.Capabilities{Engines: []api.EngineCapability{{Name: "test"}}}})
	if err != nil {
		t.Fatal(err)
	}
	agent := api.NewClient(admin.BaseURL(), reg.Token, nil)

	system := fakeYtDlp(t, t.TempDir(), "yt-dlp", "2025.01.15")
	c, err := artifact.New(filepath.Join(t.TempDir(), "cache"), 10<<20, nil, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Refresh(ctx, agent, system)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h.Models, []string{"ggml-base.en.bin"}) || h.YtDlp != filepath.Join(filepath.Dir(h.ModelDir), api.ArtifactTool, artifact.YtDlpName) {
		t.Fatalf("held %+v", h)
	}
	if len(h.Artifacts) != 2 || h.Artifacts[0].Name != "ggml-base.en.bin" || h.Artifacts[0].Version != "v1" || h.Artifacts[1].Kind != api.ArtifactTool {
		t.Fatalf("held artifacts %+v", h.Artifacts)
	}
	// The agent advertises them; the control plane shows them.
	if _, err := agent.Lease(ctx, api.LeaseRequest{Max: 1, Capabilities: &api.Capabilities{Engines: []api.EngineCapability{{Name: "test"}}, Slots: 1, Artifacts: h.Artifacts}}); err != nil {
		t.Fatal(err)
	}
	if l, err := admin.ListAgents(ctx); err != nil || len(l.Agents) != 1 || !reflect.DeepEqual(l.Agents[0].Capabilities.Artifacts, h.Artifacts) {
		t.Fatalf("agents = %+v, %v", l, err)
	}
	if b, _ := os.ReadFile(filepath.Join(h.ModelDir, "ggml-base.en.bin")); !bytes.Equal(b, model) {
		t.Fatal("cached model differs from the pushed one")
	}
	before, _ := os.Stat(filepath.Join(h.ModelDir, "ggml-base.en.bin"))
	if _, err := c.Refresh(ctx, agent, system); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(filepath.Join(h.ModelDir, "ggml-base.en.bin")); err != nil || !os.SameFile(before, after) {
		t.Fatalf("second refresh fetched the model again: %v", err)
	}
}
