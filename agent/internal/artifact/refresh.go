package artifact

import (
	"context"
	"errors"
	"fmt"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Lister is the agent-protocol call that lists what agents may fetch.
type Lister interface {
	AgentArtifacts(ctx context.Context) (api.AgentArtifactList, error)
}

// Held is what an agent can use after a refresh.
type Held struct {
	Models []string // cached model file names, e.g. ggml-base.en.bin
	// Artifacts is everything cached, for the agent's capabilities.
	Artifacts []api.HeldArtifact
	ModelDir  string // where they are
	// YtDlp is the yt-dlp to run: a pushed one when it is newer than the
	// system one (see PreferNewerYtDlp), else the system one.
	YtDlp string
}

// Refresh lists the artifacts the control plane offers, fetches those the
// cache lacks, and says what the agent holds; systemYtDlp is the yt-dlp
// configured or found on PATH. Failures to fetch single artifacts are
// returned joined alongside a usable Held; a failed listing is returned
// with what the cache already held.
func (c *Cache) Refresh(ctx context.Context, l Lister, systemYtDlp string) (Held, error) {
	list, lerr := l.AgentArtifacts(ctx)
	if lerr != nil {
		lerr = fmt.Errorf("list artifacts: %w", lerr)
	}
	serr := c.Sync(ctx, list.Artifacts)
	h := Held{Models: c.Models(), ModelDir: c.ModelDir(), YtDlp: systemYtDlp}
	pushed := ""
	for _, e := range c.Entries() {
		h.Artifacts = append(h.Artifacts, api.HeldArtifact{Kind: e.Kind, Name: e.Name, Version: e.Version, SHA256: e.SHA256})
		if e.Kind == api.ArtifactTool && e.Name == YtDlpName {
			pushed = c.path(e.Kind, e.Name)
		}
	}
	var yerr error
	h.YtDlp, yerr = PreferNewerYtDlp(ctx, pushed, systemYtDlp)
	return h, errors.Join(lerr, serr, yerr)
}
