package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
	"github.com/ytcaption/ytcaption/control-plane/server"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// pushArtifact pushes data as an operator's CLI does, but uploads body
// (data itself unless a test corrupts it); it returns the commit's answer.
func pushArtifact(t *testing.T, r *replica, req api.ArtifactRequest, body []byte) (api.Artifact, error) {
	t.Helper()
	ctx := context.Background()
	p, err := r.admin.PushArtifact(ctx, req)
	if err != nil {
		t.Fatalf("push %s: %v", req.Name, err)
	}
	if p.Artifact.CommittedAt != nil || p.Upload.Key == "" {
		t.Fatalf("push answered %+v", p)
	}
	// Presigned URLs are not API routes: upload without the validating client.
	if err := api.NewClient(r.url, "", nil).PutPresigned(ctx, p.Upload, bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatalf("upload %s: %v", req.Name, err)
	}
	return r.admin.CommitArtifact(ctx, p.Artifact.ID)
}

// TestArtifactPush: on both blob backends an artifact pushed, uploaded
// through its presigned URL and committed is listed and fetched by agents
// byte for byte; an upload whose bytes are not the declared ones is refused
// with artifact_hash_mismatch and never listed; agents see only the newest
// version of a name; a deleted artifact is gone; each step is audited.
func TestArtifactPush(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			r := startReplica(t, b.cfg(t))
			ctx := context.Background()
			data := bytes.Repeat([]byte("ggml model bytes "), 20000)
			req := api.ArtifactRequest{Name: "ggml-base.en.bin", Kind: api.ArtifactModel, Version: "v1", SHA256: sha256Hex(data), Size: int64(len(data))}
			v1, err := pushArtifact(t, r, req, data)
			if err != nil || v1.CommittedAt == nil || v1.SHA256 != req.SHA256 || v1.Version != "v1" {
				t.Fatalf("commit = %+v, %v", v1, err)
			}
			if again, err := r.admin.CommitArtifact(ctx, v1.ID); err != nil || !again.CommittedAt.Equal(*v1.CommittedAt) {
				t.Fatalf("second commit = %+v, %v", again, err)
			}
			if _, err := r.admin.PushArtifact(ctx, req); !isStatus(err, http.StatusConflict, api.CodeConflict) {
				t.Fatalf("same version pushed again: %v, want 409", err)
			}

			// Corrupted: the declared hash is data's, the bytes are not.
			bad := req
			bad.Name = "corrupt.bin"
			_, err = pushArtifact(t, r, bad, bytes.ToUpper(data))
			if !isStatus(err, http.StatusUnprocessableEntity, api.CodeArtifactHashMismatch) {
				t.Fatalf("corrupted upload committed: %v, want 422 %s", err, api.CodeArtifactHashMismatch)
			}
			// The refused upload was deleted: pushing the name again and
			// committing without uploading finds nothing.
			p, err := r.admin.PushArtifact(ctx, bad)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.admin.CommitArtifact(ctx, p.Artifact.ID); !isStatus(err, http.StatusConflict, api.CodeConflict) {
				t.Fatalf("commit with nothing uploaded: %v, want 409", err)
			}

			data2 := append(bytes.Clone(data), "v2"...)
			req2 := req
			req2.Version, req2.SHA256, req2.Size = "", sha256Hex(data2), int64(len(data2))
			v2, err := pushArtifact(t, r, req2, data2)
			if err != nil || v2.Version != req2.SHA256[:12] {
				t.Fatalf("commit v2 = %+v, %v; want the hash prefix as version", v2, err)
			}
			tool := []byte("#!/bin/sh\necho 2030.01.01\n")
			tl, err := pushArtifact(t, r, api.ArtifactRequest{Name: "yt-dlp", Kind: api.ArtifactTool, Version: "2030.01.01", SHA256: sha256Hex(tool), Size: int64(len(tool))}, tool)
			if err != nil {
				t.Fatal(err)
			}

			l, err := r.admin.ListArtifacts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := artifactIDs(l.Artifacts), []string{v2.ID, v1.ID, tl.ID}; !slices.Equal(got, want) {
				t.Fatalf("list = %v, want %v (no pending or refused ones)", got, want)
			}

			ag := enrollAgent(t, r, "fetcher", api.Capabilities{})
			al, err := ag.c.AgentArtifacts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range al.Artifacts {
				got = append(got, a.ID)
			}
			if want := []string{v2.ID, tl.ID}; !slices.Equal(got, want) {
				t.Fatalf("agent list = %v, want the newest of each name %v", got, want)
			}
			if b, _ := fetch(t, al.Artifacts[0].Download.URL); !bytes.Equal(b, data2) {
				t.Fatalf("fetched %d bytes, not the pushed ones", len(b))
			}

			if err := r.admin.DeleteArtifact(ctx, v2.ID); err != nil {
				t.Fatal(err)
			}
			if err := r.admin.DeleteArtifact(ctx, v2.ID); !isStatus(err, http.StatusNotFound, api.CodeNotFound) {
				t.Fatalf("second delete: %v, want 404", err)
			}
			al, err = ag.c.AgentArtifacts(ctx)
			if err != nil || len(al.Artifacts) != 2 || al.Artifacts[0].ID != v1.ID {
				t.Fatalf("agent list after deleting v2 = %+v, %v; want v1 back", al, err)
			}

			au, err := r.admin.Audit(ctx, api.AuditQuery{Action: "artifacts"})
			if err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for _, e := range au.Entries {
				count[e.Action+" "+http.StatusText(e.Status)]++
			}
			want := map[string]int{"artifacts.push Created": 5, "artifacts.push Conflict": 1, "artifacts.commit OK": 4,
				"artifacts.commit Unprocessable Entity": 1, "artifacts.commit Conflict": 1,
				"artifacts.delete No Content": 1, "artifacts.delete Not Found": 1}
			for k, n := range want {
				if count[k] != n {
					t.Errorf("audit: %d × %s, want %d (all: %v)", count[k], k, n, count)
				}
			}
		})
	}
}

