package asr

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

func TestParseWhisperJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file     string
		language string
		model    string
		text     string
		segments int
		words    []string // of the first segment; nil: no word timings
	}{
		{
			file: "whisper_full.json", language: "en", model: "base.en",
			text:     "And so my fellow Americans, ask not what your country can do for you.",
			segments: 2,
			words:    []string{"And", "so", "my", "fellow", "Americans,", "ask", "not"},
		},
		{
			file: "whisper_basic.json", language: "fr", model: "small",
			text: "Bonjour tout le monde. Merci beaucoup.", segments: 2,
		},
		{
			file: "whisper_split_utf8.json", language: "fr", model: "base",
			text: "Un café", segments: 1, words: []string{"Un", "café"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			tr, err := ParseWhisperJSON(data)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Text != tt.text || tr.Language != tt.language || tr.Engine.Model != tt.model || len(tr.Segments) != tt.segments {
				t.Fatalf("got text %q lang %q model %q segments %d", tr.Text, tr.Language, tr.Engine.Model, len(tr.Segments))
			}
			var got []string
			for _, w := range tr.Segments[0].Words {
				got = append(got, w.Word)
			}
			if !slices.Equal(got, tt.words) {
				t.Fatalf("words = %q, want %q", got, tt.words)
			}
			checkTimings(t, tr)
		})
	}
}

func TestWhisperWordTimes(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/whisper_full.json")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ParseWhisperJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	w := tr.Segments[0].Words[4] // "Americans," from three tokens
	if w.Start != 1.48 || w.End != 2.31 || w.Confidence <= 0.9 || w.Confidence > 1 {
		t.Fatalf("word = %+v", w)
	}
	if seg := tr.Segments[1]; seg.Start != 3.96 || seg.End != 7 {
		t.Fatalf("segment = %+v", seg)
	}
}

func TestWhisperArgs(t *testing.T) {
	t.Parallel()
	w := NewWhisperCpp(WhisperConfig{Model: "/models/ggml-base.bin", Threads: 2, ExtraArgs: []string{"-ng"}})
	tests := []struct {
		opts Options
		want []string
	}{
		{Options{Language: "auto"}, []string{"-m", "/models/ggml-base.bin", "-f", "in.wav", "-l", "auto", "-t", "2", "-oj", "-ojf", "-of", "/tmp/out", "-pp", "-ng"}},
		{Options{Language: "pt-BR", Task: api.TaskTranslate, Prompt: " Glossary: Kubernetes "},
			[]string{"-m", "/models/ggml-base.bin", "-f", "in.wav", "-l", "pt", "-t", "2", "-oj", "-ojf", "-of", "/tmp/out", "-pp", "-tr", "--prompt", "Glossary: Kubernetes", "-ng"}},
	}
	for _, tt := range tests {
		if got := w.Args("/models/ggml-base.bin", "in.wav", "/tmp/out", tt.opts); !slices.Equal(got, tt.want) {
			t.Errorf("Args(%+v) =\n%q\nwant\n%q", tt.opts, got, tt.want)
		}
	}
}

func TestWhisperModelSelection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"ggml-base.en.bin", "ggml-small.bin"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w := NewWhisperCpp(WhisperConfig{Model: filepath.Join(dir, "ggml-base.en.bin")})
	if got := w.Capability().Models; !slices.Equal(got, []string{"base.en", "small"}) {
		t.Fatalf("models = %q", got)
	}
	tests := []struct {
		model string
		code  string // "" for success
	}{
		{"", ""}, {"small", ""}, {"base.en", ""},
		{"../../etc/passwd", api.CodeInvalidRequest},
		{"large-v3", api.CodeTranscribeFailed},
	}
	for _, tt := range tests {
		_, err := w.modelPath(tt.model)
		if got := failure.Code(err); got != tt.code {
			t.Errorf("modelPath(%q): code %q, want %q (%v)", tt.model, got, tt.code, err)
		}
	}
	_, err := w.Transcribe(context.Background(), "x.wav", Options{Language: "de"})
	if failure.Code(err) != api.CodeUnsupportedLang {
		t.Fatalf("English-only model with de: %v", err)
	}
}

