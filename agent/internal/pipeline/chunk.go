package pipeline

import (
	"context"
	"path/filepath"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// TranscribeChunk runs a transcribe task: it fetches the chunk's WAV from
// spec.ChunkURL, recognizes it and returns a transcript whose times are of
// the whole media (the chunk's start added) and whose duration is the
// chunk's end. A chunk that is gone (HTTP 404) fails permanently with
// api.CodeChunkMissing, so the control plane prepares the media again.
func (p *Pipeline) TranscribeChunk(ctx context.Context, spec api.TaskSpec, workdir string, progress ProgressFunc) (api.Transcript, api.Result, error) {
	if spec.Chunk == nil || spec.ChunkURL == "" {
		return api.Transcript{}, api.Result{}, failure.Permanent(api.CodeInvalidRequest, "transcribe task without a chunk")
	}
	r, err := p.newRun(spec, workdir, chunkStages(), progress)
	if err != nil {
		return api.Transcript{}, api.Result{}, err
	}
	defer r.cleanup()
	if err := r.useEngine(); err != nil {
		return api.Transcript{}, r.res, err
	}
	if err := r.validate(); err != nil {
		return api.Transcript{}, r.res, err
	}
	wav := filepath.Join(r.tmp, "chunk.wav")
	err = r.stage(ctx, StageDownload, func(ctx context.Context) error {
		_, err := p.Uploads.FetchURL(ctx, spec.ChunkURL, wav, 0)
		if failure.Code(err) == api.CodeSourceNotFound {
			return failure.Permanent(api.CodeChunkMissing, "chunk %d: %w", spec.Chunk.Index, err)
		}
		return err
	})
	if err != nil {
		return api.Transcript{}, r.res, err
	}
	tr, err := r.transcribe(ctx, wav)
	if err != nil {
		return api.Transcript{}, r.res, err
	}
	shift(&tr, spec.Chunk.Start)
	tr.Duration = spec.Chunk.End
	r.res.Duration = spec.Chunk.End
	r.finish(&tr)
	return tr, r.res, nil
}

// shift moves every time in tr by d seconds.
func shift(tr *api.Transcript, d float64) {
	for i := range tr.Segments {
		s := &tr.Segments[i]
		s.Start += d
		s.End += d
		for j := range s.Words {
			s.Words[j].Start += d
			s.Words[j].End += d
		}
	}
}
