package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
)

func floatp(f float64) *float64 { return &f }

// uploads calls POST /v1/agent/tasks/{id}/uploads.
func (a *simAgent) uploads(taskID string, req api.UploadsRequest) (api.UploadsResponse, error) {
	var out api.UploadsResponse
	err := a.c.Do(context.Background(), http.MethodPost, api.PathAgentTask+"/"+url.PathEscape(taskID)+"/uploads", req, &out, nil)
	return out, err
}

// putObject writes body through a presigned PUT.
func putObject(t *testing.T, p api.Presigned, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(p.Method, p.URL, bytes.NewReader(body))
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	req.ContentLength = int64(len(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("put %s: %v", p.Key, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("put %s: HTTP %d: %s", p.Key, resp.StatusCode, b)
	}
}

// getObject reads a presigned GET URL.
func getObject(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get: HTTP %d: %s", resp.StatusCode, b)
	}
	return b
}

// TestJobTasksRoute: a job's tasks in planning order, scoped to the
// caller's tenant; chunk_seconds in JSON and multipart requests.
func TestJobTasksRoute(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	key := func(tenant string) *api.Client {
		k, err := r.admin.CreateKey(ctx, api.KeyRequest{Tenant: tenant, Role: "submitter"})
		if err != nil {
			t.Fatal(err)
		}
		return api.NewClient(r.url, k.Secret, validatingClient())
	}
	acme, zeta := key("acme"), key("zeta")

	split, err := acme.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/long"}, "")
	if err != nil || split.ChunkSeconds != api.DefaultChunkSeconds || split.Chunks != nil {
		t.Fatalf("submit: %+v %v", split, err)
	}
	whole, err := acme.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/short", ChunkSeconds: floatp(0)}, "")
	if err != nil || whole.ChunkSeconds != 0 {
		t.Fatalf("submit unsplit: %+v %v", whole, err)
	}
	up, err := acme.UploadJob(ctx, api.JobRequest{}, "a.wav", bytes.NewReader([]byte("audio")), "")
	if err != nil || up.ChunkSeconds != api.DefaultChunkSeconds {
		t.Fatalf("upload: %+v %v", up, err)
	}
	body, ctype := multipartBody(t, map[string]string{"chunk_seconds": "45.5"}, "b.wav", []byte("audio"))
	status, eb, _ := rawDo(t, r, http.MethodPost, api.PathJobs, adminKey, ctype, body, nil)
	if status != http.StatusAccepted {
		t.Fatalf("multipart with chunk_seconds: %d %+v", status, eb)
	}

	for _, tt := range []struct {
		name string
		id   string
		kind string
	}{{"split", split.ID, api.KindPrepare}, {"whole", whole.ID, api.KindCaption}} {
		l, err := acme.JobTasks(ctx, tt.id)
		if err != nil {
			t.Fatalf("%s: tasks: %v", tt.name, err)
		}
		if len(l.Tasks) != 1 || l.Tasks[0].Kind != tt.kind || l.Tasks[0].Status != "queued" || l.Tasks[0].Chunk != nil {
			t.Fatalf("%s: tasks = %+v", tt.name, l.Tasks)
		}
	}
	_, err = zeta.JobTasks(ctx, split.ID)
	wantErr(t, err, http.StatusNotFound, api.CodeNotFound)
	_, err = acme.JobTasks(ctx, "no-such-job")
	wantErr(t, err, http.StatusNotFound, api.CodeNotFound)
	if l, err := r.admin.JobTasks(ctx, split.ID); err != nil || len(l.Tasks) != 1 {
		t.Fatalf("admin sees every tenant's tasks: %+v %v", l, err)
	}

	// chunk_seconds is validated in both request forms.
	for _, bad := range []float64{-1, 5, 3601} {
		_, err := acme.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/x", ChunkSeconds: floatp(bad)}, "")
		wantErr(t, err, http.StatusBadRequest, api.CodeInvalidRequest)
	}
	for _, bad := range []string{"5", "ten"} {
		body, ctype := multipartBody(t, map[string]string{"chunk_seconds": bad}, "c.wav", []byte("audio"))
		if status, eb, _ := rawDo(t, r, http.MethodPost, api.PathJobs, adminKey, ctype, body, nil); status != http.StatusBadRequest || eb.Error.Code != api.CodeInvalidRequest {
			t.Fatalf("multipart chunk_seconds=%s: %d %+v", bad, status, eb)
		}
	}
}

// TestChunkUploads: only the agent holding a prepare task, with its
// current token, gets presigned PUTs for its chunks, named by ChunkKey.
func TestChunkUploads(t *testing.T) {
	t.Parallel()
	r := startReplica(t, sqliteBackend().cfg(t))
	ctx := context.Background()
	holder := enrollAgent(t, r, "holder", api.Capabilities{})
	other := enrollAgent(t, r, "other", api.Capabilities{})

	j, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/long"}, "")
	if err != nil {
		t.Fatal(err)
	}
	l := holder.leaseOne(5 * time.Second)
	if l.Kind != api.KindPrepare || l.Spec.ChunkSeconds != api.DefaultChunkSeconds {
		t.Fatalf("lease: %+v", l)
	}
	tests := []struct {
		name   string
		ag     *simAgent
		task   string
		req    api.UploadsRequest
		status int
		code   string
	}{
		{"no chunks", holder, l.TaskID, api.UploadsRequest{Token: l.Token, Count: 0}, 400, api.CodeInvalidRequest},
		{"too many chunks", holder, l.TaskID, api.UploadsRequest{Token: l.Token, Count: api.MaxChunks + 1}, 400, api.CodeInvalidRequest},
		{"another agent", other, l.TaskID, api.UploadsRequest{Token: l.Token, Count: 2}, 409, api.CodeStaleLease},
		{"stale token", holder, l.TaskID, api.UploadsRequest{Token: l.Token - 1, Count: 2}, 409, api.CodeStaleLease},
		{"unknown task", holder, "no-such-task", api.UploadsRequest{Token: l.Token, Count: 2}, 404, api.CodeNotFound},
	}
	for _, tt := range tests {
		_, err := tt.ag.uploads(tt.task, tt.req)
		if s, c := apiErr(err); s != tt.status || c != tt.code {
			t.Errorf("%s: got %d %q (%v), want %d %q", tt.name, s, c, err, tt.status, tt.code)
		}
	}
	for _, n := range []int{1, 3, api.MaxChunks} {
		out, err := holder.uploads(l.TaskID, api.UploadsRequest{Token: l.Token, Count: n})
		if err != nil || len(out.Uploads) != n {
			t.Fatalf("uploads %d: %d URLs, %v", n, len(out.Uploads), err)
		}
		for i, u := range out.Uploads {
			if u.Method != http.MethodPut || u.URL == "" || u.Key != blob.ChunkKey(j.ID, l.TaskID, l.Token, i) {
				t.Fatalf("upload %d of %d: %+v", i, n, u)
			}
		}
	}

	// A task of another kind gets no chunk uploads.
	if _, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/short", ChunkSeconds: floatp(0)}, ""); err != nil {
		t.Fatal(err)
	}
	cl := other.leaseOne(5 * time.Second)
	if cl.Kind != api.KindCaption || cl.Spec.ChunkSeconds != 0 {
		t.Fatalf("caption lease: %+v", cl)
	}
	_, err = other.uploads(cl.TaskID, api.UploadsRequest{Token: cl.Token, Count: 2})
	wantErr(t, err, http.StatusBadRequest, api.CodeInvalidRequest)
}