func artifactIDs(as []api.Artifact) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

func isStatus(err error, status int, code string) bool {
	var se *api.StatusError
	return errors.As(err, &se) && se.Status == status && se.Err.Code == code
}

// blobExists reports whether the blob store cfg configures holds key.
func blobExists(t *testing.T, cfg server.Config, key string) bool {
	t.Helper()
	if cfg.S3.Endpoint == "" {
		_, err := os.Stat(filepath.Join(cfg.DataDir, "blobs", filepath.FromSlash(key)))
		return err == nil
	}
	ctx := context.Background()
	s3, err := blob.NewS3(ctx, blob.S3Config{Endpoint: cfg.S3.Endpoint, Bucket: cfg.S3.Bucket,
		AccessKey: cfg.S3.AccessKey, SecretKey: cfg.S3.SecretKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s3.Get(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Close()
	return true
}

// TestArtifactRepushLeavesNoOrphan: pushing a version again before the
// first push committed (the operator fixed the file) deletes the first
// push's uploaded bytes, on both blob backends; the second push commits.
func TestArtifactRepushLeavesNoOrphan(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			cfg := b.cfg(t)
			cfg.DataDir = t.TempDir()
			r := startReplica(t, cfg)
			ctx := context.Background()
			first := []byte("a truncated model")
			p1, err := r.admin.PushArtifact(ctx, api.ArtifactRequest{Name: "ggml-tiny.bin", Kind: api.ArtifactModel, Version: "v1",
				SHA256: sha256Hex(first), Size: int64(len(first))})
			if err != nil {
				t.Fatal(err)
			}
			if err := api.NewClient(r.url, "", nil).PutPresigned(ctx, p1.Upload, bytes.NewReader(first), int64(len(first))); err != nil {
				t.Fatal(err)
			}
			if !blobExists(t, cfg, p1.Upload.Key) {
				t.Fatalf("the first upload is not under %s", p1.Upload.Key)
			}
			second := []byte("the whole model, fixed")
			v1, err := pushArtifact(t, r, api.ArtifactRequest{Name: "ggml-tiny.bin", Kind: api.ArtifactModel, Version: "v1",
				SHA256: sha256Hex(second), Size: int64(len(second))}, second)
			if err != nil || v1.SHA256 != sha256Hex(second) {
				t.Fatalf("second push: %+v, %v", v1, err)
			}
			if blobExists(t, cfg, p1.Upload.Key) {
				t.Fatalf("the replaced push's upload %s was left in the blob store", p1.Upload.Key)
			}
		})
	}
}

