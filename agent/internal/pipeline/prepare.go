package pipeline

import (
	"context"
	"os"
	"path/filepath"

	"github.com/ytcaption/ytcaption/agent/internal/audio"
	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Output is what a caption task (Run) or a prepare task (Prepare)
// produced: either a transcript (Chunks nil), or the audio split into
// chunks for transcribe tasks elsewhere; and, when the spec asked for one,
// the playback copy of the audio.
type Output struct {
	Transcript api.Transcript
	// Result describes Transcript, or, when split, the whole media (Duration,
	// Title, Timings).
	Result api.Result
	// Chunks are the split audio's WAV files, in order, covering the media
	// without gaps. They stay on disk until Cleanup.
	Chunks []audio.ChunkFile
	// Playback is the copy of the audio for players, possibly still being
	// encoded; nil when none was asked for or no audio was extracted (the
	// source's captions were used). It stays on disk until Cleanup.
	Playback *PlaybackCopy
	dir      string
}

// Cleanup removes the chunk files and the playback copy. It is safe on a
// zero Output.
func (o Output) Cleanup() {
	if o.Playback != nil {
		o.Playback.Cleanup()
	}
	if o.dir != "" {
		_ = os.RemoveAll(o.dir)
	}
}

// Prepare runs resolve → captions → download → extract for a prepare task.
// Captions, when used, are its transcript. Media shorter than two chunks
// (or any media when spec.ChunkSeconds is 0) is transcribed in place when
// inPlace (this agent transcribes) and it has the task's engine. Otherwise
// the audio is cut at silences into chunks of about spec.ChunkSeconds (one
// chunk when too short to cut; longer ones when api.MaxChunks would not
// do) in a directory the caller removes with
// Output.Cleanup; on error nothing is left behind.
func (p *Pipeline) Prepare(ctx context.Context, spec api.TaskSpec, workdir string, inPlace bool, progress ProgressFunc) (_ Output, err error) {
	r, err := p.newRun(spec, workdir, stages(), progress)
	if err != nil {
		return Output{}, err
	}
	keep := false
	defer func() {
		if !keep {
			r.cleanup()
		}
	}()
	defer r.dropPlayback(&err)
	ctx = r.context(ctx)
	if inPlace {
		// Without the engine this agent still prepares; the chunks go to
		// agents that have it.
		_ = r.useEngine()
	}
	inPlaceFor := func(dur float64) bool { return spec.ChunkSeconds <= 0 || dur < 2*spec.ChunkSeconds }
	r.splits = func(dur float64) bool { return dur > 0 && !inPlaceFor(dur) }
	wav, st, captions, err := r.audio(ctx)
	if err != nil {
		return Output{}, err
	}
	defer st.abandon()
	if captions != nil {
		r.finish(captions)
		return Output{Transcript: *captions, Result: r.res}, nil
	}
	dur, err := audio.WAVDuration(wav)
	if err != nil {
		return Output{}, failure.Transient(api.CodeInternal, "extract: %w", err)
	}
	if r.engine != nil && inPlaceFor(dur) {
		tr, err := r.recognize(ctx, wav, st)
		if err != nil {
			return Output{}, err
		}
		r.finish(&tr)
		return Output{Transcript: tr, Result: r.res, Playback: r.playback}, nil
	}

	st.abandon()
	var chunks []audio.ChunkFile
	err = r.stage(ctx, StageSplit, func(ctx context.Context) error {
		if p.Silencer == nil {
			return failure.Transient(api.CodeInternal, "this agent cannot split audio")
		}
		silences, err := p.Silencer.Silences(ctx, wav)
		if err != nil {
			return err
		}
		dir := filepath.Join(r.tmp, "chunks")
		if err := os.Mkdir(dir, 0o750); err != nil {
			return failure.Transient(api.CodeInternal, "chunk dir: %w", err)
		}
		// Longer chunks rather than more than the control plane takes:
		// Cuts' chunks are at least half the target long.
		target := max(spec.ChunkSeconds, 2*dur/api.MaxChunks)
		chunks, err = audio.SplitWAV(wav, audio.Cuts(dur, silences, target), dir)
		if err != nil {
			return failure.Transient(api.CodeInternal, "%w", err)
		}
		if len(chunks) > api.MaxChunks {
			return failure.Permanent(api.CodeTooLong, "%d chunks of %gs is more than %d", len(chunks), target, api.MaxChunks)
		}
		// The chunks hold every sample; free the disk before they upload.
		_ = os.Remove(wav)
		return nil
	})
	if err != nil {
		return Output{}, err
	}
	r.res.Duration = dur
	if r.res.Title == "" {
		r.res.Title = spec.Filename
	}
	keep = true
	return Output{Result: r.res, Chunks: chunks, Playback: r.playback, dir: r.tmp}, nil
}
