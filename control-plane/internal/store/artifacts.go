package store

import (
	"context"
	"time"
)

// Artifacts are the models and tools operators push for agents to fetch
// (docs/architecture.md, "Artifacts"). A push creates a pending row; the
// commit, after the control plane hashed the uploaded object, makes it
// visible. Versions of one (kind, name) are unique; agents take the newest
// committed one.
type Artifacts interface {
	// CreateArtifact stores a pending artifact. A pending one with the same
	// kind, name and version (an earlier push that never committed) is
	// replaced and returned, so its bytes can be deleted; a committed one
	// is ErrConflict.
	CreateArtifact(ctx context.Context, a Artifact) (replaced []Artifact, err error)
	// GetArtifact returns an artifact, pending or committed (ErrNotFound).
	GetArtifact(ctx context.Context, id string) (Artifact, error)
	// CommitArtifact makes a pending artifact visible at now; committing it
	// again keeps the first time. ErrNotFound if unknown.
	CommitArtifact(ctx context.Context, id string, now time.Time) (Artifact, error)
	// DeleteArtifact removes an artifact and returns it (ErrNotFound).
	DeleteArtifact(ctx context.Context, id string) (Artifact, error)
	// ListArtifacts returns committed artifacts by kind and name, newest
	// commit first within a name.
	ListArtifacts(ctx context.Context) ([]Artifact, error)
}

// Artifact is a pushed model or tool; the bytes are in the blob store
// under Key.
type Artifact struct {
	ID          string
	Kind        string // api.ArtifactModel or api.ArtifactTool
	Name        string
	Version     string
	SHA256      string // lowercase hex
	Size        int64
	Key         string
	CreatedAt   time.Time
	CreatedBy   string    // API key id of the pusher
	CommittedAt time.Time // zero while pending
}
