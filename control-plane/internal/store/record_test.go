package store_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// column is one JSON column's codec under test, with a value that sets
// every field and the exact text stored for it.
type column struct {
	name   string
	value  any // what decode yields
	encode func() (any, error)
	decode func(b []byte) (any, error)
	golden string
}

func columns() []column {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	fin := at.Add(time.Minute)
	res := api.Result{Language: "en", Duration: 61.5, Engine: "pocketsphinx", Model: "en-us", Title: "Talk",
		Origin: "asr", Segments: 12, Words: 80, Timings: map[string]float64{"download": 1.25, "transcribe": 9.5},
		Streamed: true, SourceValidator: `etag:"v1"`}
	spec := &job.Spec{URL: "https://media.example.com/talk.mp4", UploadKey: "uploads/u1", Filename: "talk.mp4",
		Size: 2048, Language: "en", Task: "transcribe", Model: "base", Priority: 7, Captions: "asr-only", Cache: true,
		WebhookURL: "https://hooks.example.com/y", Metadata: map[string]any{"course": "intro"},
		Labels: map[string]string{"zone": "eu"}, ChunkSeconds: 120}
	req := &job.Requirements{Engine: "pocketsphinx", Labels: map[string]string{"zone": "eu"}}
	apiErr := &api.Error{Code: "download_failed", Message: "HTTP 403"}
	jobRes := &api.JobResult{Cached: true, Result: res}
	taskRes := &api.TaskResult{Key: "results/j/t.json", Size: 2048, SHA256: "ab12", Result: res,
		Chunks: []api.PreparedChunk{{Chunk: api.Chunk{Index: 1, Start: 118.5, End: 240}, Key: "chunks/j/c1.wav", Size: 4096, SHA256: "cd34"}},
		Media: &api.MediaReport{Key: "jobs/j/media/playback.ogg", Size: 512, SHA256: "ef56", ContentType: "audio/ogg",
			Error: &api.Error{Code: "playback_failed", Message: "ffmpeg exited 1"}}}
	caps := &api.Capabilities{Engines: []api.EngineCapability{{Name: "whisper-cpp", Models: []string{"base.en"}}},
		Languages: []string{"en"}, GPUs: []api.GPU{{Name: "A100", MemoryMB: 40960, UUID: "GPU-1", DriverVersion: "535.104.05"}}, Labels: map[string]string{"zone": "eu"},
		Slots: 2, Kinds: []string{"caption"}, Artifacts: []api.HeldArtifact{{Kind: "model", Name: "ggml-base.en.bin", Version: "v1", SHA256: "ab12"}}}
	event := &api.Job{ID: "j1", Tenant: "acme", Status: api.JobSucceeded, Stage: "done", Progress: 1,
		Source:   api.Source{URL: "https://media.example.com/talk.mp4", Filename: "talk.mp4", Size: 2048},
		Language: "en", Task: "transcribe", Model: "base", Priority: 7, Captions: "asr-only", Cache: true,
		WebhookURL: "https://hooks.example.com/y", Metadata: map[string]any{"course": "intro"}, Attempts: 2,
		CreatedAt: at, UpdatedAt: fin, FinishedAt: &fin, Error: apiErr, Result: jobRes,
		ChunkSeconds: 120, Chunks: &api.ChunkSummary{Total: 3, Done: 2}}
	chunk := &job.Chunk{Index: 2, Start: 240, End: 361.25, Key: "chunks/j/c2.wav"}
	parents := []string{"t1", "t2"}
	succeeded := job.Job{ResultKey: "results/j/t.json", Result: jobRes}
	runs := []job.Run{{Attempt: 2, Token: 9, AgentID: "a1", StartedAt: at, EndedAt: fin, Outcome: job.RunRetried,
		Error: apiErr, Stages: []job.StageMark{{Stage: "download", At: at.Add(time.Second)}}}}
	return []column{
		{"jobs.spec", *spec, func() (any, error) { return store.SpecArg(spec) },
			decoder(store.DecodeSpec),
			`{"url":"https://media.example.com/talk.mp4","upload_key":"uploads/u1","filename":"talk.mp4","size":2048,"language":"en","task":"transcribe","model":"base","priority":7,"captions":"asr-only","cache":true,"webhook_url":"https://hooks.example.com/y","metadata":{"course":"intro"},"labels":{"zone":"eu"},"chunk_seconds":120}`},
		{"tasks.requires", *req, func() (any, error) { return store.RequiresArg(req) },
			decoder(store.DecodeRequires),
			`{"engine":"pocketsphinx","labels":{"zone":"eu"}}`},
		{"tasks.parents", parents, func() (any, error) { return store.ParentsArg(parents) },
			decoder(store.DecodeParents),
			`["t1","t2"]`},
		{"tasks.chunk", chunk, func() (any, error) { return store.ChunkArg(chunk) },
			decoder(store.DecodeChunk),
			`{"index":2,"start":240,"end":361.25,"key":"chunks/j/c2.wav"}`},
		{"tasks.runs", runs, func() (any, error) { return store.RunsArg(runs) },
			decoder(store.DecodeRuns),
			`[{"attempt":2,"token":9,"agent_id":"a1","started_at":"2030-01-02T03:04:05Z","ended_at":"2030-01-02T03:05:05Z","outcome":"retried","error":{"code":"download_failed","message":"HTTP 403"},"stages":[{"stage":"download","at":"2030-01-02T03:04:06Z"}]}]`},
		{"jobs.error", apiErr, func() (any, error) { return store.ErrorArg(apiErr) },
			decoder(store.DecodeError),
			`{"code":"download_failed","message":"HTTP 403"}`},
		{"jobs.result", jobRes, func() (any, error) { return store.JobResultArg(jobRes) },
			decoder(store.DecodeJobResult),
			`{"cached":true,"language":"en","duration":61.5,"engine":"pocketsphinx","model":"en-us","title":"Talk","origin":"asr","segments":12,"words":80,"timings":{"download":1.25,"transcribe":9.5},"streamed":true,"source_validator":"etag:\"v1\""}`},
		{"tasks.result", taskRes, func() (any, error) { return store.TaskResultArg(taskRes) },
			decoder(store.DecodeTaskResult),
			`{"key":"results/j/t.json","size":2048,"sha256":"ab12","language":"en","duration":61.5,"engine":"pocketsphinx","model":"en-us","title":"Talk","origin":"asr","segments":12,"words":80,"timings":{"download":1.25,"transcribe":9.5},"streamed":true,"source_validator":"etag:\"v1\"","chunks":[{"index":1,"start":118.5,"end":240,"key":"chunks/j/c1.wav","size":4096,"sha256":"cd34"}],"media":{"key":"jobs/j/media/playback.ogg","size":512,"sha256":"ef56","content_type":"audio/ogg","error":{"code":"playback_failed","message":"ffmpeg exited 1"}}}`},
		{"result_cache.result", res, func() (any, error) { return store.CachedResultArg(succeeded) },
			decoder(store.DecodeCachedResult),
			`{"key":"results/j/t.json","size":0,"sha256":"","language":"en","duration":61.5,"engine":"pocketsphinx","model":"en-us","title":"Talk","origin":"asr","segments":12,"words":80,"timings":{"download":1.25,"transcribe":9.5},"streamed":true,"source_validator":"etag:\"v1\""}`},
		{"agents.capabilities", *caps, func() (any, error) { return store.CapabilitiesArg(caps) },
			decoder(store.DecodeCapabilities),
			`{"engines":[{"name":"whisper-cpp","models":["base.en"]}],"languages":["en"],"gpus":[{"name":"A100","memory_mb":40960,"uuid":"GPU-1","driver_version":"535.104.05"}],"labels":{"zone":"eu"},"slots":2,"kinds":["caption"],"artifacts":[{"kind":"model","name":"ggml-base.en.bin","version":"v1","sha256":"ab12"}]}`},
		{"job_events.data", *event, func() (any, error) { return store.EventArg(event) },
			decoder(store.DecodeEvent),
			`{"id":"j1","tenant":"acme","status":"succeeded","stage":"done","progress":1,"source":{"url":"https://media.example.com/talk.mp4","filename":"talk.mp4","size":2048},"language":"en","task":"transcribe","model":"base","priority":7,"captions":"asr-only","cache":true,"webhook_url":"https://hooks.example.com/y","metadata":{"course":"intro"},"attempts":2,"created_at":"2030-01-02T03:04:05Z","updated_at":"2030-01-02T03:05:05Z","finished_at":"2030-01-02T03:05:05Z","error":{"code":"download_failed","message":"HTTP 403"},"result":{"cached":true,"language":"en","duration":61.5,"engine":"pocketsphinx","model":"en-us","title":"Talk","origin":"asr","segments":12,"words":80,"timings":{"download":1.25,"transcribe":9.5},"streamed":true,"source_validator":"etag:\"v1\""},"chunk_seconds":120,"chunks":{"total":3,"done":2}}`},
	}
}

