package pipeline

import (
	"context"
	"math"
	"testing"

	"github.com/ytcaption/ytcaption/agent/internal/audio"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// checkOpus fails unless path is mono Ogg Opus lasting about dur seconds.
func checkOpus(t *testing.T, path string, dur float64) {
	t.Helper()
	pr, err := audio.New(audio.Config{}).Probe(context.Background(), path)
	if err != nil {
		t.Fatalf("ffprobe the playback copy: %v", err)
	}
	if pr.Format != "ogg" || pr.AudioCodec != "opus" || pr.Channels != 1 || pr.HasVideo || math.Abs(pr.Duration-dur) > 0.5 {
		t.Fatalf("playback copy = %+v, want mono Ogg Opus of %.1fs", pr, dur)
	}
}

// TestPlaybackCopy: a caption task given a media upload leaves a mono Ogg
// Opus copy of its audio, as long as the media, until Cleanup; so does a
// prepare task that splits, though it removes its WAV before returning. A
// task that used the source's captions downloaded nothing and has none.
func TestPlaybackCopy(t *testing.T) {
	t.Parallel()
	base := serveSite(t)
	long, _ := serveLong(t)
	p := newPipeline(t)
	ctx := context.Background()
	up := &api.Presigned{Method: "PUT", URL: "http://127.0.0.1:1/unused", Key: "jobs/j/media/playback.ogg"}

	t.Run("caption", func(t *testing.T) {
		t.Parallel()
		work := t.TempDir()
		out, err := p.Run(ctx, api.TaskSpec{URL: base + "/speech.mp4", Language: "en", MediaUpload: up}, work, nil)
		if err != nil {
			t.Fatal(err)
		}
		if out.Playback == nil {
			t.Fatal("no playback copy")
		}
		path, err := out.Playback.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		checkOpus(t, path, out.Result.Duration)
		out.Cleanup()
		assertEmpty(t, work)
	})
	t.Run("prepare that splits", func(t *testing.T) {
		t.Parallel()
		work := t.TempDir()
		out, err := p.Prepare(ctx, api.TaskSpec{SourceURL: long, Language: "en", ChunkSeconds: 10, MediaUpload: up}, work, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Chunks) < 2 || out.Playback == nil {
			t.Fatalf("%d chunks, playback %v", len(out.Chunks), out.Playback)
		}
		path, err := out.Playback.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		checkOpus(t, path, out.Result.Duration)
		out.Cleanup()
		assertEmpty(t, work)
	})
	t.Run("existing captions", func(t *testing.T) {
		t.Parallel()
		work := t.TempDir()
		out, err := p.Run(ctx, api.TaskSpec{URL: base + "/page.html", Language: "en", Captions: api.CaptionsPreferExisting, MediaUpload: up}, work, nil)
		if err != nil || out.Result.Origin != OriginCaptions || out.Playback != nil {
			t.Fatalf("captions: origin %q, playback %v, %v", out.Result.Origin, out.Playback, err)
		}
		out.Cleanup()
		assertEmpty(t, work)
	})
	t.Run("not asked for", func(t *testing.T) {
		t.Parallel()
		work := t.TempDir()
		out, err := p.Run(ctx, api.TaskSpec{URL: base + "/speech.webm", Language: "en"}, work, nil)
		if err != nil || out.Playback != nil {
			t.Fatalf("playback %v, %v", out.Playback, err)
		}
		assertEmpty(t, work)
	})
}

// TestPlaybackEncoderBroken: an encoder that fails leaves the task's
// transcript intact; only the copy reports the error.
func TestPlaybackEncoderBroken(t *testing.T) {
	t.Parallel()
	base := serveSite(t)
	p := newPipeline(t)
	p.Playback = audio.New(audio.Config{FFmpeg: "false"})
	work := t.TempDir()
	ctx := context.Background()
	out, err := p.Run(ctx, api.TaskSpec{URL: base + "/speech.webm", Language: "en",
		MediaUpload: &api.Presigned{Method: "PUT", URL: "http://127.0.0.1:1/unused"}}, work, nil)
	if err != nil {
		t.Fatalf("a broken playback encoder failed the task: %v", err)
	}
	if out.Result.Words == 0 || out.Playback == nil {
		t.Fatalf("result %+v, playback %v", out.Result, out.Playback)
	}
	if path, err := out.Playback.Wait(ctx); err == nil {
		t.Fatalf("broken encoder made %s", path)
	}
	out.Cleanup()
	assertEmpty(t, work)
}
