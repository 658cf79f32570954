package asr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// OpenAIConfig configures the OpenAI-compatible engine.
type OpenAIConfig struct {
	// BaseURL is the server root, with or without "/v1", e.g.
	// "https://api.openai.com/v1" or "http://127.0.0.1:8000".
	BaseURL string
	APIKey  string
	Model   string        // default "whisper-1"
	Client  *http.Client  // default: a client with Timeout
	Timeout time.Duration // per request; default 30m
}

// OpenAI sends audio to any server implementing OpenAI's
// POST /v1/audio/transcriptions (and /v1/audio/translations) with
// response_format=verbose_json and word and segment timestamps.
type OpenAI struct {
	cfg    OpenAIConfig
	client *http.Client
}

// NewOpenAI returns the engine with cfg's defaults filled in.
func NewOpenAI(cfg OpenAIConfig) *OpenAI {
	if cfg.Model == "" {
		cfg.Model = "whisper-1"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Minute
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: cfg.Timeout}
	}
	return &OpenAI{cfg: cfg, client: client}
}

// Name implements Engine.
func (o *OpenAI) Name() string { return NameOpenAI }

// Capability implements Checker.
func (o *OpenAI) Capability() api.EngineCapability {
	return api.EngineCapability{Name: NameOpenAI, Models: []string{o.cfg.Model}}
}

// Check implements Checker: the base URL must be set and well formed. It
// does not call the server: hosted APIs bill and rate-limit every request.
func (o *OpenAI) Check(context.Context) error {
	if o.cfg.BaseURL == "" {
		return fmt.Errorf("openai: no base URL configured")
	}
	u, err := url.Parse(o.cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("openai: base URL %q is not an http(s) URL", o.cfg.BaseURL)
	}
	return nil
}

// endpoint returns the transcription or translation URL.
func (o *OpenAI) endpoint(task string) string {
	base := strings.TrimRight(o.cfg.BaseURL, "/")
	if !strings.HasSuffix(base, "/v1") {
		base += "/v1"
	}
	if task == api.TaskTranslate {
		return base + "/audio/translations"
	}
	return base + "/audio/transcriptions"
}

// Transcribe implements Engine. The WAV is streamed, not held in memory.
func (o *OpenAI) Transcribe(ctx context.Context, wavPath string, opts Options) (api.Transcript, error) {
	if err := o.Check(ctx); err != nil {
		return api.Transcript{}, failure.Transient(api.CodeTranscribeFailed, "%w", err)
	}
	f, err := os.Open(wavPath)
	if err != nil {
		return api.Transcript{}, fmt.Errorf("open audio: %w", err)
	}
	defer f.Close()
	duration, _ := wavDuration(wavPath)

	model := o.cfg.Model
	if opts.Model != "" {
		model = opts.Model
	}
	fields := [][2]string{
		{"model", model},
		{"response_format", "verbose_json"},
		{"timestamp_granularities[]", "word"},
		{"timestamp_granularities[]", "segment"},
	}
	if !isAuto(opts.Language) && opts.Task != api.TaskTranslate {
		fields = append(fields, [2]string{"language", baseLang(opts.Language)})
	}
	if p := strings.TrimSpace(opts.Prompt); p != "" {
		fields = append(fields, [2]string{"prompt", p})
	}

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := writeMultipart(mw, fields, filepath.Base(wavPath), f)
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.endpoint(opts.Task), pr)
	if err != nil {
		pr.CloseWithError(err)
		return api.Transcript{}, failure.Transient(api.CodeTranscribeFailed, "openai request: %w", err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	if o.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.cfg.APIKey)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		if ctx.Err() != nil {
			return api.Transcript{}, fmt.Errorf("openai: %w", ctx.Err())
		}
		return api.Transcript{}, failure.Transient(api.CodeTranscribeFailed, "openai: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		if ctx.Err() != nil {
			return api.Transcript{}, fmt.Errorf("openai: %w", ctx.Err())
		}
		return api.Transcript{}, failure.Transient(api.CodeTranscribeFailed, "openai response: %w", err)
	}
	if err := openAIStatus(resp.StatusCode, body); err != nil {
		return api.Transcript{}, err
	}
	tr, err := ParseVerboseJSON(body)
	if err != nil {
		return api.Transcript{}, failure.Transient(api.CodeTranscribeFailed, "%w", err)
	}
	if tr.Duration == 0 {
		tr.Duration = duration
	}
	if opts.Task == api.TaskTranslate {
		tr.Language = "en"
	} else if tr.Language == "" && !isAuto(opts.Language) {
		tr.Language = baseLang(opts.Language)
	}
	tr.Engine.Model = model
	if opts.Progress != nil {
		opts.Progress(1)
	}
	return tr, nil
}

func writeMultipart(mw *multipart.Writer, fields [][2]string, name string, audio io.Reader) error {
	for _, kv := range fields {
		if err := mw.WriteField(kv[0], kv[1]); err != nil {
			return fmt.Errorf("write field %s: %w", kv[0], err)
		}
	}
	part, err := mw.CreateFormFile("file", name)
	if err != nil {
		return fmt.Errorf("create file part: %w", err)
	}
	if _, err := io.Copy(part, audio); err != nil {
		return fmt.Errorf("write file part: %w", err)
	}
	return mw.Close()
}