// TestLargeArtifactLocalStore: on the local blob store an artifact larger
// than the API's body limit uploads (streamed to disk: the API would refuse
// such a body) and reaches agents intact; the artifact limit, not the
// upload limit, bounds a push. The limits are lowered so the test moves
// megabytes, not gigabytes.
func TestLargeArtifactLocalStore(t *testing.T) {
	t.Parallel()
	cfg := sqliteBackend().cfg(t)
	cfg.MaxUploadBytes = 1 << 20   // API bodies: at most 2 MiB
	cfg.MaxArtifactBytes = 4 << 20 // artifacts: at most 4 MiB
	r := startReplica(t, cfg)
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16) // 3 MiB
	req := api.ArtifactRequest{Name: "ggml-medium.bin", Kind: api.ArtifactModel, Version: "v1", SHA256: sha256Hex(data), Size: int64(len(data))}
	a, err := pushArtifact(t, r, req, data)
	if err != nil || a.CommittedAt == nil {
		t.Fatalf("a %d-byte artifact over a 2 MiB API body limit: %+v, %v", len(data), a, err)
	}
	al, err := enrollAgent(t, r, "fetcher", api.Capabilities{}).c.AgentArtifacts(ctx)
	if err != nil || len(al.Artifacts) != 1 {
		t.Fatalf("agent list = %+v, %v", al, err)
	}
	if b, _ := fetch(t, al.Artifacts[0].Download.URL); !bytes.Equal(b, data) {
		t.Fatalf("fetched %d bytes, not the pushed ones", len(b))
	}

	// Other routes keep the API's limit: a 3 MiB job upload is refused.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "big.wav")
	_, _ = fw.Write(data)
	_ = mw.Close()
	hreq, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.url+api.PathJobs, &form)
	hreq.Header.Set("Authorization", "Bearer "+adminKey)
	hreq.Header.Set("Content-Type", mw.FormDataContentType())
	// The server answers 413 and closes the connection without reading the
	// rest of the body, so the client may see the reset before the answer:
	// either is a refusal; an accepted upload would read to the end.
	resp, err := http.DefaultClient.Do(hreq)
	switch {
	case err != nil && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)):
	case err != nil:
		t.Fatal(err)
	default:
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("a job upload over the API body limit: HTTP %d, want 413", resp.StatusCode)
		}
	}

	over := req
	over.Name, over.Size = "ggml-large.bin", 4<<20+1
	if _, err := r.admin.PushArtifact(ctx, over); !isStatus(err, http.StatusRequestEntityTooLarge, api.CodeTooLarge) {
		t.Fatalf("push over the artifact limit: %v, want 413 %s", err, api.CodeTooLarge)
	}
}

// TestLocalBlobPutStreams: the local blob store writes an upload to disk
// while it arrives. The client sends half the body and waits until bytes
// show up in the store's temporary directory before sending the rest; a
// server that read the whole body into memory first never gets there.
func TestLocalBlobPutStreams(t *testing.T) {
	t.Parallel()
	cfg := sqliteBackend().cfg(t)
	cfg.DataDir = t.TempDir()
	r := startReplica(t, cfg)
	ctx := context.Background()
	data := bytes.Repeat([]byte("streamed "), 2<<20/9)
	p, err := r.admin.PushArtifact(ctx, api.ArtifactRequest{Name: "ggml-stream.bin", Kind: api.ArtifactModel, Version: "v1",
		SHA256: sha256Hex(data), Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(cfg.DataDir, "blobs", ".tmp")
	onDisk := func() int64 {
		var n int64
		es, _ := os.ReadDir(tmp)
		for _, e := range es {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	pr, pw := io.Pipe()
	sent := make(chan error, 1)
	go func() {
		half := len(data) / 2
		if _, err := pw.Write(data[:half]); err != nil {
			sent <- err
			return
		}
		deadline := time.Now().Add(time.Minute)
		for onDisk() == 0 {
			if time.Now().After(deadline) {
				pw.CloseWithError(errors.New("no byte reached the disk before the body was complete"))
				sent <- errors.New("no byte reached the disk before the body was complete")
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		_, err := pw.Write(data[half:])
		sent <- errors.Join(err, pw.Close())
	}()
	req, err := http.NewRequestWithContext(ctx, p.Upload.Method, p.Upload.URL, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("upload: %v (client: %v)", err, <-sent)
	}
	_ = resp.Body.Close()
	if err := <-sent; err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: HTTP %d, client %v", resp.StatusCode, err)
	}
	if a, err := r.admin.CommitArtifact(ctx, p.Artifact.ID); err != nil || a.CommittedAt == nil {
		t.Fatalf("commit: %+v, %v", a, err)
	}
}
