package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// PlaybackEncoder makes the browser-playable copy of a task's audio.
type PlaybackEncoder interface {
	EncodePlayback(ctx context.Context, in, out string) error
}

// PlaybackCopy is the browser-playable copy of a task's audio (Ogg Opus),
// encoded in the background from the extracted WAV while recognition or
// splitting goes on. It lives in its own directory, so it outlives the
// task's temporary files until Cleanup.
type PlaybackCopy struct {
	done   chan struct{}
	cancel context.CancelFunc
	dir    string
	path   string // set when done without err
	err    error
}

// Wait blocks until the copy is encoded, or ctx ends, and returns its path.
func (c *PlaybackCopy) Wait(ctx context.Context) (string, error) {
	select {
	case <-c.done:
		return c.path, c.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Cleanup stops the encoder if it still runs and removes the copy.
func (c *PlaybackCopy) Cleanup() {
	c.cancel()
	<-c.done
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}

// startPlayback starts encoding the copy of wav in a new directory under
// workdir. A failure is the copy's error, never the task's.
func startPlayback(ctx context.Context, enc PlaybackEncoder, wav, workdir string) *PlaybackCopy {
	ctx, cancel := context.WithCancel(ctx)
	c := &PlaybackCopy{done: make(chan struct{}), cancel: cancel}
	fail := func(err error) *PlaybackCopy {
		c.err = err
		close(c.done)
		return c
	}
	dir, err := os.MkdirTemp(workdir, "playback-")
	if err != nil {
		return fail(fmt.Errorf("playback dir: %w", err))
	}
	c.dir = dir
	// A link keeps the audio for the encoder when the task removes its WAV
	// (a prepare task does once it is split), at no cost in disk.
	src := filepath.Join(dir, "audio.wav")
	if err := os.Link(wav, src); err != nil {
		return fail(fmt.Errorf("playback source: %w", err))
	}
	go func() {
		defer close(c.done)
		out := filepath.Join(dir, "playback.ogg")
		err := enc.EncodePlayback(ctx, src, out)
		_ = os.Remove(src)
		if err != nil {
			c.err = fmt.Errorf("encode playback copy: %w", err)
			return
		}
		c.path = out
	}()
	return c
}
