package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// graphStore serves a job's tasks; the rest of the protocol is not used
// by leaseFor.
type graphStore struct {
	protocolStore
	tasks []job.Task
}

func (g graphStore) JobTasks(_ context.Context, jobID string) ([]job.Task, error) {
	var out []job.Task
	for _, t := range g.tasks {
		if t.JobID == jobID {
			out = append(out, t)
		}
	}
	return out, nil
}

func testBlobs(t *testing.T) *blob.Local {
	t.Helper()
	l, err := blob.NewLocal(t.TempDir(), []byte("0123456789abcdef0123456789abcdef"), "http://cp.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// presignedKey is the object a local presigned URL names.
func presignedKey(t *testing.T, u string) string {
	t.Helper()
	_, key, ok := strings.Cut(strings.SplitN(u, "?", 2)[0], "/v1/blobs/")
	if !ok {
		t.Fatalf("presigned URL %q is not a local blob URL", u)
	}
	return key
}

func TestLeaseFor(t *testing.T) {
	t.Parallel()
	j := job.Job{ID: "j1", Tenant: "t", Spec: job.Spec{URL: "https://example.com/v", Language: "en",
		Task: api.TaskTranscribe, Captions: api.CaptionsPreferExisting, ChunkSeconds: 90}}
	prep := job.Task{ID: "p", JobID: "j1", Kind: job.KindPrepare, State: job.TaskSucceeded, Token: 2, Attempt: 1}
	chunk := func(i int, start, end float64) job.Task {
		id := "p.2.c" + string(rune('0'+i))
		return job.Task{ID: id, JobID: "j1", Kind: job.KindTranscribe, State: job.TaskSucceeded, Attempt: 1,
			Parents: []string{"p"}, Chunk: &job.Chunk{Index: i, Start: start, End: end, Key: blob.ChunkKey("j1", "p", 2, i)},
			Result: &api.TaskResult{Key: blob.ResultKey("j1", id, 1)}}
	}
	// Stored out of chunk order: parts must come back in chunk order.
	c0, c1, c2 := chunk(0, 0, 95.5), chunk(1, 95.5, 180), chunk(2, 180, 200)
	merge := job.Task{ID: "p.2.m", JobID: "j1", Kind: job.KindMerge, State: job.TaskLeased, Token: 1, Attempt: 1,
		Parents: []string{c0.ID, c1.ID, c2.ID}}
	other := chunk(0, 0, 10)
	other.JobID = "j2"
	tasks := []job.Task{prep, c2, c0, c1, merge, other}

	tests := []struct {
		name  string
		task  job.Task
		check func(t *testing.T, l api.Lease)
	}{
		{"prepare", prep, func(t *testing.T, l api.Lease) {
			if l.Spec.ChunkSeconds != 90 || l.Spec.Chunk != nil || l.Spec.Parts != nil || l.Spec.URL != j.Spec.URL {
				t.Errorf("spec = %+v", l.Spec)
			}
		}},
		{"transcribe", c1, func(t *testing.T, l api.Lease) {
			if l.Spec.Chunk == nil || *l.Spec.Chunk != (api.Chunk{Index: 1, Start: 95.5, End: 180}) {
				t.Errorf("chunk = %+v", l.Spec.Chunk)
			}
			if got := presignedKey(t, l.Spec.ChunkURL); got != blob.ChunkKey("j1", "p", 2, 1) {
				t.Errorf("chunk URL names %q", got)
			}
			if l.Spec.ChunkSeconds != 0 || l.Spec.Parts != nil {
				t.Errorf("spec = %+v", l.Spec)
			}
		}},
		{"merge", merge, func(t *testing.T, l api.Lease) {
			if len(l.Spec.Parts) != 3 {
				t.Fatalf("parts = %+v", l.Spec.Parts)
			}
			for i, want := range []job.Task{c0, c1, c2} {
				p := l.Spec.Parts[i]
				if p.Chunk != (api.Chunk{Index: want.Chunk.Index, Start: want.Chunk.Start, End: want.Chunk.End}) {
					t.Errorf("part %d = %+v", i, p.Chunk)
				}
				if got := presignedKey(t, p.URL); got != want.Result.Key {
					t.Errorf("part %d URL names %q, want %q", i, got, want.Result.Key)
				}
			}
		}},
	}
	a := &API{cfg: Config{PresignTTL: time.Hour, MaxDuration: time.Hour}, protocol: graphStore{tasks: tasks}, blobs: testBlobs(t)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := a.leaseFor(context.Background(), store.Leased{Task: tt.task, Job: j})
			if err != nil {
				t.Fatal(err)
			}
			if l.Kind != tt.task.Kind || l.Upload.Method != http.MethodPut ||
				l.Upload.Key != blob.ResultKey("j1", tt.task.ID, tt.task.Attempt) {
				t.Errorf("lease = %+v", l)
			}
			tt.check(t, l)
		})
	}

	t.Run("merge with a parent missing", func(t *testing.T) {
		a := &API{cfg: a.cfg, protocol: graphStore{tasks: slices.DeleteFunc(slices.Clone(tasks),
			func(t job.Task) bool { return t.ID == c1.ID })}, blobs: a.blobs}
		if _, err := a.leaseFor(context.Background(), store.Leased{Task: merge, Job: j}); err == nil {
			t.Error("leased a merge whose parts are not all there")
		}
	})
}

