package pipeline

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/agent/internal/audio"
	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

// longSpeech is about 35 s of speech with a pause after every sentence.
const longSpeech = "The weather is nice today. We will go for a walk in the park. Please call me when you get home. " +
	"The children are playing in the garden. My brother bought a new car last week. " +
	"The train leaves the station at nine in the morning. She reads a book every night before going to sleep. " +
	"We had dinner at a small restaurant near the river. The library is closed on Sunday. " +
	"I like to drink coffee with milk in the morning. The dog ran across the street to find the ball. " +
	"They are building a new school in our town. Please open the window because it is warm in here. " +
	"The meeting will start after lunch."

// serveLong serves longSpeech as a WebM upload and returns its URL and the
// WAV it was made from.
func serveLong(t *testing.T) (url, wav string) {
	t.Helper()
	dir := t.TempDir()
	wav = media.Speech(t, longSpeech)
	media.Copy(t, media.WebM(t, wav), dir, "long.webm")
	return media.Serve(t, dir) + "/long.webm", wav
}

// checkTiling fails unless chunks are valid WAVs, in order, covering [0, dur)
// without gaps, each as long as its span.
func checkTiling(t *testing.T, chunks []audio.ChunkFile, dur float64) {
	t.Helper()
	prev := 0.0
	for i, c := range chunks {
		if c.Index != i || math.Abs(c.Start-prev) > 1e-9 || c.End <= c.Start {
			t.Fatalf("chunk %d = %+v after %g", i, c, prev)
		}
		d, err := audio.WAVDuration(c.Path)
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if math.Abs(d-(c.End-c.Start)) > 1e-3 {
			t.Errorf("chunk %d holds %gs, spans %gs", i, d, c.End-c.Start)
		}
		prev = c.End
	}
	if math.Abs(prev-dur) > 1e-3 {
		t.Errorf("chunks end at %g, media at %g", prev, dur)
	}
}

func TestPrepare(t *testing.T) {
	t.Parallel()
	url, _ := serveLong(t)
	site := serveSite(t)
	p := newPipeline(t)
	ctx := context.Background()

	tests := []struct {
		name      string
		spec      api.TaskSpec
		inPlace   bool
		minChunks int // 0: completes in place with a transcript
		origin    string
		stages    []string
	}{
		{"long media splits at silences", api.TaskSpec{SourceURL: url, Filename: "long.webm", Language: "en", ChunkSeconds: 10}, true, 3, "",
			[]string{StageDownload, StageExtract, StageSplit}},
		{"prepare-only agent splits too", api.TaskSpec{SourceURL: url, Filename: "long.webm", Language: "en", ChunkSeconds: 10}, false, 3, "",
			[]string{StageDownload, StageExtract, StageSplit}},
		{"short media on a prepare-only agent is one chunk", api.TaskSpec{SourceURL: url, Filename: "long.webm", Language: "en", ChunkSeconds: 30}, false, 1, "",
			[]string{StageDownload, StageExtract, StageSplit}},
		{"short media is transcribed in place", api.TaskSpec{SourceURL: url, Filename: "long.webm", Language: "en", ChunkSeconds: 30}, true, 0, OriginASR,
			[]string{StageDownload, StageExtract, StageTranscribe}},
		{"captions complete in place", api.TaskSpec{URL: site + "/page.html", Language: "en", ChunkSeconds: 1}, true, 0, OriginCaptions,
			[]string{StageResolve, StageCaptions}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			var rec recorder
			prep, err := p.Prepare(ctx, tt.spec, work, tt.inPlace, rec.report)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				prep.Cleanup()
				assertEmpty(t, work)
			}()
			if !slices.Equal(rec.stages, tt.stages) {
				t.Errorf("stages %v, want %v", rec.stages, tt.stages)
			}
			for _, s := range tt.stages {
				if _, ok := prep.Result.Timings[s]; !ok {
					t.Errorf("no timing for %s: %v", s, prep.Result.Timings)
				}
			}
			if prep.Result.Streamed != (tt.origin == OriginASR) {
				t.Errorf("streamed = %v, timings %v", prep.Result.Streamed, prep.Result.Timings)
			}
			if tt.minChunks == 0 {
				if prep.Chunks != nil || prep.Result.Origin != tt.origin || prep.Result.Segments == 0 || prep.Transcript.Text == "" {
					t.Errorf("want a transcript, got %+v", prep)
				}
				return
			}
			if len(prep.Chunks) < tt.minChunks || prep.Result.Segments != 0 || prep.Result.Title != "long.webm" {
				t.Fatalf("%d chunks, result %+v", len(prep.Chunks), prep.Result)
			}
			if last := rec.values[len(rec.values)-1]; last != 0.5 {
				t.Errorf("split progress ends at %g, want 0.5", last)
			}
			checkTiling(t, prep.Chunks, prep.Result.Duration)
			if _, err := os.Stat(filepath.Join(filepath.Dir(prep.Chunks[0].Path), "..", "audio.wav")); !os.IsNotExist(err) {
				t.Errorf("the whole WAV is kept beside its chunks: %v", err)
			}
		})
	}

	t.Run("failure leaves nothing", func(t *testing.T) {
		t.Parallel()
		work := t.TempDir()
		_, err := p.Prepare(ctx, api.TaskSpec{SourceURL: site + "/missing.webm", ChunkSeconds: 10}, work, true, nil)
		if failure.Code(err) != api.CodeSourceNotFound {
			t.Errorf("err = %v", err)
		}
		assertEmpty(t, work)
	})
}