// openAIStatus classifies a non-2xx reply. Auth and quota problems belong to
// this agent's configuration, not the job, so they are transient: another
// agent may succeed.
func openAIStatus(code int, body []byte) error {
	if code >= 200 && code < 300 {
		return nil
	}
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		msg = e.Error.Message
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	switch {
	case code == http.StatusRequestEntityTooLarge:
		return failure.Permanent(api.CodeMediaTooLarge, "openai: HTTP %d: %s", code, msg)
	case code == http.StatusBadRequest || code == http.StatusUnprocessableEntity || code == http.StatusUnsupportedMediaType:
		return failure.Permanent(api.CodeTranscribeFailed, "openai: HTTP %d: %s", code, msg)
	default:
		return failure.Transient(api.CodeTranscribeFailed, "openai: HTTP %d: %s", code, msg)
	}
}

// flexFloat accepts a JSON number or a numeric string; some servers send
// "duration" as a string.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("number %q: %w", s, err)
	}
	*f = flexFloat(v)
	return nil
}

type verboseWord struct {
	Word        string    `json:"word"`
	Start       flexFloat `json:"start"`
	End         flexFloat `json:"end"`
	Probability *float64  `json:"probability"` // faster-whisper servers
}

type verboseJSON struct {
	Language string        `json:"language"`
	Duration flexFloat     `json:"duration"`
	Text     string        `json:"text"`
	Words    []verboseWord `json:"words"`
	Segments []struct {
		Start      flexFloat     `json:"start"`
		End        flexFloat     `json:"end"`
		Text       string        `json:"text"`
		AvgLogprob *float64      `json:"avg_logprob"`
		Words      []verboseWord `json:"words"` // faster-whisper servers nest them
	} `json:"segments"`
}

// ParseVerboseJSON reads an OpenAI verbose_json transcription. Top-level
// words are assigned to the segment they fall in. Word confidence is the
// word's probability when the server gives one, else the segment's mean
// token probability exp(avg_logprob), else 1.
func ParseVerboseJSON(data []byte) (api.Transcript, error) {
	var v verboseJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return api.Transcript{}, fmt.Errorf("parse verbose_json: %w", err)
	}
	tr := api.Transcript{
		Language: languageCode(v.Language),
		Duration: float64(v.Duration),
		Segments: []api.Segment{},
		Engine:   api.EngineInfo{Name: NameOpenAI, Origin: "asr"},
	}
	segConf := make([]float64, 0, len(v.Segments))
	for _, s := range v.Segments {
		seg := api.Segment{Start: float64(s.Start), End: float64(s.End), Text: strings.TrimSpace(s.Text)}
		conf := 1.0
		if s.AvgLogprob != nil {
			conf = clamp01(math.Exp(*s.AvgLogprob))
		}
		for _, w := range s.Words {
			seg.Words = append(seg.Words, toWord(w, conf))
		}
		tr.Segments = append(tr.Segments, seg)
		segConf = append(segConf, conf)
	}
	nested := false
	for _, s := range tr.Segments {
		nested = nested || len(s.Words) > 0
	}
	if len(v.Words) > 0 && !nested {
		if len(tr.Segments) == 0 {
			// Word granularity only: one segment holding every word.
			seg := api.Segment{Start: float64(v.Words[0].Start), End: float64(v.Words[len(v.Words)-1].End), Text: strings.TrimSpace(v.Text)}
			tr.Segments = append(tr.Segments, seg)
			segConf = append(segConf, 1)
		}
		i := 0
		for _, w := range v.Words {
			for i < len(tr.Segments)-1 && float64(w.Start) >= tr.Segments[i].End {
				i++
			}
			tr.Segments[i].Words = append(tr.Segments[i].Words, toWord(w, segConf[i]))
		}
	}
	if len(tr.Segments) == 0 && strings.TrimSpace(v.Text) != "" {
		tr.Segments = append(tr.Segments, api.Segment{Start: 0, End: tr.Duration, Text: strings.TrimSpace(v.Text)})
	}
	kept := tr.Segments[:0]
	for _, s := range tr.Segments {
		if s.Text != "" {
			kept = append(kept, s)
		}
		tr.Duration = max(tr.Duration, s.End)
	}
	tr.Segments = kept
	tr.Text = joinText(tr.Segments)
	return tr, nil
}

func toWord(w verboseWord, conf float64) api.Word {
	if w.Probability != nil {
		conf = clamp01(*w.Probability)
	}
	return api.Word{Word: strings.TrimSpace(w.Word), Start: float64(w.Start), End: float64(w.End), Confidence: conf}
}

// languageCode maps Whisper's language names ("english") to ISO 639-1 codes;
// codes pass through.
func languageCode(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if len(name) <= 3 {
		return name
	}
	codes := map[string]string{
		"english": "en", "german": "de", "french": "fr", "spanish": "es", "italian": "it",
		"portuguese": "pt", "dutch": "nl", "russian": "ru", "chinese": "zh", "japanese": "ja",
		"korean": "ko", "arabic": "ar", "hindi": "hi", "turkish": "tr", "polish": "pl",
		"ukrainian": "uk", "swedish": "sv", "danish": "da", "norwegian": "no", "finnish": "fi",
		"czech": "cs", "greek": "el", "hebrew": "he", "indonesian": "id", "vietnamese": "vi",
		"thai": "th", "romanian": "ro", "hungarian": "hu", "catalan": "ca", "persian": "fa",
	}
	if c, ok := codes[name]; ok {
		return c
	}
	return name
}