// TestTaskGraph drives a split job through the protocol: prepare uploads
// its chunks and completes with them, each chunk is transcribed from its
// presigned URL, and merge gets every part in chunk order.
func TestTaskGraph(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			r := startReplica(t, b.cfg(t))
			ctx := context.Background()
			ag := enrollAgent(t, r, "graph", api.Capabilities{})
			j, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/long", ChunkSeconds: floatp(60)}, "")
			if err != nil {
				t.Fatal(err)
			}
			prep := ag.leaseOne(5 * time.Second)
			if prep.Kind != api.KindPrepare || prep.Spec.ChunkSeconds != 60 {
				t.Fatalf("prepare lease: %+v", prep)
			}
			spans := [][2]float64{{0, 61.5}, {61.5, 118}, {118, 150.25}}
			ups, err := ag.uploads(prep.TaskID, api.UploadsRequest{Token: prep.Token, Count: len(spans)})
			if err != nil {
				t.Fatal(err)
			}
			chunks := make([]api.PreparedChunk, len(spans))
			for i, s := range spans {
				wav := []byte(fmt.Sprintf("RIFF chunk %d", i))
				putObject(t, ups.Uploads[i], wav)
				sum := sha256.Sum256(wav)
				chunks[i] = api.PreparedChunk{Chunk: api.Chunk{Index: i, Start: s[0], End: s[1]},
					Key: ups.Uploads[i].Key, Size: int64(len(wav)), SHA256: hex.EncodeToString(sum[:])}
			}

			// The chunks must be the objects named for this lease.
			bad := append([]api.PreparedChunk(nil), chunks...)
			bad[1].Key = blob.ChunkKey(j.ID, prep.TaskID, prep.Token-1, 1)
			_, err = ag.c.Complete(ctx, prep.TaskID, api.CompleteRequest{Token: prep.Token, Result: api.TaskResult{Chunks: bad}})
			wantErr(t, err, http.StatusBadRequest, api.CodeInvalidRequest)
			_, err = ag.c.Complete(ctx, prep.TaskID, api.CompleteRequest{Token: prep.Token,
				Result: api.TaskResult{Key: prep.Upload.Key, Chunks: chunks}})
			wantErr(t, err, http.StatusBadRequest, api.CodeInvalidRequest)
			if _, err := ag.c.Complete(ctx, prep.TaskID, api.CompleteRequest{Token: prep.Token,
				Result: api.TaskResult{Result: api.Result{Title: "Long talk"}, Chunks: chunks}}); err != nil {
				t.Fatalf("complete prepare with chunks: %v", err)
			}
			got, err := r.admin.GetJob(ctx, j.ID)
			if err != nil || got.Chunks == nil || *got.Chunks != (api.ChunkSummary{Total: 3, Done: 0}) {
				t.Fatalf("job after prepare: %+v %v", got, err)
			}
			tl, err := r.admin.JobTasks(ctx, j.ID)
			if err != nil || len(tl.Tasks) != 5 {
				t.Fatalf("tasks after prepare: %+v %v", tl, err)
			}
			for i, want := range []string{api.KindPrepare, api.KindTranscribe, api.KindTranscribe, api.KindTranscribe, api.KindMerge} {
				if tl.Tasks[i].Kind != want {
					t.Fatalf("task %d is %s, want %s: %+v", i, tl.Tasks[i].Kind, want, tl.Tasks)
				}
			}
			if tl.Tasks[0].Status != "succeeded" || tl.Tasks[0].AgentID != ag.id || tl.Tasks[4].Status != "waiting" ||
				tl.Tasks[2].Chunk == nil || *tl.Tasks[2].Chunk != (api.Chunk{Index: 1, Start: 61.5, End: 118}) {
				t.Fatalf("tasks after prepare: %+v", tl.Tasks)
			}

			// Each chunk is leased with its span and audio; its transcript
			// is shifted to the whole media's clock.
			for range spans {
				l := ag.leaseOne(5 * time.Second)
				if l.Kind != api.KindTranscribe || l.Spec.Chunk == nil || l.Spec.ChunkURL == "" || l.Spec.Parts != nil {
					t.Fatalf("transcribe lease: %+v", l)
				}
				c := *l.Spec.Chunk
				if want := fmt.Sprintf("RIFF chunk %d", c.Index); string(getObject(t, l.Spec.ChunkURL)) != want {
					t.Fatalf("chunk %d audio is not what prepare uploaded", c.Index)
				}
				tr := api.Transcript{Language: "en", Duration: c.End, Text: fmt.Sprintf("part %d", c.Index),
					Segments: []api.Segment{{Start: c.Start, End: c.End, Text: fmt.Sprintf("part %d", c.Index)}},
					Engine:   api.EngineInfo{Name: "test", Origin: "asr"}}
				res := ag.upload(l, tr)
				if _, err := ag.c.Complete(ctx, l.TaskID, api.CompleteRequest{Token: l.Token, Result: res}); err != nil {
					t.Fatalf("complete chunk %d: %v", c.Index, err)
				}
			}

			m := ag.leaseOne(5 * time.Second)
			if m.Kind != api.KindMerge || len(m.Spec.Parts) != len(spans) {
				t.Fatalf("merge lease: %+v", m)
			}
			for i, p := range m.Spec.Parts {
				if p.Index != i || p.Start != spans[i][0] || p.End != spans[i][1] {
					t.Fatalf("part %d: %+v", i, p.Chunk)
				}
				var tr api.Transcript
				if err := json.Unmarshal(getObject(t, p.URL), &tr); err != nil || tr.Text != fmt.Sprintf("part %d", i) {
					t.Fatalf("part %d transcript: %+v %v", i, tr, err)
				}
			}
			if err := ag.complete(m); err != nil {
				t.Fatalf("complete merge: %v", err)
			}
			done := waitStatus(t, r.admin, j.ID, api.JobSucceeded)
			if done.Chunks == nil || *done.Chunks != (api.ChunkSummary{Total: 3, Done: 3}) || done.Result == nil || done.Result.Title != "Long talk" {
				t.Fatalf("finished job: %+v", done)
			}
			// The event stream carries the same snapshot.
			final, err := r.admin.Events(ctx, j.ID, func(api.Job) {})
			if err != nil || final.ChunkSeconds != 60 || final.Chunks == nil || *final.Chunks != *done.Chunks {
				t.Fatalf("final event: %+v %v", final, err)
			}
			var buf bytes.Buffer
			if err := r.admin.Captions(ctx, j.ID, api.CaptionOptions{Format: "json"}, &buf); err != nil {
				t.Fatalf("captions: %v", err)
			}
		})
	}
}