func TestCheckResult(t *testing.T) {
	t.Parallel()
	prep := job.Task{ID: "p", JobID: "j", Kind: job.KindPrepare, State: job.TaskLeased, Token: 3, Attempt: 2}
	tr := job.Task{ID: "p.3.c0", JobID: "j", Kind: job.KindTranscribe, State: job.TaskLeased, Token: 1, Attempt: 1}
	chunks := func(keys ...string) []api.PreparedChunk {
		out := make([]api.PreparedChunk, len(keys))
		for i, k := range keys {
			out[i] = api.PreparedChunk{Chunk: api.Chunk{Index: i, Start: float64(i), End: float64(i + 1)}, Key: k}
		}
		return out
	}
	k := func(i int) string { return blob.ChunkKey("j", "p", 3, i) }
	tests := []struct {
		name string
		task job.Task
		res  api.TaskResult
		ok   bool
	}{
		{"transcript", prep, api.TaskResult{Key: blob.ResultKey("j", "p", 2)}, true},
		{"transcript of another attempt", prep, api.TaskResult{Key: blob.ResultKey("j", "p", 1)}, false},
		{"transcribe transcript", tr, api.TaskResult{Key: blob.ResultKey("j", tr.ID, 1)}, true},
		{"chunks", prep, api.TaskResult{Chunks: chunks(k(0), k(1))}, true},
		{"chunks of an earlier lease", prep, api.TaskResult{Chunks: chunks(k(0), blob.ChunkKey("j", "p", 2, 1))}, false},
		{"chunks out of place", prep, api.TaskResult{Chunks: chunks(k(1), k(0))}, false},
		{"chunk of another job", prep, api.TaskResult{Chunks: chunks(blob.ChunkKey("j2", "p", 3, 0))}, false},
		{"chunks with a transcript", prep, api.TaskResult{Key: blob.ResultKey("j", "p", 2), Chunks: chunks(k(0))}, false},
		{"chunks from transcribe", tr, api.TaskResult{Chunks: chunks(blob.ChunkKey("j", tr.ID, 1, 0))}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkResult(tt.task, tt.res)
			if (err == nil) != tt.ok {
				t.Fatalf("checkResult = %v, want ok=%v", err, tt.ok)
			}
			var he *httpError
			if err != nil && (!errors.As(err, &he) || he.status != http.StatusBadRequest) {
				t.Errorf("error %v is not a 400", err)
			}
		})
	}
}
