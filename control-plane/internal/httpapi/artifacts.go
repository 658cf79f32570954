package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// artifactStore is what the artifact routes read and change.
type artifactStore interface {
	CreateArtifact(ctx context.Context, a store.Artifact) ([]store.Artifact, error)
	GetArtifact(ctx context.Context, id string) (store.Artifact, error)
	CommitArtifact(ctx context.Context, id string, now time.Time) (store.Artifact, error)
	DeleteArtifact(ctx context.Context, id string) (store.Artifact, error)
	ListArtifacts(ctx context.Context) ([]store.Artifact, error)
}

// MaxArtifactSize is the default largest artifact (Config.MaxArtifactBytes):
// S3's limit for one PUT.
const MaxArtifactSize int64 = 5 << 30

// artifactCommitTimeout bounds a commit, which reads the whole object back
// to hash it.
const artifactCommitTimeout = 30 * time.Minute

var (
	// Names and versions become blob key segments and file names in the
	// agents' caches: no slashes, no leading dot.
	artifactName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)
	artifactVersion = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)
	sha256Hex       = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// artifactKey is where an artifact's bytes go in the blob store.
func artifactKey(kind, name, version, sum string) string {
	return "artifacts/" + kind + "/" + name + "/" + version + "/" + sum
}

func toAPIArtifact(a store.Artifact) api.Artifact {
	out := api.Artifact{ID: a.ID, Name: a.Name, Kind: a.Kind, Version: a.Version, SHA256: a.SHA256, Size: a.Size,
		CreatedAt: a.CreatedAt, CreatedBy: a.CreatedBy}
	if !a.CommittedAt.IsZero() {
		t := a.CommittedAt
		out.CommittedAt = &t
	}
	return out
}

// pushArtifact starts a push: it records a pending artifact and hands out
// a presigned PUT URL, so the bytes never pass through the API server.
func (a *API) pushArtifact(c *fiber.Ctx) error {
	var req api.ArtifactRequest
	if err := a.decodeJSON(c, &req); err != nil {
		return err
	}
	switch {
	case req.Kind != api.ArtifactModel && req.Kind != api.ArtifactTool:
		return badRequest(`kind: must be "model" or "tool"`)
	case !artifactName.MatchString(req.Name):
		return badRequest("name: 1-128 letters, digits, '.', '_', '+' or '-', starting with a letter or digit")
	case !sha256Hex.MatchString(req.SHA256):
		return badRequest("sha256: must be 64 lowercase hex digits")
	case req.Size <= 0:
		return badRequest("size: must be at least 1 byte")
	case req.Size > a.cfg.MaxArtifactBytes:
		return errorf(http.StatusRequestEntityTooLarge, api.CodeTooLarge,
			"size: larger than the control plane's artifact limit of "+strconv.FormatInt(a.cfg.MaxArtifactBytes, 10)+" bytes (--max-artifact-bytes)")
	}
	if req.Version == "" {
		req.Version = req.SHA256[:12]
	}
	if !artifactVersion.MatchString(req.Version) {
		return badRequest("version: 1-64 letters, digits, '.', '_', '+' or '-', starting with a letter or digit")
	}
	key := artifactKey(req.Kind, req.Name, req.Version, req.SHA256)
	if err := blob.CheckKey(key); err != nil {
		return badRequest("name or version: " + err.Error())
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	art := store.Artifact{ID: "art_" + hex.EncodeToString(b), Kind: req.Kind, Name: req.Name, Version: req.Version,
		SHA256: req.SHA256, Size: req.Size, Key: key, CreatedAt: a.now().UTC(), CreatedBy: principal(c).KeyID}
	ctx := c.UserContext()
	replaced, err := a.artifacts.CreateArtifact(ctx, art)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errorf(http.StatusConflict, api.CodeConflict,
				fmt.Sprintf("%s %s version %s was already pushed; push another version or delete it first", art.Kind, art.Name, art.Version))
		}
		return err
	}
	for _, old := range replaced {
		// An earlier push of this version that never committed may have
		// uploaded bytes of another hash: nothing refers to them any more.
		// Under the same key they are overwritten by this push's upload.
		if old.Key == key {
			continue
		}
		if err := a.blobs.Delete(ctx, old.Key); err != nil && !errors.Is(err, blob.ErrNotFound) {
			// The push goes on: failing it would not bring the row back.
			a.log.Warn("replaced artifact upload not deleted; delete it by hand", "artifact", old.ID, "key", old.Key, "err", err)
		}
	}
	up, err := a.blobs.PresignPut(ctx, key, a.cfg.PresignTTL)
	if err != nil {
		return fmt.Errorf("presign artifact upload: %w", err)
	}
	auditTarget(c, art.ID)
	return c.Status(http.StatusCreated).JSON(api.ArtifactPush{Artifact: toAPIArtifact(art), Upload: up})
}

