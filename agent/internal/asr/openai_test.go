package asr

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

// verboseReply is a transcription in the documented verbose_json shape with
// both timestamp granularities.
const verboseReply = `{
  "task": "transcribe",
  "language": "english",
  "duration": 4.5,
  "text": "The weather is nice today. Let us go.",
  "words": [
    {"word": "The", "start": 0.1, "end": 0.3},
    {"word": "weather", "start": 0.3, "end": 0.8},
    {"word": "is", "start": 0.8, "end": 0.95},
    {"word": "nice", "start": 0.95, "end": 1.4},
    {"word": "today", "start": 1.4, "end": 2.0},
    {"word": "Let", "start": 2.6, "end": 2.9},
    {"word": "us", "start": 2.9, "end": 3.1},
    {"word": "go", "start": 3.1, "end": 3.6}
  ],
  "segments": [
    {"id": 0, "seek": 0, "start": 0.0, "end": 2.2, "text": " The weather is nice today.", "tokens": [50364, 440], "temperature": 0.0, "avg_logprob": -0.1, "compression_ratio": 1.1, "no_speech_prob": 0.01},
    {"id": 1, "seek": 0, "start": 2.2, "end": 3.8, "text": " Let us go.", "tokens": [50474, 961], "temperature": 0.0, "avg_logprob": -0.3, "compression_ratio": 1.1, "no_speech_prob": 0.02}
  ]
}`

// fakeOpenAI implements POST /v1/audio/transcriptions as documented and
// records what it was sent.
type fakeOpenAI struct {
	status int
	reply  string
	got    chan http.Header
	form   chan map[string][]string
	size   chan int64
}

func (f *fakeOpenAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || (r.URL.Path != "/v1/audio/transcriptions" && r.URL.Path != "/v1/audio/translations") {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		http.Error(w, `{"error":{"message":"bad form"}}`, http.StatusBadRequest)
		return
	}
	file, _, err := r.FormFile("file")
	if err != nil {
		http.Error(w, `{"error":{"message":"file is required"}}`, http.StatusBadRequest)
		return
	}
	n, _ := io.Copy(io.Discard, file)
	form := map[string][]string{"path": {r.URL.Path}}
	for k, v := range r.MultipartForm.Value {
		form[k] = v
	}
	f.got <- r.Header
	f.form <- form
	f.size <- n
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	_, _ = io.WriteString(w, f.reply)
}

func newFake(status int, reply string) *fakeOpenAI {
	return &fakeOpenAI{status: status, reply: reply, got: make(chan http.Header, 1), form: make(chan map[string][]string, 1), size: make(chan int64, 1)}
}

func TestOpenAITranscribe(t *testing.T) {
	t.Parallel()
	fake := newFake(http.StatusOK, verboseReply)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	wav := extract(t, media.Speech(t, "The weather is nice today."))

	eng := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1/", APIKey: "sk-test"})
	if err := eng.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr, err := eng.Transcribe(context.Background(), wav, Options{Language: "en-US", Prompt: "weather"})
	if err != nil {
		t.Fatal(err)
	}
	hdr, form, size := <-fake.got, <-fake.form, <-fake.size
	if hdr.Get("Authorization") != "Bearer sk-test" || size == 0 {
		t.Errorf("auth %q, file %d bytes", hdr.Get("Authorization"), size)
	}
	wantForm := map[string][]string{
		"path":                      {"/v1/audio/transcriptions"},
		"model":                     {"whisper-1"},
		"language":                  {"en"},
		"prompt":                    {"weather"},
		"response_format":           {"verbose_json"},
		"timestamp_granularities[]": {"word", "segment"},
	}
	for k, v := range wantForm {
		if !slices.Equal(form[k], v) {
			t.Errorf("form %s = %q, want %q", k, form[k], v)
		}
	}
	if tr.Language != "en" || tr.Duration != 4.5 || tr.Text != "The weather is nice today. Let us go." || tr.Engine.Model != "whisper-1" {
		t.Fatalf("transcript = %+v", tr)
	}
	if len(tr.Segments) != 2 || len(tr.Segments[0].Words) != 5 || len(tr.Segments[1].Words) != 3 {
		t.Fatalf("segments = %+v", tr.Segments)
	}
	checkTimings(t, tr)
}

func TestOpenAIErrors(t *testing.T) {
	t.Parallel()
	wav := extract(t, media.Speech(t, "Hello."))
	tests := []struct {
		status    int
		code      string
		retryable bool
	}{
		{http.StatusBadRequest, api.CodeTranscribeFailed, false},
		{http.StatusRequestEntityTooLarge, api.CodeMediaTooLarge, false},
		{http.StatusUnauthorized, api.CodeTranscribeFailed, true},
		{http.StatusTooManyRequests, api.CodeTranscribeFailed, true},
		{http.StatusBadGateway, api.CodeTranscribeFailed, true},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(newFake(tt.status, `{"error":{"message":"nope","type":"invalid_request_error"}}`))
			t.Cleanup(srv.Close)
			_, err := NewOpenAI(OpenAIConfig{BaseURL: srv.URL}).Transcribe(context.Background(), wav, Options{})
			got, retry := failure.Classify(err)
			if got.Code != tt.code || retry != tt.retryable {
				t.Fatalf("Classify(%v) = %v, %v", err, got, retry)
			}
		})
	}
}

func TestParseVerboseJSONVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		words []int // per segment
		lang  string
	}{
		{"string duration, nested words with probability", `{"language":"de","duration":"2.0","text":"Hallo Welt","segments":[{"start":0,"end":2,"text":"Hallo Welt","words":[{"word":" Hallo","start":0,"end":1,"probability":0.9},{"word":" Welt","start":1,"end":2,"probability":1.2}]}]}`, []int{2}, "de"},
		{"words only", `{"language":"english","duration":1.5,"text":"hi there","words":[{"word":"hi","start":0,"end":0.5},{"word":"there","start":0.5,"end":1.0}]}`, []int{2}, "en"},
		{"text only", `{"text":"plain"}`, []int{0}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr, err := ParseVerboseJSON([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			var words []int
			for _, s := range tr.Segments {
				words = append(words, len(s.Words))
			}
			if !slices.Equal(words, tt.words) || tr.Language != tt.lang {
				b, _ := json.Marshal(tr)
				t.Fatalf("got %s", b)
			}
			checkTimings(t, tr)
		})
	}
}

func TestCapabilities(t *testing.T) {
	t.Parallel()
	engines := map[string]Engine{
		NamePocketsphinx: NewPocketsphinx(PocketsphinxConfig{}),
		NameWhisperCpp:   NewWhisperCpp(WhisperConfig{Binary: "whisper-cli-not-installed", Model: "/nonexistent/ggml-base.bin"}),
		NameOpenAI:       NewOpenAI(OpenAIConfig{BaseURL: "http://127.0.0.1:1"}),
	}
	caps, problems := Capabilities(context.Background(), engines)
	var names []string
	for _, c := range caps {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{NameOpenAI, NamePocketsphinx}) || problems[NameWhisperCpp] == nil {
		t.Fatalf("caps %v, problems %v", caps, problems)
	}
}
