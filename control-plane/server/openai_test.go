package server_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ytcaption/ytcaption/agent/worker"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

const openAIText = "Hello and welcome to the show. Today we are going to talk about the history of music. Thank you for listening."

// startAgent runs a real in-process agent (pocketsphinx) against r.
func startAgent(t *testing.T, r *replica, tp *sdktrace.TracerProvider) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e, err := r.admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(ctx, worker.Config{Server: r.url, Token: e.Token, Name: "real", Engine: "pocketsphinx",
		WorkDir: t.TempDir(), Grace: time.Second, TracerProvider: tp}, testLogger(t))
	if err != nil {
		t.Fatalf("agent: %v", err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestOpenAICompatible: the official openai npm client transcribes a
// flite-made WAV through the server and a real agent in every
// response_format; the trace of the request holds spans from the API and
// from the agent's stages.
func TestOpenAICompatible(t *testing.T) {
	t.Parallel()
	root, _ := filepath.Abs("../..")
	modules := filepath.Join(root, ".cache", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "openai")); err != nil {
		t.Fatalf("the openai npm package is missing (%v): run test/env/bootstrap.sh", err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	cfg := sqliteBackend().cfg(t)
	cfg.Surface.TracerProvider = tp
	r := startReplica(t, cfg)
	startAgent(t, r, tp)
	wav := media.Speech(t, openAIText)

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(root, "test", "openai", "transcribe.cjs"), r.url+"/v1", adminKey, wav)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var res struct {
		Formats struct {
			JSON        struct{ Text string } `json:"json"`
			Text        string                `json:"text"`
			SRT         string                `json:"srt"`
			VTT         string                `json:"vtt"`
			VerboseJSON struct {
				Language string
				Duration float64
				Text     string
				Segments []struct {
					Start, End float64
					Text       string
				}
				Words []struct {
					Word       string
					Start, End float64
				}
			} `json:"verbose_json"`
		}
		UnknownModel *struct {
			Status int
			Type   string
			Code   string
			Param  string
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node output %s: %v", out, err)
	}
	f := res.Formats
	for name, text := range map[string]string{"json": f.JSON.Text, "text": f.Text, "verbose_json": f.VerboseJSON.Text,
		"srt": cueText(f.SRT), "vtt": cueText(f.VTT)} {
		wer := media.WER(openAIText, text)
		t.Logf("%s: WER %.2f: %q", name, wer, text)
		if wer > 0.20 {
			t.Errorf("%s: word error rate %.2f > 0.20", name, wer)
		}
	}
	if !strings.HasPrefix(f.VTT, "WEBVTT") || !strings.Contains(f.SRT, "-->") {
		t.Errorf("srt/vtt malformed:\n%s\n%s", f.SRT, f.VTT)
	}
	v := f.VerboseJSON
	if v.Language != "english" || v.Duration <= 0 || len(v.Segments) == 0 || len(v.Words) < 10 {
		t.Errorf("verbose_json: language %q duration %v, %d segments, %d words", v.Language, v.Duration, len(v.Segments), len(v.Words))
	}
	if e := res.UnknownModel; e == nil || e.Status != 400 || e.Type != "invalid_request_error" || e.Param != "model" || e.Code != "model_not_found" {
		t.Errorf("unknown model error: %+v", e)
	}

	// The first request's trace: the API's server span, and the agent's
	// task and stage spans under it.
	var apiTrace []string
	byTrace := map[string][]string{}
	for _, s := range rec.Ended() {
		id := s.SpanContext().TraceID().String()
		byTrace[id] = append(byTrace[id], s.Name())
		if s.Name() == "POST /v1/audio/transcriptions" {
			apiTrace = append(apiTrace, id)
		}
	}
	if len(apiTrace) == 0 {
		t.Fatal("no API span for the transcription requests")
	}
	names := strings.Join(byTrace[apiTrace[0]], ",")
	// Uploads take the default chunking: the job is planned as prepare,
	// which transcribes media this short in place.
	for _, want := range []string{"POST /v1/audio/transcriptions", "task prepare", "stage transcribe"} {
		if !strings.Contains(names, want) {
			t.Errorf("trace %s lacks %q: %s", apiTrace[0], want, names)
		}
	}
}

// cueText keeps the text lines of SRT or WebVTT.
func cueText(s string) string {
	var words []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line == "WEBVTT" || strings.Contains(line, "-->") || strings.Trim(line, "0123456789") == "" {
			continue
		}
		words = append(words, line)
	}
	return strings.Join(words, " ")
}