// commitArtifact hashes the uploaded object and makes the artifact
// visible; an object whose hash or size is not the declared one is deleted
// with its artifact.
func (a *API) commitArtifact(c *fiber.Ctx) error {
	ctx := c.UserContext()
	art, err := a.artifacts.GetArtifact(ctx, c.Params("id"))
	if err != nil {
		return err
	}
	if !art.CommittedAt.IsZero() {
		return c.JSON(toAPIArtifact(art))
	}
	sum, size, err := a.hashBlob(ctx, art.Key)
	if errors.Is(err, blob.ErrNotFound) {
		return errorf(http.StatusConflict, api.CodeConflict, "nothing was uploaded for this artifact; PUT its bytes to the upload URL first")
	}
	if err != nil {
		return fmt.Errorf("hash artifact %s: %w", art.ID, err)
	}
	if sum != art.SHA256 || size != art.Size {
		if err := a.blobs.Delete(ctx, art.Key); err != nil && !errors.Is(err, blob.ErrNotFound) {
			a.log.Warn("delete mismatched artifact upload", "artifact", art.ID, "key", art.Key, "err", err)
		}
		if _, err := a.artifacts.DeleteArtifact(ctx, art.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("delete mismatched artifact %s: %w", art.ID, err)
		}
		return errorf(http.StatusUnprocessableEntity, api.CodeArtifactHashMismatch,
			fmt.Sprintf("the upload has SHA-256 %s and %d bytes, not the declared %s and %d bytes; it was deleted, push again", sum, size, art.SHA256, art.Size))
	}
	art, err = a.artifacts.CommitArtifact(ctx, art.ID, a.now().UTC())
	if err != nil {
		return err
	}
	return c.JSON(toAPIArtifact(art))
}

// hashBlob streams an object from the blob store: its SHA-256 and size.
func (a *API) hashBlob(ctx context.Context, key string) (string, int64, error) {
	r, err := a.blobs.Get(ctx, key)
	if err != nil {
		return "", 0, err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func (a *API) deleteArtifact(c *fiber.Ctx) error {
	ctx := c.UserContext()
	art, err := a.artifacts.DeleteArtifact(ctx, c.Params("id"))
	if err != nil {
		return err
	}
	if err := a.blobs.Delete(ctx, art.Key); err != nil && !errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("delete artifact %s bytes: %w", art.ID, err)
	}
	return c.SendStatus(http.StatusNoContent)
}

func (a *API) listArtifacts(c *fiber.Ctx) error {
	as, err := a.artifacts.ListArtifacts(c.UserContext())
	if err != nil {
		return err
	}
	out := api.ArtifactList{Artifacts: make([]api.Artifact, 0, len(as))}
	for _, art := range as {
		out.Artifacts = append(out.Artifacts, toAPIArtifact(art))
	}
	return c.JSON(out)
}

// agentArtifacts lists the newest committed artifact of each kind and name
// with a presigned download URL.
func (a *API) agentArtifacts(c *fiber.Ctx) error {
	ctx := c.UserContext()
	as, err := a.artifacts.ListArtifacts(ctx)
	if err != nil {
		return err
	}
	out := api.AgentArtifactList{Artifacts: []api.AgentArtifact{}}
	seen := map[[2]string]bool{}
	for _, art := range as {
		k := [2]string{art.Kind, art.Name}
		if seen[k] {
			continue // listed newest first within a name
		}
		seen[k] = true
		dl, err := a.blobs.PresignGet(ctx, art.Key, a.cfg.PresignTTL)
		if err != nil {
			return fmt.Errorf("presign artifact %s: %w", art.ID, err)
		}
		out.Artifacts = append(out.Artifacts, api.AgentArtifact{Artifact: toAPIArtifact(art), Download: dl})
	}
	return c.JSON(out)
}
