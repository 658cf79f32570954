package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Artifact routes: operators push models and tools (admin), everyone who
// reads jobs lists them, and agents fetch them through presigned URLs.
const (
	// PathArtifacts: POST starts a push, GET lists committed artifacts;
	// "/{id}/commit" (POST) finishes a push, "/{id}" (DELETE) removes one.
	PathArtifacts = "/v1/artifacts"
	// PathAgentArtifacts lists the newest artifact of each kind and name
	// with a presigned download URL (agent token).
	PathAgentArtifacts = "/v1/agent/artifacts"
)

// Artifact kinds.
const (
	ArtifactModel = "model" // a speech model file, e.g. ggml-base.en.bin
	ArtifactTool  = "tool"  // an executable, e.g. a yt-dlp release
)

// CodeArtifactHashMismatch: the uploaded object's SHA-256 is not the one
// declared when the push started; the upload was deleted, push again.
const CodeArtifactHashMismatch = "artifact_hash_mismatch"

// ArtifactRequest starts a push. Version defaults to the first 12 hex
// digits of SHA256.
type ArtifactRequest struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Version string `json:"version,omitempty"`
	SHA256  string `json:"sha256"` // lowercase hex
	Size    int64  `json:"size"`
}

// Artifact is a pushed model or tool. CommittedAt is absent while the push
// is pending.
type Artifact struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Kind        string     `json:"kind"`
	Version     string     `json:"version"`
	SHA256      string     `json:"sha256"`
	Size        int64      `json:"size"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by,omitempty"`
	CommittedAt *time.Time `json:"committed_at,omitempty"`
}

// ArtifactPush answers POST /v1/artifacts: PUT the bytes to Upload, then
// commit.
type ArtifactPush struct {
	Artifact Artifact  `json:"artifact"`
	Upload   Presigned `json:"upload"`
}

// ArtifactList is GET /v1/artifacts: committed artifacts by kind and name,
// newest first within a name.
type ArtifactList struct {
	Artifacts []Artifact `json:"artifacts"`
}

// AgentArtifact is an artifact an agent may fetch from Download.
type AgentArtifact struct {
	Artifact
	Download Presigned `json:"download"`
}

// AgentArtifactList is GET /v1/agent/artifacts: the newest committed
// artifact of each kind and name.
type AgentArtifactList struct {
	Artifacts []AgentArtifact `json:"artifacts"`
}

// PushArtifact starts a push.
func (c *Client) PushArtifact(ctx context.Context, req ArtifactRequest) (ArtifactPush, error) {
	var p ArtifactPush
	err := c.Do(ctx, http.MethodPost, PathArtifacts, req, &p, nil)
	return p, err
}

// CommitArtifact finishes a push once the bytes are uploaded.
func (c *Client) CommitArtifact(ctx context.Context, id string) (Artifact, error) {
	var a Artifact
	err := c.Do(ctx, http.MethodPost, PathArtifacts+"/"+url.PathEscape(id)+"/commit", nil, &a, nil)
	return a, err
}

// DeleteArtifact removes an artifact and its bytes.
func (c *Client) DeleteArtifact(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, PathArtifacts+"/"+url.PathEscape(id), nil, nil, nil)
}

// ListArtifacts lists committed artifacts.
func (c *Client) ListArtifacts(ctx context.Context) (ArtifactList, error) {
	var l ArtifactList
	err := c.Do(ctx, http.MethodGet, PathArtifacts, nil, &l, nil)
	return l, err
}

// AgentArtifacts lists what an agent may fetch (agent token).
func (c *Client) AgentArtifacts(ctx context.Context) (AgentArtifactList, error) {
	var l AgentArtifactList
	err := c.Do(ctx, http.MethodGet, PathAgentArtifacts, nil, &l, nil)
	return l, err
}

// PutPresigned uploads size bytes from body to a presigned URL (no API
// credential is sent: the URL is the credential).
func (c *Client) PutPresigned(ctx context.Context, p Presigned, body io.Reader, size int64) error {
	method := p.Method
	if method == "" {
		method = http.MethodPut
	}
	req, err := http.NewRequestWithContext(ctx, method, p.URL, body)
	if err != nil {
		return fmt.Errorf("build upload: %w", err)
	}
	req.ContentLength = size
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("upload %s: %w", p.Key, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("upload %s: HTTP %d", p.Key, resp.StatusCode)
	}
	return nil
}