// decoder adapts a DecodeX function to the table.
func decoder[T any](decode func([]byte, *T) error) func([]byte) (any, error) {
	return func(b []byte) (any, error) {
		var v T
		err := decode(b, &v)
		return v, err
	}
}

// TestRecordGolden pins the text of every JSON column. The goldens are what
// the wire types encoded to when they were stored directly; the records have
// their own keys, so a change to the API's JSON tags cannot alter them (it
// would fail here, not reinterpret rows).
func TestRecordGolden(t *testing.T) {
	t.Parallel()
	for _, c := range columns() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			allSet(t, c.name, reflect.ValueOf(c.value))
			got, err := c.encode()
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if got != c.golden {
				t.Fatalf("encoded\n got %v\nwant %s", got, c.golden)
			}
			back, err := c.decode([]byte(c.golden))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(back, c.value) {
				t.Fatalf("decoded %+v\nwant %+v", back, c.value)
			}
		})
	}
}

// allSet fails when a field of v is zero: a field added to a mapped type must
// be set here, so the round trip shows whether its record carries it.
func allSet(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			t.Fatalf("%s is nil", path)
		}
		allSet(t, path, v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			if v.Interface().(time.Time).IsZero() {
				t.Fatalf("%s is zero", path)
			}
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				allSet(t, path+"."+v.Type().Field(i).Name, v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			t.Fatalf("%s is empty", path)
		}
		for i := range v.Len() {
			allSet(t, path, v.Index(i))
		}
	default:
		if v.IsZero() {
			t.Fatalf("%s is zero", path)
		}
	}
}