// TestChunksTranscribeAndMerge prepares the long speech into chunks, runs a
// transcribe task on each from a served copy, then merges their transcripts
// from served JSON: the graph's path through the pipeline.
func TestChunksTranscribeAndMerge(t *testing.T) {
	t.Parallel()
	url, _ := serveLong(t)
	p := newPipeline(t)
	ctx := context.Background()
	prep, err := p.Prepare(ctx, api.TaskSpec{SourceURL: url, Language: "en", ChunkSeconds: 10}, t.TempDir(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prep.Cleanup()
	served := t.TempDir()
	for _, c := range prep.Chunks {
		media.Copy(t, c.Path, served, filepath.Base(c.Path))
	}
	base := media.Serve(t, served)

	parts := make([]api.Part, len(prep.Chunks))
	for i, c := range prep.Chunks {
		chunk := api.Chunk{Index: c.Index, Start: c.Start, End: c.End}
		work := t.TempDir()
		var rec recorder
		tr, res, err := p.TranscribeChunk(ctx, api.TaskSpec{Language: "en", Chunk: &chunk, ChunkURL: base + "/" + filepath.Base(c.Path)}, work, rec.report)
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		assertEmpty(t, work)
		rec.check(t, []string{StageDownload, StageTranscribe})
		if tr.Duration != c.End || res.Duration != c.End || res.Segments != len(tr.Segments) || res.Words == 0 || res.Origin != OriginASR {
			t.Errorf("chunk %d: result %+v, duration %g", i, res, tr.Duration)
		}
		if _, ok := res.Timings[StageTranscribe]; !ok {
			t.Errorf("chunk %d: timings %v", i, res.Timings)
		}
		for _, s := range tr.Segments {
			for _, w := range s.Words {
				// Times are of the whole media: within the chunk, give or
				// take the recognizer's overshoot at its edges.
				if w.Start < c.Start-0.05 || w.End > c.End+0.25 {
					t.Errorf("chunk %d [%g, %g): word %q at [%g, %g]", i, c.Start, c.End, w.Word, w.Start, w.End)
				}
			}
		}
		body, err := json.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(c.Path) + ".json"
		if err := os.WriteFile(filepath.Join(served, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
		parts[i] = api.Part{Chunk: chunk, URL: base + "/" + name}
	}

	work := t.TempDir()
	var rec recorder
	tr, res, err := p.Merge(ctx, api.TaskSpec{Parts: parts}, work, rec.report)
	if err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, work)
	rec.check(t, []string{StageDownload, StageMerge})
	if wer := media.WER(longSpeech, tr.Text); wer > 0.3 {
		t.Errorf("merged WER %.2f: %q", wer, tr.Text)
	}
	if tr.Duration != prep.Result.Duration || res.Duration != tr.Duration || res.Segments != len(tr.Segments) || res.Engine == "" {
		t.Errorf("merged result %+v, duration %g (media %g)", res, tr.Duration, prep.Result.Duration)
	}
	last := 0.0
	for _, s := range tr.Segments {
		for _, w := range s.Words {
			if w.Start < last {
				t.Fatalf("word %q at %g before %g", w.Word, w.Start, last)
			}
			last = w.End
		}
	}

	failures := []struct {
		name  string
		run   func(work string) error
		code  string
		retry bool
	}{
		{"chunk gone", func(work string) error {
			_, _, err := p.TranscribeChunk(ctx, api.TaskSpec{Chunk: &api.Chunk{}, ChunkURL: base + "/gone.wav"}, work, nil)
			return err
		}, api.CodeChunkMissing, false},
		{"transcribe without a chunk", func(work string) error {
			_, _, err := p.TranscribeChunk(ctx, api.TaskSpec{ChunkURL: base + "/chunk-000.wav"}, work, nil)
			return err
		}, api.CodeInvalidRequest, false},
		{"part gone", func(work string) error {
			bad := slices.Clone(parts)
			bad[0].URL = base + "/gone.json"
			_, _, err := p.Merge(ctx, api.TaskSpec{Parts: bad}, work, nil)
			return err
		}, api.CodeDownloadFailed, true},
		{"parts with a gap", func(work string) error {
			_, _, err := p.Merge(ctx, api.TaskSpec{Parts: parts[1:]}, work, nil)
			return err
		}, api.CodeInternal, false},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			work := t.TempDir()
			got, retry := failure.Classify(tt.run(work))
			if got.Code != tt.code || retry != tt.retry {
				t.Errorf("Classify = %+v, %v; want %s, %v", got, retry, tt.code, tt.retry)
			}
			if tt.name == "parts with a gap" && !strings.Contains(got.Message, "parts do not tile") {
				t.Errorf("message %q", got.Message)
			}
			assertEmpty(t, work)
		})
	}
}

func TestShift(t *testing.T) {
	t.Parallel()
	tr := api.Transcript{Segments: []api.Segment{{Start: 0, End: 1, Words: []api.Word{{Start: 0.1, End: 0.5}, {Start: 0.6, End: 1}}}, {Start: 2, End: 3}}}
	shift(&tr, 10)
	want := api.Transcript{Segments: []api.Segment{{Start: 10, End: 11, Words: []api.Word{{Start: 10.1, End: 10.5}, {Start: 10.6, End: 11}}}, {Start: 12, End: 13}}}
	if got, _ := json.Marshal(tr); string(got) != string(mustJSON(t, want)) {
		t.Errorf("shift = %s", got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