// TestGraphWakeUps: the chunks a prepare task's completion queues, and the
// merge the last chunk's completion queues, reach agents already waiting in
// a long-poll. The replica's own look for ready work and its sweeper (which
// wakes agents when queued work comes due) run once an hour, so within the
// wait only the completion's wake-up can deliver them.
func TestGraphWakeUps(t *testing.T) {
	t.Parallel()
	cfg := sqliteBackend().cfg(t)
	cfg.ReadyPoll, cfg.ReadyFallbackPoll, cfg.SweepInterval = time.Hour, time.Hour, time.Hour
	r := startReplica(t, cfg)
	ctx := context.Background()
	preparer := enrollAgent(t, r, "preparer", api.Capabilities{Kinds: api.KindsForRoles([]string{api.RolePrepare})})
	gpu := enrollAgent(t, r, "gpu", api.Capabilities{Kinds: []string{api.KindTranscribe}})
	if _, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/lecture", ChunkSeconds: floatp(60)}, ""); err != nil {
		t.Fatal(err)
	}
	prep := preparer.leaseOne(5 * time.Second)
	if prep.Kind != api.KindPrepare {
		t.Fatalf("leased %s, want prepare", prep.Kind)
	}

	// waitingLease starts a 25 s long-poll and returns once the agent waits.
	waitingLease := func(a *simAgent) <-chan []api.Lease {
		got := make(chan []api.Lease, 1)
		before := r.srv.Waiting()
		go func() { got <- a.lease(25 * time.Second) }()
		waitFor(t, func() bool { return r.srv.Waiting() > before })
		return got
	}
	chunkWait := waitingLease(gpu)
	ups, err := preparer.uploads(prep.TaskID, api.UploadsRequest{Token: prep.Token, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	chunks := []api.PreparedChunk{
		{Chunk: api.Chunk{Index: 0, Start: 0, End: 70}, Key: ups.Uploads[0].Key},
		{Chunk: api.Chunk{Index: 1, Start: 70, End: 130}, Key: ups.Uploads[1].Key},
	}
	for i := range chunks {
		putObject(t, ups.Uploads[i], []byte("RIFF"))
	}
	if _, err := preparer.c.Complete(ctx, prep.TaskID, api.CompleteRequest{Token: prep.Token,
		Result: api.TaskResult{Result: api.Result{Duration: 130}, Chunks: chunks}}); err != nil {
		t.Fatal(err)
	}
	first := <-chunkWait
	if len(first) != 1 || first[0].Kind != api.KindTranscribe {
		t.Fatalf("waiting agent got %+v after prepare completed, want a chunk", first)
	}
	second := gpu.leaseOne(5 * time.Second)

	mergeWait := waitingLease(preparer)
	for _, l := range []api.Lease{first[0], second} {
		if err := gpu.complete(l); err != nil {
			t.Fatal(err)
		}
	}
	merge := <-mergeWait
	if len(merge) != 1 || merge[0].Kind != api.KindMerge || len(merge[0].Spec.Parts) != 2 {
		t.Fatalf("waiting agent got %+v after the last chunk, want the merge with 2 parts", merge)
	}
}
