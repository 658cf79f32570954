package pipeline

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/asr"
	"github.com/ytcaption/ytcaption/agent/internal/audio"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// stream is recognition running on audio while it is being extracted: the
// recognizer loads its model while ffmpeg starts, then reads the WAV as
// ffmpeg writes it (audio.Follow), never slowing the extraction down.
type stream struct {
	r       *run
	start   time.Time
	cancel  context.CancelFunc
	written chan struct{} // closed when the extraction has ended

	once      sync.Once // abandon
	dropped   atomic.Bool
	reporting atomic.Bool // progress goes to the transcribe stage
	done      chan struct{}
	tr        api.Transcript
	err       error
}

// startStream starts recognition of audio yet to be decoded, when the
// engine can take a stream and has a free slot now; otherwise nil, and the
// audio is extracted to a file and transcribed from it, as a busy recognizer
// would make it wait anyway.
func (r *run) startStream(ctx context.Context, wav string) *stream {
	se, ok := r.engine.(asr.Streamer)
	if !ok || r.validate() != nil {
		return nil
	}
	release, ok := r.p.tryEnter(StageTranscribe)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{r: r, start: r.p.now(), cancel: cancel, written: make(chan struct{}), done: make(chan struct{})}
	opts := r.opts
	opts.Position = s.position
	go func() {
		defer close(s.done)
		defer release()
		defer cancel()
		pcm := audio.Follow(ctx, wav, s.written)
		defer pcm.Close()
		s.tr, s.err = se.TranscribeStream(ctx, pcm, opts)
	}()
	return s
}

// extracted tells the stream the WAV is complete (or will never be).
func (s *stream) extracted() {
	if s != nil {
		close(s.written)
	}
}

// position turns the recognizer's position in the audio into progress, once
// the probe has told the audio's length and the extract stage is over (the
// stages are reported in order, as when they run one after the other).
func (s *stream) position(sec float64) {
	if d := s.r.duration(); d > 0 && s.reporting.Load() {
		s.r.report(StageTranscribe, sec/d)
	}
}

// abandon stops recognition whose transcript is no longer wanted.
func (s *stream) abandon() {
	if s == nil {
		return
	}
	s.once.Do(func() {
		s.dropped.Store(true)
		s.cancel()
	})
	<-s.done
}

// abandoned reports whether abandon was called.
func (s *stream) abandoned() bool { return s.dropped.Load() }

// finish waits for the transcript and records the transcribe stage, which
// began with the extraction.
func (s *stream) finish(ctx context.Context) (api.Transcript, error) {
	r := s.r
	r.report(StageTranscribe, 0)
	s.reporting.Store(true)
	select {
	case <-s.done:
	case <-ctx.Done():
		s.abandon()
	}
	r.res.Timings[StageTranscribe] = r.p.now().Sub(s.start).Seconds()
	r.res.Streamed = true
	if s.err != nil {
		return api.Transcript{}, fmt.Errorf("%s: %w", StageTranscribe, s.err)
	}
	r.report(StageTranscribe, 1)
	tr := s.tr
	if tr.Engine.Name == "" {
		tr.Engine.Name = r.engine.Name()
	}
	tr.Engine.Origin = OriginASR
	return tr, nil
}

// tryEnter takes room in a bounded stage if there is some now.
func (p *Pipeline) tryEnter(stage string) (release func(), ok bool) {
	sem, bounded := p.stageSems()[stage]
	if !bounded {
		return func() {}, true
	}
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, true
	default:
		return nil, false
	}
}
