package asr

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/agent/internal/audio"
	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

func TestParseSphinx(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/sphinx_two_utterances.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ends []float64
	segs, err := ParseSphinx(f, func(end float64) { ends = append(ends, end) })
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		text       string
		start, end float64
		words      int
	}{
		{"hello world this is a guest", 0.16, 2.06, 6},
		{"another sentence after long cause", 5.38, 7.44, 5},
	}
	if len(segs) != len(want) {
		t.Fatalf("got %d segments: %+v", len(segs), segs)
	}
	for i, w := range want {
		s := segs[i]
		if s.Text != w.text || s.Start != w.start || s.End != w.end || len(s.Words) != w.words {
			t.Errorf("segment %d = %q [%v,%v] %d words; want %q [%v,%v] %d", i, s.Text, s.Start, s.End, len(s.Words), w.text, w.start, w.end, w.words)
		}
		for _, word := range s.Words {
			if word.Confidence < 0 || word.Confidence > 1 {
				t.Errorf("confidence %v out of range", word.Confidence)
			}
		}
	}
	if segs[0].Words[0].Word != "hello" {
		t.Errorf("alternate pronunciation suffix kept: %q", segs[0].Words[0].Word)
	}
	if len(ends) != 2 || ends[1] != 7.44 {
		t.Errorf("utterance callbacks = %v", ends)
	}
}

func TestParseSphinxEmpty(t *testing.T) {
	t.Parallel()
	segs, err := ParseSphinx(strings.NewReader("<s> 0.1 0.2 1\n<sil> 0.2 0.9 1\n</s> 0.9 1.0 1\n"), nil)
	if err != nil || len(segs) != 0 {
		t.Fatalf("segs = %+v, err = %v", segs, err)
	}
}

// sphinxText is clear, short, common-vocabulary speech that slt + the en-us
// model recognize well.
const sphinxText = "The weather is nice today. We will go for a walk in the park. Please call me when you get home."

func TestPocketsphinxTranscribe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := NewPocketsphinx(PocketsphinxConfig{})
	if err := eng.Check(ctx); err != nil {
		t.Fatalf("pocketsphinx unavailable (run test/env/bootstrap.sh): %v", err)
	}
	wav := extract(t, media.Speech(t, sphinxText))

	var progress []float64
	tr, err := eng.Transcribe(ctx, wav, Options{Language: "en", Progress: func(p float64) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	wer := media.WER(sphinxText, tr.Text)
	t.Logf("WER %.2f: %q", wer, tr.Text)
	if wer > 0.20 {
		t.Errorf("WER %.2f > 0.20: %q", wer, tr.Text)
	}
	if tr.Duration <= 0 || tr.Language != "en" || tr.Engine.Name != NamePocketsphinx || tr.Engine.Origin != "asr" {
		t.Errorf("metadata = %+v duration %v", tr.Engine, tr.Duration)
	}
	prev := 0.0
	for _, s := range tr.Segments {
		if s.Start > s.End {
			t.Errorf("segment %q: start %v > end %v", s.Text, s.Start, s.End)
		}
		for _, w := range s.Words {
			if w.Start < prev || w.End < w.Start || w.End > tr.Duration {
				t.Errorf("word %q [%v,%v] not monotonic within [%v, %v]", w.Word, w.Start, w.End, prev, tr.Duration)
			}
			prev = w.End
		}
	}
	if len(progress) == 0 || progress[len(progress)-1] > 1 {
		t.Errorf("progress = %v", progress)
	}
}

func TestPocketsphinxLanguage(t *testing.T) {
	t.Parallel()
	eng := NewPocketsphinx(PocketsphinxConfig{})
	_, err := eng.Transcribe(context.Background(), "unused.wav", Options{Language: "de"})
	if e, retry := failure.Classify(err); e.Code != api.CodeUnsupportedLang || retry {
		t.Fatalf("Classify = %v, %v", e, retry)
	}
}

func TestPocketsphinxCanceled(t *testing.T) {
	t.Parallel()
	eng := NewPocketsphinx(PocketsphinxConfig{})
	wav := extract(t, media.Speech(t, sphinxText))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := eng.Transcribe(ctx, wav, Options{}); !failure.IsCanceled(err) {
		t.Fatalf("err = %v, want canceled", err)
	}
}

// extract converts a WAV from flite into the engine's input format.
func extract(t *testing.T, in string) string {
	t.Helper()
	out := t.TempDir() + "/audio.wav"
	if err := audio.New(audio.Config{}).Extract(context.Background(), in, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPocketsphinxStream: audio read as it is decoded gives the transcript
// of the same audio read from a file, with positions in seconds on the way.
func TestPocketsphinxStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := NewPocketsphinx(PocketsphinxConfig{})
	speech := media.Speech(t, sphinxText)
	fromFile, err := eng.Transcribe(ctx, extract(t, speech), Options{Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	close(done)
	pcm := audio.Follow(ctx, extract(t, speech), done)
	defer pcm.Close()
	var positions []float64
	tr, err := eng.TranscribeStream(ctx, pcm, Options{Language: "en", Position: func(s float64) { positions = append(positions, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Text != fromFile.Text || tr.Language != "en" || tr.Engine.Name != NamePocketsphinx {
		t.Errorf("streamed %q (%+v), from the file %q", tr.Text, tr.Engine, fromFile.Text)
	}
	if d := tr.Duration - fromFile.Duration; d > 0.01 || d < -0.01 {
		t.Errorf("duration %g, from the file %g", tr.Duration, fromFile.Duration)
	}
	if len(positions) == 0 || positions[len(positions)-1] > tr.Duration {
		t.Errorf("positions %v over %gs", positions, tr.Duration)
	}
	if _, err := eng.TranscribeStream(ctx, strings.NewReader(""), Options{Language: "fr"}); failure.Code(err) != api.CodeUnsupportedLang {
		t.Errorf("French stream: %v", err)
	}
}
