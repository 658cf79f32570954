package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/asr"
	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

// watchedEngine wraps an engine that takes streams and records how its
// streams ended; fail makes every stream fail at once without reading.
type watchedEngine struct {
	*asr.Pocketsphinx
	fail error

	mu      sync.Mutex
	streams []error
}

func (w *watchedEngine) TranscribeStream(ctx context.Context, pcm io.Reader, opts asr.Options) (api.Transcript, error) {
	var tr api.Transcript
	err := w.fail
	if err == nil {
		tr, err = w.Pocketsphinx.TranscribeStream(ctx, pcm, opts)
	}
	w.mu.Lock()
	w.streams = append(w.streams, err)
	w.mu.Unlock()
	return tr, err
}

func (w *watchedEngine) ended() []error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]error(nil), w.streams...)
}

func watchedPipeline(t *testing.T, fail error) (*Pipeline, *watchedEngine) {
	t.Helper()
	p := newPipeline(t)
	w := &watchedEngine{Pocketsphinx: asr.NewPocketsphinx(asr.PocketsphinxConfig{}), fail: fail}
	p.Engines = map[string]asr.Engine{asr.NamePocketsphinx: w}
	return p, w
}

// fileOnly hides an engine's stream support.
type fileOnly struct{ asr.Engine }

