package runner_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/runner"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// oneLease is a fake control plane that leases one task and records how it
// ended; uploadsErr is what its uploads call answers.
type oneLease struct {
	lease      chan api.Lease
	uploadsErr error
	store      string
	ended      chan string // "complete", "fail" or "release"
	mu         sync.Mutex
	result     api.TaskResult
}

func (f *oneLease) Lease(ctx context.Context, req api.LeaseRequest) (api.LeaseResponse, error) {
	select {
	case l := <-f.lease:
		return api.LeaseResponse{Tasks: []api.Lease{l}}, nil
	case <-ctx.Done():
		return api.LeaseResponse{}, ctx.Err()
	}
}

func (f *oneLease) Heartbeat(context.Context, string, api.HeartbeatRequest) (api.HeartbeatResponse, error) {
	return api.HeartbeatResponse{Deadline: time.Now().Add(time.Hour)}, nil
}

func (f *oneLease) Uploads(_ context.Context, id string, req api.UploadsRequest) (api.UploadsResponse, error) {
	if f.uploadsErr != nil {
		return api.UploadsResponse{}, f.uploadsErr
	}
	var r api.UploadsResponse
	for i := range req.Count {
		key := fmt.Sprintf("%s/%d.wav", id, i)
		r.Uploads = append(r.Uploads, api.Presigned{Method: http.MethodPut, URL: f.store + "/" + key, Key: key})
	}
	return r, nil
}

func (f *oneLease) Complete(_ context.Context, _ string, req api.CompleteRequest) (api.CompleteResponse, error) {
	f.mu.Lock()
	f.result = req.Result
	f.mu.Unlock()
	f.ended <- "complete"
	return api.CompleteResponse{}, nil
}

func (f *oneLease) Fail(context.Context, string, api.FailRequest) error {
	f.ended <- "fail"
	return nil
}

func (f *oneLease) Release(context.Context, string, api.ReleaseRequest) error {
	f.ended <- "release"
	return nil
}

// TestChunkUploads: a prepare task's chunks are PUT through the URLs of the
// uploads call (a transient store error retried) and the task completes
// with them and no transcript; a refused uploads call drops the work
// silently. The chunk files are cleaned up either way.
func TestChunkUploads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		uploadsErr error
		want       string // how the task ends; "" when nothing is reported
	}{
		{"uploaded", nil, "complete"},
		{"stale lease", &api.StatusError{Status: http.StatusConflict, Err: api.Error{Code: api.CodeStaleLease}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			stored := map[string][]byte{}
			var puts atomic.Int32
			store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if puts.Add(1) == 1 {
					http.Error(w, "busy", http.StatusServiceUnavailable)
					return
				}
				if r.Method != http.MethodPut || r.Header.Get("Content-Type") != "audio/wav" {
					http.Error(w, "bad request", http.StatusBadRequest)
					return
				}
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				stored[strings.TrimPrefix(r.URL.Path, "/")] = b
				mu.Unlock()
			}))
			defer store.Close()

			dir := t.TempDir()
			var chunks []runner.ChunkFile
			for i, body := range []string{"RIFF first", "RIFF second chunk"} {
				path := filepath.Join(dir, fmt.Sprintf("chunk-%d.wav", i))
				if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
				chunks = append(chunks, runner.ChunkFile{Chunk: api.Chunk{Index: i, Start: float64(10 * i), End: float64(10 * (i + 1))}, Path: path})
			}
			cleaned := make(chan struct{})
			exec := execFunc(func(context.Context, api.Lease, func(string, float64)) (runner.Output, error) {
				return runner.Output{Result: api.Result{Duration: 20, Title: "talk"}, Chunks: chunks,
					Cleanup: func() { _ = os.RemoveAll(dir); close(cleaned) }}, nil
			})
			f := &oneLease{lease: make(chan api.Lease, 1), uploadsErr: tt.uploadsErr, store: store.URL, ended: make(chan string, 1)}
			f.lease <- api.Lease{TaskID: "p1", Kind: api.KindPrepare, Token: 3, Deadline: time.Now().Add(time.Hour)}
			r := runner.New(f, exec, cfg(), quiet())
			stop := start(t, r)
			select {
			case <-cleaned:
			case <-time.After(time.Minute):
				t.Fatal("chunk files never cleaned up")
			}
			_ = stop()
			var got string
			select {
			case got = <-f.ended:
			default:
			}
			if got != tt.want {
				t.Fatalf("task ended with %q, want %q", got, tt.want)
			}
			if tt.want != "complete" {
				return
			}
			res := f.result
			if res.Key != "" || res.Size != 0 || res.SHA256 != "" || res.Duration != 20 || len(res.Chunks) != 2 {
				t.Fatalf("result %+v", res)
			}
			for i, c := range res.Chunks {
				b := stored[c.Key]
				sum := sha256.Sum256(b)
				if c.Chunk != chunks[i].Chunk || c.Key != fmt.Sprintf("p1/%d.wav", i) || c.Size != int64(len(b)) || c.SHA256 != hex.EncodeToString(sum[:]) || len(b) == 0 {
					t.Errorf("chunk %d = %+v; stored %q", i, c, b)
				}
			}
		})
	}
}