func TestRecordNull(t *testing.T) {
	t.Parallel()
	if a, err := store.ParentsArg(nil); a != "[]" || err != nil {
		t.Fatalf("ParentsArg(nil) = %v, %v; want []", a, err)
	}
	for _, b := range []string{"", "[]"} {
		p := []string{"stale"}
		if err := store.DecodeParents([]byte(b), &p); err != nil || p != nil {
			t.Fatalf("DecodeParents(%q) = %v, %v; want nil", b, p, err)
		}
	}
	if a, err := store.RunsArg(nil); a != "[]" || err != nil {
		t.Fatalf("RunsArg(nil) = %v, %v; want []", a, err)
	}
	for _, b := range []string{"", "[]"} {
		p := []job.Run{{Attempt: 1}}
		if err := store.DecodeRuns([]byte(b), &p); err != nil || p != nil {
			t.Fatalf("DecodeRuns(%q) = %v, %v; want nil", b, p, err)
		}
	}
	if a, err := store.JobResultArg(nil); a != nil || err != nil {
		t.Fatalf("JobResultArg(nil) = %v, %v; want SQL NULL", a, err)
	}
	for _, b := range []string{"", "null"} {
		r := &api.TaskResult{Key: "stale"}
		if err := store.DecodeTaskResult([]byte(b), &r); err != nil || r != nil {
			t.Fatalf("DecodeTaskResult(%q) = %+v, %v; want nil", b, r, err)
		}
	}
}
