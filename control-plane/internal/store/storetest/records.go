package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// SetColumn writes text verbatim into one JSON column of the rows of table
// whose keyColumn equals key, bypassing the store's encoding: the test lays
// down rows exactly as an earlier version wrote them.
type SetColumn func(ctx context.Context, table, column, keyColumn, key, text string) error

// StoredRows checks that rows written when the JSON columns held the wire
// and domain types themselves (the texts below, as that code encoded them)
// read back unchanged through s.
func StoredRows(t *testing.T, s store.Store, set SetColumn) {
	ctx := context.Background()
	at := epoch()
	j, tasks := build(at, spec{})
	_, _, err := s.CreateJob(ctx, j, tasks, store.JobMeta{CacheKey: "k1"})
	noErr(t, "CreateJob", err)
	tk := leaseOne(t, s, at, tasks[0].ID)
	// Rows from before task graphs: no parents ([]), no chunk, no start.
	if gt := getTask(t, s, tk.ID); gt.Parents != nil || gt.Chunk != nil || !gt.StartedAt.Equal(at) {
		t.Errorf("leased task read back with parents %v chunk %+v started %v, want none, none, %v", gt.Parents, gt.Chunk, gt.StartedAt, at)
	}
	_, err = s.CompleteTask(ctx, store.Completion{TaskID: tk.ID, Token: tk.Token, Result: api.TaskResult{Key: "k"}, Now: at.Add(time.Second)})
	noErr(t, "CompleteTask", err)
	noErr(t, "CreateAgent", s.CreateAgent(ctx, store.Agent{ID: "a1", TokenHash: "t1", CreatedAt: at, LastSeenAt: at}))

	finished := at.Add(time.Minute)
	res := api.Result{Language: "en", Duration: 61.5, Engine: "pocketsphinx", Model: "en-us", Title: "Talk",
		Origin: "asr", Segments: 12, Words: 80, Timings: map[string]float64{"download": 1.25, "transcribe": 9.5}}
	failure := &api.Error{Code: "download_failed", Message: "HTTP 403"}
	wantSpec := job.Spec{URL: "https://media.example.com/talk.mp4", UploadKey: "uploads/u1", Filename: "talk.mp4",
		Size: 2048, Language: "en", Task: "transcribe", Model: "base", Priority: 7, Captions: "asr-only", Cache: true,
		WebhookURL: "https://hooks.example.com/y", Metadata: map[string]any{"course": "intro"},
		Labels: map[string]string{"zone": "eu"}}
	wantJobResult := &api.JobResult{Cached: true, Result: res}
	wantTaskResult := &api.TaskResult{Key: "results/j/t.json", Size: 2048, SHA256: "ab12", Result: res}
	wantCaps := api.Capabilities{Engines: []api.EngineCapability{{Name: "whisper-cpp", Models: []string{"base.en"}}},
		Languages: []string{"en"}, GPUs: []api.GPU{{Name: "A100", MemoryMB: 40960}}, Labels: map[string]string{"zone": "eu"},
		Slots: 2, Kinds: []string{"caption"}}
	wantEvent := api.Job{ID: j.ID, Tenant: "acme", Status: api.JobSucceeded, Stage: "done", Progress: 1,
		Source:   api.Source{URL: "https://media.example.com/talk.mp4", Filename: "talk.mp4", Size: 2048},
		Language: "en", Task: "transcribe", Model: "base", Priority: 7, Captions: "asr-only", Cache: true,
		WebhookURL: "https://hooks.example.com/y", Metadata: map[string]any{"course": "intro"}, Attempts: 2,
		CreatedAt: at, UpdatedAt: finished, FinishedAt: &finished, Error: failure, Result: wantJobResult}

	rows := []struct{ table, column, keyColumn, key, text string }{
		{"jobs", "spec", "id", j.ID, `{"url":"https://media.example.com/talk.mp4","upload_key":"uploads/u1","filename":"talk.mp4","size":2048,"language":"en","task":"transcribe","model":"base","priority":7,"captions":"asr-only","cache":true,"webhook_url":"https://hooks.example.com/y","metadata":{"course":"intro"},"labels":{"zone":"eu"}}`},
		{"jobs", "error", "id", j.ID, `{"code":"download_failed","message":"HTTP 403"}`},
		{"jobs", "result", "id", j.ID, `{"cached":true,"language":"en","duration":61.5,"engine":"pocketsphinx","model":"en-us","title":"Talk","origin":"asr","segments":12,"words":80,"timings":{"download":1.25,"transcribe":9.5}}`},
		{"tasks", "requires", "id", tk.ID, `{"engine":"pocketsphinx","labels":{"zone":"eu"}}`},
		{"tasks", "last_error", "id", tk.ID, `{"code":"download_failed","message":"HTTP 403"}`},
		{"tasks", "result", "id", tk.ID, `{"key":"results/j/t.json","size":2048,"sha256":"ab12","language":"en","duration":61.5,"engine":"pocketsphinx","model":"en-us","title":"Talk","origin":"asr","segments":12,"words":80,"timings":{"download":1.25,"transcribe":9.5}}`},
		{"agents", "capabilities", "id", "a1", `{"engines":[{"name":"whisper-cpp","models":["base.en"]}],"languages":["en"],"gpus":[{"name":"A100","memory_mb":40960}],"labels":{"zone":"eu"},"slots":2,"kinds":["caption"]}`},
		{"job_events", "data", "job_id", j.ID, `{"id":"` + j.ID + `","tenant":"acme","status":"succeeded","stage":"done","progress":1,"source":{"url":"https://media.example.com/talk.mp4","filename":"talk.mp4","size":2048},"language":"en","task":"transcribe","model":"base","priority":7,"captions":"asr-only","cache":true,"webhook_url":"https://hooks.example.com/y","metadata":{"course":"intro"},"attempts":2,"created_at":"2030-01-02T03:04:05Z","updated_at":"2030-01-02T03:05:05Z","finished_at":"2030-01-02T03:05:05Z","error":{"code":"download_failed","message":"HTTP 403"},"result":{"cached":true,"language":"en","duration":61.5,"engine":"pocketsphinx","model":"en-us","title":"Talk","origin":"asr","segments":12,"words":80,"timings":{"download":1.25,"transcribe":9.5}}}`},
		{"tasks", "parents", "id", tk.ID, `["p1","p2"]`},
		{"tasks", "chunk", "id", tk.ID, `{"index":2,"start":240,"end":361.25,"key":"chunks/j/c2.wav"}`},
		{"result_cache", "result", "job_id", j.ID, `{"key":"results/j/t.json","size":0,"sha256":"","language":"en","duration":61.5,"engine":"pocketsphinx","model":"en-us","title":"Talk","origin":"asr","segments":12,"words":80,"timings":{"download":1.25,"transcribe":9.5}}`},
	}
	for _, r := range rows {
		noErr(t, "set "+r.table+"."+r.column, set(ctx, r.table, r.column, r.keyColumn, r.key, r.text))
	}

	same := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s read back as\n %+v\nwant %+v", what, got, want)
		}
	}
	gj := getJob(t, s, j.ID)
	same("jobs.spec", gj.Spec, wantSpec)
	same("jobs.error", gj.Error, failure)
	same("jobs.result", gj.Result, wantJobResult)
	gt := getTask(t, s, tk.ID)
	same("tasks.requires", gt.Requires, job.Requirements{Engine: "pocketsphinx", Labels: map[string]string{"zone": "eu"}})
	same("tasks.last_error", gt.LastError, failure)
	same("tasks.result", gt.Result, wantTaskResult)
	same("tasks.parents", gt.Parents, []string{"p1", "p2"})
	same("tasks.chunk", gt.Chunk, &job.Chunk{Index: 2, Start: 240, End: 361.25, Key: "chunks/j/c2.wav"})
	a, err := s.GetAgent(ctx, "a1")
	noErr(t, "GetAgent", err)
	same("agents.capabilities", a.Capabilities, wantCaps)
	evs, err := s.JobEvents(ctx, j.ID, 0, 100)
	noErr(t, "JobEvents", err)
	if len(evs) == 0 {
		t.Fatal("no job events")
	}
	for _, e := range evs {
		same("job_events.data", e.Job, wantEvent)
	}
	c, err := s.LookupCache(ctx, j.Tenant, "k1")
	noErr(t, "LookupCache", err)
	same("result_cache.result", c.Result, res)

	// Keys added with task graphs.
	wantSpec.ChunkSeconds = 120
	noErr(t, "set jobs.spec", set(ctx, "jobs", "spec", "id", j.ID, `{"url":"https://media.example.com/talk.mp4","upload_key":"uploads/u1","filename":"talk.mp4","size":2048,"language":"en","task":"transcribe","model":"base","priority":7,"captions":"asr-only","cache":true,"webhook_url":"https://hooks.example.com/y","metadata":{"course":"intro"},"labels":{"zone":"eu"},"chunk_seconds":120}`))
	same("jobs.spec with chunk_seconds", getJob(t, s, j.ID).Spec, wantSpec)
	wantTaskResult.Chunks = []api.PreparedChunk{{Chunk: api.Chunk{Index: 0, Start: 0, End: 118.5}, Key: "chunks/j/c0.wav", Size: 4096, SHA256: "cd34"}}
	noErr(t, "set tasks.result", set(ctx, "tasks", "result", "id", tk.ID, `{"key":"results/j/t.json","size":2048,"sha256":"ab12","language":"en","duration":61.5,"engine":"pocketsphinx","model":"en-us","title":"Talk","origin":"asr","segments":12,"words":80,"timings":{"download":1.25,"transcribe":9.5},"chunks":[{"index":0,"start":0,"end":118.5,"key":"chunks/j/c0.wav","size":4096,"sha256":"cd34"}]}`))
	same("tasks.result with chunks", getTask(t, s, tk.ID).Result, wantTaskResult)
}
