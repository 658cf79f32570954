package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/audio"
	"github.com/ytcaption/ytcaption/agent/internal/runner"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

// graphSpeech is about 30 s of speech with a pause after every sentence.
const graphSpeech = "The weather is nice today. We will go for a walk in the park. Please call me when you get home. " +
	"The children are playing in the garden. My brother bought a new car last week. " +
	"The train leaves the station at nine in the morning. She reads a book every night before going to sleep. " +
	"We had dinner at a small restaurant near the river. The library is closed on Sunday. " +
	"I like to drink coffee with milk in the morning. The dog ran across the street to find the ball. " +
	"They are building a new school in our town."

// plane is a fake control plane: it hands out the leases it is given, one
// at a time, and stores what is PUT to its object store. Only this HTTP
// side is fake; the agent's pipeline runs the real tools.
type plane struct {
	t      *testing.T
	store  *httptest.Server
	leases chan api.Lease
	done   chan outcome

	mu      sync.Mutex
	objects map[string]object
	uploads map[string]int // uploads calls per task
}

type object struct {
	body        []byte
	contentType string
}

// outcome is how a task ended: completed or failed.
type outcome struct {
	taskID string
	result *api.TaskResult
	fail   *api.FailRequest
}

func newPlane(t *testing.T) *plane {
	p := &plane{t: t, leases: make(chan api.Lease, 16), done: make(chan outcome, 16),
		objects: map[string]object{}, uploads: map[string]int{}}
	p.store = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/")
		p.mu.Lock()
		defer p.mu.Unlock()
		switch r.Method {
		case http.MethodPut:
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			p.objects[key] = object{body: body, contentType: r.Header.Get("Content-Type")}
		case http.MethodGet:
			o, ok := p.objects[key]
			if !ok {
				http.NotFound(w, r)
				return
			}
			_, _ = w.Write(o.body)
		default:
			http.Error(w, "method", http.StatusMethodNotAllowed)
		}
	}))
	t.Cleanup(p.store.Close)
	return p
}

func (p *plane) presigned(method, key string) api.Presigned {
	return api.Presigned{Method: method, URL: p.store.URL + "/" + key, Key: key, Expires: time.Now().Add(time.Hour)}
}

func (p *plane) object(key string) object {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.objects[key]
}

func (p *plane) uploadsOf(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.uploads[id]
}

func (p *plane) Lease(ctx context.Context, req api.LeaseRequest) (api.LeaseResponse, error) {
	t := time.NewTimer(time.Duration(req.WaitSeconds * float64(time.Second)))
	defer t.Stop()
	select {
	case l := <-p.leases:
		l.Deadline = time.Now().Add(time.Hour)
		return api.LeaseResponse{Tasks: []api.Lease{l}}, nil
	case <-ctx.Done():
		return api.LeaseResponse{}, ctx.Err()
	case <-t.C:
		return api.LeaseResponse{}, nil
	}
}

func (p *plane) Heartbeat(context.Context, string, api.HeartbeatRequest) (api.HeartbeatResponse, error) {
	return api.HeartbeatResponse{Deadline: time.Now().Add(time.Hour)}, nil
}

func (p *plane) Uploads(_ context.Context, id string, req api.UploadsRequest) (api.UploadsResponse, error) {
	p.mu.Lock()
	p.uploads[id]++
	p.mu.Unlock()
	var r api.UploadsResponse
	for i := range req.Count {
		r.Uploads = append(r.Uploads, p.presigned(http.MethodPut, fmt.Sprintf("chunks/%s/%d.wav", id, i)))
	}
	return r, nil
}

func (p *plane) Complete(_ context.Context, id string, req api.CompleteRequest) (api.CompleteResponse, error) {
	p.done <- outcome{taskID: id, result: &req.Result}
	return api.CompleteResponse{}, nil
}

func (p *plane) Fail(_ context.Context, id string, req api.FailRequest) error {
	p.done <- outcome{taskID: id, fail: &req}
	return nil
}

func (p *plane) Release(context.Context, string, api.ReleaseRequest) error { return nil }

// run hands l to the agent and waits for its outcome.
func (p *plane) run(t *testing.T, l api.Lease) outcome {
	t.Helper()
	l.Upload = p.presigned(http.MethodPut, "results/"+l.TaskID+".json")
	p.leases <- l
	select {
	case o := <-p.done:
		if o.taskID != l.TaskID {
			t.Fatalf("outcome of %s, want %s", o.taskID, l.TaskID)
		}
		return o
	case <-time.After(3 * time.Minute):
		t.Fatalf("task %s never finished", l.TaskID)
		return outcome{}
	}
}