// TestWhisperModelDirs: without a configured model, models found in
// ModelDirs (an agent's pushed models) make the engine usable, are listed,
// and serve jobs by name or as the default.
func TestWhisperModelDirs(t *testing.T) {
	t.Parallel()
	own, pushed := t.TempDir(), t.TempDir()
	for _, p := range []string{filepath.Join(own, "ggml-base.bin"), filepath.Join(pushed, "ggml-base.bin"), filepath.Join(pushed, "ggml-tiny.en.bin")} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	empty := NewWhisperCpp(WhisperConfig{Binary: "sh", ModelDirs: []string{t.TempDir()}})
	if err := empty.Check(context.Background()); err == nil {
		t.Fatal("Check passed without any model")
	}
	w := NewWhisperCpp(WhisperConfig{Binary: "sh", ModelDir: own, ModelDirs: []string{pushed}})
	if err := w.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.Capability().Models; !slices.Equal(got, []string{"base", "tiny.en"}) {
		t.Fatalf("models = %q", got)
	}
	for name, want := range map[string]string{
		"":        filepath.Join(own, "ggml-base.bin"),
		"base":    filepath.Join(own, "ggml-base.bin"), // ModelDir first
		"tiny.en": filepath.Join(pushed, "ggml-tiny.en.bin"),
	} {
		if got, err := w.modelPath(name); err != nil || got != want {
			t.Errorf("modelPath(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := w.modelPath("large"); failure.Code(err) != api.CodeTranscribeFailed {
		t.Errorf("absent model: %v", err)
	}
}

// TestWhisperTranscribeCommand runs Transcribe against a stand-in whisper-cli
// that writes the fixture where -of says: it checks the run and the output
// handling without a whisper model, which cannot be downloaded here.
func TestWhisperTranscribeCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fixture, err := filepath.Abs("testdata/whisper_full.json")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "whisper-cli")
	body := `#!/bin/sh
out=""
while [ $# -gt 0 ]; do
  if [ "$1" = "-of" ]; then out="$2"; fi
  shift
done
echo "whisper_print_progress_callback: progress =  50%" >&2
cp "` + fixture + `" "$out.json"
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "ggml-base.en.bin")
	if err := os.WriteFile(model, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := NewWhisperCpp(WhisperConfig{Binary: script, Model: model})
	if err := w.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	wav := extract(t, media.Speech(t, "Hello."))
	var progress []float64
	tr, err := w.Transcribe(context.Background(), wav, Options{Progress: func(p float64) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Segments) != 2 || tr.Engine.Model != "base.en" || tr.Duration <= 0 || !slices.Equal(progress, []float64{0.5}) {
		t.Fatalf("transcript %+v, progress %v", tr, progress)
	}
	entries, _ := os.ReadDir(filepath.Dir(wav))
	if len(entries) != 1 {
		t.Fatalf("temporary output left behind: %v", entries)
	}
}

// TestWhisperReal runs the real whisper-cli when one and a model are here.
func TestWhisperReal(t *testing.T) {
	t.Parallel()
	model := os.Getenv("YTCAPTION_WHISPER_MODEL")
	w := NewWhisperCpp(WhisperConfig{Model: model})
	if err := w.Check(context.Background()); err != nil {
		t.Skipf("whisper-cpp not available (%v); to run this test put whisper-cli on PATH and set YTCAPTION_WHISPER_MODEL to a ggml model file such as ggml-base.en.bin", err)
	}
	wav := extract(t, media.Speech(t, sphinxText))
	tr, err := w.Transcribe(context.Background(), wav, Options{Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	if wer := media.WER(sphinxText, tr.Text); wer > 0.20 {
		t.Errorf("WER %.2f: %q", wer, tr.Text)
	}
	checkTimings(t, tr)
}

// checkTimings asserts that segments and words are ordered and inside the
// transcript's duration.
func checkTimings(t *testing.T, tr api.Transcript) {
	t.Helper()
	prev := 0.0
	for _, s := range tr.Segments {
		if s.End < s.Start || s.End > tr.Duration+1e-9 || strings.TrimSpace(s.Text) == "" {
			t.Errorf("bad segment %+v (duration %v)", s, tr.Duration)
		}
		for _, w := range s.Words {
			if w.Start < prev-1e-9 || w.End < w.Start || w.Confidence < 0 || w.Confidence > 1 {
				t.Errorf("bad word %+v after %v", w, prev)
			}
			prev = w.End
		}
	}
}