// TestStreamedMatchesExtracted: the transcript of audio streamed into the
// recognizer is the one of the extracted file, and the timings say both
// stages ran together.
func TestStreamedMatchesExtracted(t *testing.T) {
	t.Parallel()
	base := serveSite(t)
	ctx := context.Background()
	spec := api.TaskSpec{URL: base + "/speech.mp4", Language: "en"}
	streamed, fromFile := newPipeline(t), newPipeline(t)
	fromFile.Engines = map[string]asr.Engine{asr.NamePocketsphinx: fileOnly{asr.NewPocketsphinx(asr.PocketsphinxConfig{})}}

	a, err := streamed.Run(ctx, spec, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fromFile.Run(ctx, spec, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Result.Streamed || b.Result.Streamed {
		t.Fatalf("streamed = %v and %v", a.Result.Streamed, b.Result.Streamed)
	}
	if a.Transcript.Text != b.Transcript.Text {
		t.Errorf("streamed %q, from the file %q", a.Transcript.Text, b.Transcript.Text)
	}
	if wer := media.WER(speech, a.Transcript.Text); wer > 0.2 {
		t.Errorf("WER %.2f: %q", wer, a.Transcript.Text)
	}
	if d := a.Transcript.Duration - b.Transcript.Duration; d > 0.01 || d < -0.01 {
		t.Errorf("durations %g and %g", a.Transcript.Duration, b.Transcript.Duration)
	}
	// The recognizer began with the extraction and read all its output.
	if tm := a.Result.Timings; tm[StageTranscribe] < tm[StageExtract] {
		t.Errorf("timings %v: transcribe shorter than the extraction it overlaps", tm)
	}
}

// TestStreamWaitsForNoBusyRecognizer: when the recognizer's slots are all
// taken, the audio is extracted to a file meanwhile, as before streaming.
func TestStreamWaitsForNoBusyRecognizer(t *testing.T) {
	t.Parallel()
	base := serveSite(t)
	ctx := context.Background()
	p := newPipeline(t)
	p.StageLimits = map[string]int{StageTranscribe: 1}
	release, err := p.enter(ctx, StageTranscribe)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var rec recorder
	out, err := p.Run(ctx, api.TaskSpec{URL: base + "/speech.mp4", Language: "en"}, t.TempDir(), func(stage string, v float64) {
		rec.report(stage, v)
		if stage == StageExtract {
			once.Do(release) // the run decided before extracting
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.Streamed {
		t.Error("streamed into a recognizer that had no free slot")
	}
	if wer := media.WER(speech, out.Transcript.Text); wer > 0.2 {
		t.Errorf("WER %.2f: %q", wer, out.Transcript.Text)
	}
	rec.check(t, []string{StageDownload, StageExtract, StageTranscribe})
}

// TestStreamAbandonedForSplit: a prepare task starts recognizing at once,
// and stops once the media proves long enough to split: no transcript, no
// transcribe timing, the chunks as without streaming.
func TestStreamAbandonedForSplit(t *testing.T) {
	t.Parallel()
	url, _ := serveLong(t)
	p, w := watchedPipeline(t, nil)
	work := t.TempDir()
	prep, err := p.Prepare(context.Background(), api.TaskSpec{SourceURL: url, Filename: "long.webm", Language: "en", ChunkSeconds: 10}, work, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		prep.Cleanup()
		assertEmpty(t, work)
	}()
	if len(prep.Chunks) < 3 || prep.Result.Streamed {
		t.Fatalf("%d chunks, result %+v", len(prep.Chunks), prep.Result)
	}
	if _, ok := prep.Result.Timings[StageTranscribe]; ok {
		t.Errorf("a transcribe timing for split media: %v", prep.Result.Timings)
	}
	ended := w.ended()
	if len(ended) != 1 || !failure.IsCanceled(ended[0]) && !errors.Is(ended[0], context.Canceled) {
		t.Errorf("streams ended %v, want one canceled", ended)
	}
}

// TestStreamRecognizerFails: a recognizer that fails without reading its
// input fails the task at the transcribe stage; the decoder still finishes
// (it is drained, not left blocked) and nothing is left behind.
func TestStreamRecognizerFails(t *testing.T) {
	t.Parallel()
	base := serveSite(t)
	boom := failure.Transient(api.CodeTranscribeFailed, "recognizer crashed")
	p, w := watchedPipeline(t, boom)
	work := t.TempDir()
	_, err := p.Run(context.Background(), api.TaskSpec{URL: base + "/speech.webm", Language: "en"}, work, nil)
	if got, retry := failure.Classify(err); got.Code != api.CodeTranscribeFailed || !retry {
		t.Fatalf("Classify(%v) = %v, %v", err, got, retry)
	}
	if ended := w.ended(); len(ended) != 1 {
		t.Errorf("streams %v", ended)
	}
	assertEmpty(t, work)
}

// stalledEngine reads a little of its stream, then stops reading until gate
// is closed: a recognizer slower than the extraction.
type stalledEngine struct {
	*asr.Pocketsphinx
	gate chan struct{}
}

func (e *stalledEngine) TranscribeStream(ctx context.Context, pcm io.Reader, opts asr.Options) (api.Transcript, error) {
	first := make([]byte, 4096)
	n, err := io.ReadFull(pcm, first)
	if err != nil {
		return api.Transcript{}, err
	}
	select {
	case <-e.gate:
	case <-ctx.Done():
		return api.Transcript{}, ctx.Err()
	}
	return e.Pocketsphinx.TranscribeStream(ctx, io.MultiReader(bytes.NewReader(first[:n]), pcm), opts)
}

// TestStreamDoesNotPaceExtraction: a recognizer that stops reading does not
// hold the extraction up: the extract stage ends while it waits (the gate
// opens only once the transcribe stage is reported, after extraction), and
// the transcript is still whole.
func TestStreamDoesNotPaceExtraction(t *testing.T) {
	t.Parallel()
	base := serveSite(t)
	p := newPipeline(t)
	eng := &stalledEngine{Pocketsphinx: asr.NewPocketsphinx(asr.PocketsphinxConfig{}), gate: make(chan struct{})}
	p.Engines = map[string]asr.Engine{asr.NamePocketsphinx: eng}
	// Only a hang guard: a paced extraction would never end.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var once sync.Once
	out, err := p.Run(ctx, api.TaskSpec{URL: base + "/speech.webm", Language: "en"}, t.TempDir(), func(stage string, _ float64) {
		if stage == StageTranscribe {
			once.Do(func() { close(eng.gate) })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Result.Streamed {
		t.Error("not streamed")
	}
	if wer := media.WER(speech, out.Transcript.Text); wer > 0.2 {
		t.Errorf("WER %.2f: %q", wer, out.Transcript.Text)
	}
}
