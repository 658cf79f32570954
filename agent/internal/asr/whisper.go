package asr

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// WhisperConfig configures the whisper.cpp engine.
type WhisperConfig struct {
	Binary string // default "whisper-cli" from PATH
	// Model is the default ggml model file. Options.Model may instead name a
	// model ("base.en") found as ggml-<name>.bin in ModelDir or ModelDirs.
	Model    string
	ModelDir string // default: the directory of Model
	// ModelDirs are searched after ModelDir, such as the agent's cache of
	// pushed models. Without Model, the first model found is the default.
	ModelDirs []string
	Threads   int // default: number of CPUs
	// ExtraArgs are appended verbatim (operator settings such as GPU
	// selection); never filled from job input.
	ExtraArgs []string
	Timeout   time.Duration // default 2h
}

// WhisperCpp runs whisper.cpp's whisper-cli and reads its full JSON output
// (-ojf), which carries per-token times and probabilities.
type WhisperCpp struct {
	cfg WhisperConfig
}

// NewWhisperCpp returns the engine with cfg's defaults filled in.
func NewWhisperCpp(cfg WhisperConfig) *WhisperCpp {
	if cfg.Binary == "" {
		cfg.Binary = "whisper-cli"
	}
	if cfg.ModelDir == "" && cfg.Model != "" {
		cfg.ModelDir = filepath.Dir(cfg.Model)
	}
	if cfg.Threads <= 0 {
		cfg.Threads = runtime.NumCPU()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Hour
	}
	return &WhisperCpp{cfg: cfg}
}

// Name implements Engine.
func (w *WhisperCpp) Name() string { return NameWhisperCpp }

// Check implements Checker: the binary must be on PATH and the default model
// must exist (or, without one configured, some model must be found).
func (w *WhisperCpp) Check(context.Context) error {
	if _, err := exec.LookPath(w.cfg.Binary); err != nil {
		return fmt.Errorf("whisper-cpp: %w", err)
	}
	if w.cfg.Model == "" {
		if len(w.found()) == 0 {
			return fmt.Errorf("whisper-cpp: no model file configured or found in %q", w.dirs())
		}
		return nil
	}
	if _, err := os.Stat(w.cfg.Model); err != nil {
		return fmt.Errorf("whisper-cpp model: %w", err)
	}
	return nil
}

// Capability implements Checker: the models are the ggml-*.bin files in
// the model directories plus the default model.
func (w *WhisperCpp) Capability() api.EngineCapability {
	seen := map[string]bool{}
	if w.cfg.Model != "" {
		seen[modelName(w.cfg.Model)] = true
	}
	for _, f := range w.found() {
		seen[modelName(f)] = true
	}
	models := make([]string, 0, len(seen))
	for m := range seen {
		models = append(models, m)
	}
	sort.Strings(models)
	return api.EngineCapability{Name: NameWhisperCpp, Models: models}
}

// dirs are the directories searched for named models, in order.
func (w *WhisperCpp) dirs() []string {
	var d []string
	for _, dir := range append([]string{w.cfg.ModelDir}, w.cfg.ModelDirs...) {
		if dir != "" {
			d = append(d, dir)
		}
	}
	return d
}

// found lists the model files in the model directories, directory by
// directory, each sorted.
func (w *WhisperCpp) found() []string {
	var files []string
	for _, dir := range w.dirs() {
		f, _ := filepath.Glob(filepath.Join(dir, "ggml-*.bin"))
		files = append(files, f...)
	}
	return files
}

// modelName turns ".../ggml-base.en.bin" into "base.en".
func modelName(path string) string {
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "ggml-"), ".bin")
}

var modelNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// modelPath picks the model file for a job. A named model must be a plain
// name (no path) found in a model directory.
func (w *WhisperCpp) modelPath(name string) (string, error) {
	if w.cfg.Model != "" && (name == "" || name == modelName(w.cfg.Model) || name == "default") {
		return w.cfg.Model, nil
	}
	if name == "" || name == "default" {
		if f := w.found(); len(f) > 0 {
			return f[0], nil
		}
		return "", failure.Transient(api.CodeTranscribeFailed, "whisper-cpp: no model file configured or found")
	}
	if !modelNameRe.MatchString(name) || len(w.dirs()) == 0 {
		return "", failure.Permanent(api.CodeInvalidRequest, "whisper-cpp: unknown model %q", name)
	}
	for _, dir := range w.dirs() {
		p := filepath.Join(dir, "ggml-"+name+".bin")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	// Another agent may have it: not this job's fault.
	return "", failure.Transient(api.CodeTranscribeFailed, "whisper-cpp: model %q not installed here", name)
}

// Args returns the whisper-cli command line, without the binary, for
// transcribing wavPath with model into outBase+".json".
func (w *WhisperCpp) Args(model, wavPath, outBase string, opts Options) []string {
	lang := "auto"
	if !isAuto(opts.Language) {
		lang = baseLang(opts.Language)
	}
	args := []string{
		"-m", model,
		"-f", wavPath,
		"-l", lang,
		"-t", strconv.Itoa(w.cfg.Threads),
		"-oj", "-ojf",
		"-of", outBase,
		"-pp",
	}
	if opts.Task == api.TaskTranslate {
		args = append(args, "-tr")
	}
	if p := strings.TrimSpace(opts.Prompt); p != "" {
		args = append(args, "--prompt", p)
	}
	return append(args, w.cfg.ExtraArgs...)
}

// Validate implements Validator: the model must be here, and English-only
// models (*.en) take English only.
func (w *WhisperCpp) Validate(opts Options) error {
	_, err := w.validate(opts)
	return err
}

func (w *WhisperCpp) validate(opts Options) (string, error) {
	model, err := w.modelPath(opts.Model)
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(modelName(model), ".en") && !isAuto(opts.Language) && baseLang(opts.Language) != "en" {
		return "", failure.Permanent(api.CodeUnsupportedLang,
			"whisper model %s is English-only, not %q", modelName(model), opts.Language)
	}
	return model, nil
}

// Transcribe implements Engine.
func (w *WhisperCpp) Transcribe(ctx context.Context, wavPath string, opts Options) (api.Transcript, error) {
	model, err := w.validate(opts)
	if err != nil {
		return api.Transcript{}, err
	}
	duration, err := wavDuration(wavPath)
	if err != nil {
		return api.Transcript{}, failure.Permanent(api.CodeUndecodable, "whisper-cpp input: %w", err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(wavPath), "whisper-*")
	if err != nil {
		return api.Transcript{}, fmt.Errorf("whisper-cpp temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	outBase := filepath.Join(dir, "out")

	runCtx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, w.cfg.Binary, w.Args(model, wavPath, outBase, opts)...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdout = io.Discard
	stderr := &progressLines{onProgress: opts.Progress}
	cmd.Stderr = stderr
	err = cmd.Run()
	if stop := failure.Interrupted(ctx, runCtx, "whisper-cpp", w.cfg.Timeout, api.CodeTranscribeFailed); stop != nil {
		return api.Transcript{}, stop
	}
	if err != nil {
		return api.Transcript{}, failure.Transient(api.CodeTranscribeFailed, "whisper-cpp: %s: %w", stderr.lastError(), err)
	}
	data, err := os.ReadFile(outBase + ".json")
	if err != nil {
		return api.Transcript{}, failure.Transient(api.CodeTranscribeFailed, "whisper-cpp output: %w", err)
	}
	tr, err := ParseWhisperJSON(data)
	if err != nil {
		return api.Transcript{}, failure.Transient(api.CodeTranscribeFailed, "%w", err)
	}
	tr.Duration = duration
	tr.Engine.Model = modelName(model)
	return tr, nil
}

type whisperToken struct {
	Text    string          `json:"text"`
	Offsets *whisperOffsets `json:"offsets"`
	ID      int             `json:"id"`
	P       float64         `json:"p"`
}

type whisperOffsets struct {
	From int64 `json:"from"` // milliseconds
	To   int64 `json:"to"`
}

type whisperOutput struct {
	Model struct {
		Type string `json:"type"`
	} `json:"model"`
	Params struct {
		Model     string `json:"model"`
		Language  string `json:"language"`
		Translate bool   `json:"translate"`
	} `json:"params"`
	Result struct {
		Language string `json:"language"`
	} `json:"result"`
	Transcription []struct {
		Offsets whisperOffsets `json:"offsets"`
		Text    string         `json:"text"`
		Tokens  []whisperToken `json:"tokens"`
	} `json:"transcription"`
}

// ParseWhisperJSON reads whisper-cli's JSON output (-oj or -ojf). With -ojf
// the tokens give word timings and confidences; with -oj segments have none.
func ParseWhisperJSON(data []byte) (api.Transcript, error) {
	var out whisperOutput
	if err := json.Unmarshal(data, &out); err != nil {
		return api.Transcript{}, fmt.Errorf("parse whisper-cpp json: %w", err)
	}
	tr := api.Transcript{
		Language: out.Result.Language,
		Segments: []api.Segment{},
		Engine:   api.EngineInfo{Name: NameWhisperCpp, Model: out.Model.Type, Origin: "asr"},
	}
	if tr.Language == "" && out.Params.Language != "auto" {
		tr.Language = out.Params.Language
	}
	if out.Params.Translate {
		tr.Language = "en"
	}
	if out.Params.Model != "" {
		tr.Engine.Model = modelName(out.Params.Model)
	}
	for _, s := range out.Transcription {
		text := strings.TrimSpace(s.Text)
		if text == "" {
			continue
		}
		seg := api.Segment{
			Start: float64(s.Offsets.From) / 1000,
			End:   float64(s.Offsets.To) / 1000,
			Text:  text,
			Words: tokensToWords(s.Tokens, text),
		}
		tr.Segments = append(tr.Segments, seg)
		tr.Duration = max(tr.Duration, seg.End)
	}
	tr.Text = joinText(tr.Segments)
	return tr, nil
}

// tokensToWords groups BPE tokens into words: a token starting with a space
// starts a word; the others (word pieces, punctuation) continue it. Special
// tokens ([_BEG_], [_TT_150], <|endoftext|>) are skipped.
func tokensToWords(tokens []whisperToken, segText string) []api.Word {
	var words []api.Word
	var probs []float64
	closeWord := func() {
		if len(words) == 0 || len(probs) == 0 {
			return
		}
		sum := 0.0
		for _, p := range probs {
			sum += p
		}
		words[len(words)-1].Confidence = clamp01(sum / float64(len(probs)))
		probs = nil
	}
	for _, tok := range tokens {
		if tok.Offsets == nil || strings.HasPrefix(tok.Text, "[_") || strings.HasPrefix(tok.Text, "<|") || tok.Text == "" {
			continue
		}
		start, end := float64(tok.Offsets.From)/1000, float64(tok.Offsets.To)/1000
		if strings.HasPrefix(tok.Text, " ") || len(words) == 0 {
			closeWord()
			words = append(words, api.Word{Word: strings.TrimSpace(tok.Text), Start: start, End: end})
		} else {
			w := &words[len(words)-1]
			w.Word += tok.Text
			w.End = max(w.End, end)
		}
		probs = append(probs, tok.P)
	}
	closeWord()
	// Drop words that are nothing but whitespace.
	kept := words[:0]
	for _, w := range words {
		if w.Word != "" {
			kept = append(kept, w)
		}
	}
	words = kept
	// A multi-byte character split across tokens decodes as U+FFFD in each
	// piece; the segment text has it whole, so prefer its spelling when the
	// word counts agree.
	if fields := strings.Fields(segText); len(fields) == len(words) {
		for i := range words {
			words[i].Word = fields[i]
		}
	}
	// Keep times monotonic; token times can overlap by a frame.
	for i := 1; i < len(words); i++ {
		if words[i].Start < words[i-1].End {
			words[i].Start = words[i-1].End
		}
		words[i].End = max(words[i].End, words[i].Start)
	}
	return words
}

// progressLines reads whisper-cli's stderr for "progress = N%" lines and
// keeps the last lines for error messages.
type progressLines struct {
	onProgress func(float64)
	part       []byte
	last       []string
}

var progressRe = regexp.MustCompile(`progress\s*=\s*(\d+)%`)

func (p *progressLines) Write(b []byte) (int, error) {
	p.part = append(p.part, b...)
	for {
		i := strings.IndexByte(string(p.part), '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(p.part[:i]))
		p.part = p.part[i+1:]
		if m := progressRe.FindStringSubmatch(line); m != nil {
			if v, err := strconv.Atoi(m[1]); err == nil && p.onProgress != nil {
				p.onProgress(clamp01(float64(v) / 100))
			}
			continue
		}
		if line != "" {
			p.last = append(p.last, line)
			if len(p.last) > 5 {
				p.last = p.last[1:]
			}
		}
	}
	if len(p.part) > 64<<10 {
		p.part = p.part[:0]
	}
	return len(b), nil
}

func (p *progressLines) lastError() string {
	if len(p.last) == 0 {
		return "exited with an error"
	}
	return strings.Join(p.last, "; ")
}
