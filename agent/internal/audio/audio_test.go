package audio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

func TestProbeAndExtract(t *testing.T) {
	t.Parallel()
	ff := New(Config{})
	ctx := context.Background()
	wav := media.Speech(t, "Audio extraction works.")
	src, err := ff.Probe(ctx, wav)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		hasVideo bool
	}{
		{"wav", wav, false},
		{"mp4", media.MP4(t, wav), true},
		{"webm", media.WebM(t, wav), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := ff.Probe(ctx, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if !p.HasAudio || p.HasVideo != tt.hasVideo || math.Abs(p.Duration-src.Duration) > 0.5 || p.Size == 0 {
				t.Fatalf("probe = %+v (source %v s)", p, src.Duration)
			}
			out := filepath.Join(t.TempDir(), "out.wav")
			if err := ff.Extract(ctx, tt.path, out); err != nil {
				t.Fatal(err)
			}
			got, err := ff.Probe(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			if got.AudioCodec != "pcm_s16le" || got.SampleRate != SampleRate || got.Channels != 1 || got.HasVideo || math.Abs(got.Duration-src.Duration) > 0.5 {
				t.Fatalf("extracted = %+v", got)
			}
		})
	}
}

func TestFailures(t *testing.T) {
	t.Parallel()
	ff := New(Config{})
	ctx := context.Background()
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.mp4")
	if err := os.WriteFile(text, []byte("not media at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	silent := media.NoAudio(t)

	p, err := ff.Probe(ctx, silent)
	if err != nil || p.HasAudio || !p.HasVideo {
		t.Fatalf("probe of a video without audio = %+v, %v", p, err)
	}
	tests := []struct {
		name string
		run  func() error
		code string
	}{
		{"probe text", func() error { _, err := ff.Probe(ctx, text); return err }, api.CodeUndecodable},
		{"extract text", func() error { return ff.Extract(ctx, text, filepath.Join(dir, "a.wav")) }, api.CodeUndecodable},
		{"extract without audio", func() error { return ff.Extract(ctx, silent, filepath.Join(dir, "b.wav")) }, api.CodeNoAudio},
		{"probe missing file", func() error { _, err := ff.Probe(ctx, filepath.Join(dir, "nope.mp4")); return err }, api.CodeUndecodable},
	}
	for _, tt := range tests {
		got, retry := failure.Classify(tt.run())
		if got.Code != tt.code || retry {
			t.Errorf("%s: %v, retryable %v; want permanent %s", tt.name, got, retry, tt.code)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "b.wav")); !os.IsNotExist(err) {
		t.Errorf("failed extraction left its output: %v", err)
	}
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := New(Config{}).Extract(ctx, media.Speech(t, "Stop."), filepath.Join(t.TempDir(), "x.wav"))
	if !failure.IsCanceled(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	v, err := New(Config{}).Version(context.Background())
	if err != nil || v == "" {
		t.Fatalf("Version = %q, %v", v, err)
	}
}

// TestFollow: a follower started before the extraction reads exactly the
// samples of the finished WAV; one of a file never written ends when told;
// one whose context ends fails.
func TestFollow(t *testing.T) {
	t.Parallel()
	ff := New(Config{})
	ctx := context.Background()
	src := media.WebM(t, media.Speech(t, "Following a file being written works."))
	dir := t.TempDir()
	wav := filepath.Join(dir, "audio.wav")
	written := make(chan struct{})
	got := make(chan []byte, 1)
	go func() {
		r := Follow(ctx, wav, written)
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	if err := ff.Extract(ctx, src, wav); err != nil {
		t.Fatal(err)
	}
	close(written)
	pcm := <-got
	file, err := os.ReadFile(wav)
	if err != nil {
		t.Fatal(err)
	}
	// A plain 44-byte header, which pocketsphinx skips when it reads a file.
	if len(pcm) == 0 || len(file)-len(pcm) != 44 || !bytes.HasSuffix(file, pcm) {
		t.Fatalf("followed %d bytes of a %d-byte WAV", len(pcm), len(file))
	}

	never := make(chan struct{})
	close(never)
	if b, err := io.ReadAll(Follow(ctx, filepath.Join(dir, "missing.wav"), never)); err == nil || len(b) != 0 {
		t.Errorf("a WAV never written: %d bytes, %v", len(b), err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := io.ReadAll(Follow(cctx, filepath.Join(dir, "missing.wav"), make(chan struct{}))); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}