// agent starts a worker with roles on p, leasing until the test ends.
func agent(t *testing.T, p *plane, roles []string) *Worker {
	t.Helper()
	work := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	w, err := New(context.Background(), Config{Server: "http://127.0.0.1:1", Token: "yta_test_secret", Engine: "pocketsphinx",
		WorkDir: work, Roles: roles}, log)
	if err != nil {
		t.Fatal(err)
	}
	r := runner.New(p, w, runner.Config{Slots: 1, Capabilities: w.caps, LeaseWait: 200 * time.Millisecond,
		HeartbeatInterval: time.Second, SpoolDir: filepath.Join(work, "spool")}, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = w.guard.Close()
		// Every task's files are gone once it ends, whatever its outcome.
		left, _ := filepath.Glob(filepath.Join(work, "task-*"))
		spool, _ := filepath.Glob(filepath.Join(work, "spool", "*"))
		if len(left)+len(spool) > 0 {
			t.Errorf("temporary files left: %v %v", left, spool)
		}
	})
	return w
}

// TestTaskGraph runs a job's whole graph through agents against a fake
// control plane: a prepare task splits the speech into chunks and PUTs them,
// a transcribe task per chunk and a merge make the transcript.
func TestTaskGraph(t *testing.T) {
	t.Parallel()
	p := newPlane(t)
	agent(t, p, nil)
	srcDir := t.TempDir()
	media.Copy(t, media.MP4(t, media.Speech(t, graphSpeech)), srcDir, "talk.mp4")
	src := media.Serve(t, srcDir) + "/talk.mp4"

	prep := p.run(t, api.Lease{TaskID: "t1", JobID: "j1", Kind: api.KindPrepare, Token: 7,
		Spec: api.TaskSpec{SourceURL: src, Filename: "talk.mp4", Language: "en", ChunkSeconds: 10}})
	if prep.fail != nil {
		t.Fatalf("prepare failed: %+v", prep.fail)
	}
	res := prep.result
	if res.Key != "" || res.Size != 0 || res.SHA256 != "" || res.Segments != 0 || len(res.Chunks) < 2 {
		t.Fatalf("prepare result %+v", res)
	}
	if res.Duration <= 0 || res.Title != "talk.mp4" {
		t.Errorf("prepare result %+v", res.Result)
	}
	if _, ok := res.Timings["split"]; !ok {
		t.Errorf("no split timing: %v", res.Timings)
	}
	if p.uploadsOf("t1") != 1 {
		t.Errorf("uploads calls %d", p.uploads["t1"])
	}

	// The PUT chunks are WAVs covering the audio in order, without gaps.
	prev := 0.0
	parts := make([]api.Part, len(res.Chunks))
	for i, c := range res.Chunks {
		o := p.object(c.Key)
		sum := sha256.Sum256(o.body)
		if c.Index != i || math.Abs(c.Start-prev) > 1e-9 || c.End <= c.Start || c.Size != int64(len(o.body)) ||
			c.SHA256 != hex.EncodeToString(sum[:]) || o.contentType != "audio/wav" {
			t.Fatalf("chunk %d = %+v after %g; stored %d bytes as %q", i, c, prev, len(o.body), o.contentType)
		}
		wav := filepath.Join(t.TempDir(), "c.wav")
		if err := os.WriteFile(wav, o.body, 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := audio.WAVDuration(wav)
		if err != nil || math.Abs(d-(c.End-c.Start)) > 1e-3 {
			t.Fatalf("chunk %d: WAV of %gs (%v) for span %g", i, d, err, c.End-c.Start)
		}
		prev = c.End
		parts[i] = api.Part{Chunk: c.Chunk, URL: p.store.URL + "/results/t1.c" + fmt.Sprint(i) + ".json"}
	}
	if math.Abs(prev-res.Duration) > 1e-3 {
		t.Errorf("chunks end at %g, media at %g", prev, res.Duration)
	}

	for i, c := range res.Chunks {
		chunk := c.Chunk
		id := fmt.Sprintf("t1.c%d", i)
		o := p.run(t, api.Lease{TaskID: id, JobID: "j1", Kind: api.KindTranscribe, Token: 8,
			Spec: api.TaskSpec{Language: "en", Chunk: &chunk, ChunkURL: p.store.URL + "/" + c.Key}})
		if o.fail != nil {
			t.Fatalf("%s failed: %+v", id, o.fail)
		}
		var tr api.Transcript
		if err := json.Unmarshal(p.object("results/"+id+".json").body, &tr); err != nil {
			t.Fatal(err)
		}
		if o.result.Key != "results/"+id+".json" || o.result.Duration != c.End || tr.Duration != c.End || o.result.Words == 0 {
			t.Errorf("%s: result %+v, transcript duration %g", id, o.result, tr.Duration)
		}
		for _, s := range tr.Segments {
			if s.Start < c.Start-0.05 || s.End > c.End+0.25 {
				t.Errorf("%s [%g, %g): segment at [%g, %g]", id, c.Start, c.End, s.Start, s.End)
			}
		}
	}

	m := p.run(t, api.Lease{TaskID: "t1.m", JobID: "j1", Kind: api.KindMerge, Token: 9, Spec: api.TaskSpec{Parts: parts}})
	if m.fail != nil {
		t.Fatalf("merge failed: %+v", m.fail)
	}
	var tr api.Transcript
	if err := json.Unmarshal(p.object("results/t1.m.json").body, &tr); err != nil {
		t.Fatal(err)
	}
	if wer := media.WER(graphSpeech, tr.Text); wer > 0.3 {
		t.Errorf("merged WER %.2f: %q", wer, tr.Text)
	}
	if math.Abs(tr.Duration-res.Duration) > 1e-3 || m.result.Segments != len(tr.Segments) || m.result.Origin != "asr" {
		t.Errorf("merge result %+v, duration %g", m.result, tr.Duration)
	}

	// A chunk that is gone fails its task for good, so the job is replanned.
	gone := p.run(t, api.Lease{TaskID: "t2.c0", JobID: "j2", Kind: api.KindTranscribe, Token: 1,
		Spec: api.TaskSpec{Chunk: &api.Chunk{End: 10}, ChunkURL: p.store.URL + "/chunks/none/0.wav"}})
	if gone.fail == nil || gone.fail.Retryable || gone.fail.Error.Code != api.CodeChunkMissing {
		t.Errorf("missing chunk: %+v", gone)
	}
}

// TestPrepareInPlace: a transcribing agent finishes short media in the
// prepare task itself, like a caption task; a prepare-only agent uploads
// one chunk instead.
func TestPrepareInPlace(t *testing.T) {
	t.Parallel()
	srcDir := t.TempDir()
	media.Copy(t, media.Speech(t, "The weather is nice today. We will go for a walk in the park."), srcDir, "short.wav")
	src := media.Serve(t, srcDir) + "/short.wav"
	spec := api.TaskSpec{SourceURL: src, Filename: "short.wav", Language: "en", ChunkSeconds: 30}

	both := newPlane(t)
	agent(t, both, []string{api.RolePrepare, api.RoleTranscribe})
	o := both.run(t, api.Lease{TaskID: "a", Kind: api.KindPrepare, Spec: spec})
	if o.fail != nil || o.result.Key != "results/a.json" || len(o.result.Chunks) != 0 || o.result.Words == 0 || both.uploadsOf("a") != 0 {
		t.Errorf("in place: %+v %+v", o.result, o.fail)
	}

	prep := newPlane(t)
	agent(t, prep, []string{api.RolePrepare})
	o = prep.run(t, api.Lease{TaskID: "b", Kind: api.KindPrepare, Spec: spec})
	if o.fail != nil || o.result.Key != "" || len(o.result.Chunks) != 1 || o.result.Chunks[0].Start != 0 ||
		math.Abs(o.result.Chunks[0].End-o.result.Duration) > 1e-9 {
		t.Errorf("prepare-only: %+v %+v", o.result, o.fail)
	}
}

func TestRolesDecideKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		roles []string
		kinds []string
	}{
		{nil, []string{api.KindCaption, api.KindPrepare, api.KindTranscribe, api.KindMerge}},
		{[]string{api.RolePrepare, api.RoleTranscribe}, []string{api.KindCaption, api.KindPrepare, api.KindTranscribe, api.KindMerge}},
		{[]string{api.RolePrepare}, []string{api.KindPrepare, api.KindMerge}},
		{[]string{api.RoleTranscribe}, []string{api.KindTranscribe, api.KindMerge}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.roles, ","), func(t *testing.T) {
			t.Parallel()
			w, err := New(context.Background(), Config{Server: "http://127.0.0.1:1", Token: "yta_test_secret", Engine: "pocketsphinx",
				WorkDir: t.TempDir(), Roles: tt.roles}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer w.guard.Close()
			if !slices.Equal(w.Capabilities().Kinds, tt.kinds) {
				t.Errorf("kinds %v, want %v", w.Capabilities().Kinds, tt.kinds)
			}
		})
	}
}
