package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/agent/internal/stitch"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// maxPartBytes bounds one chunk transcript a merge fetches.
const maxPartBytes = 64 << 20

// Merge runs a merge task: it fetches the chunks' transcripts (spec.Parts,
// presigned GETs of JSON api.Transcript) and stitches them into the job's
// transcript. It needs no engine.
func (p *Pipeline) Merge(ctx context.Context, spec api.TaskSpec, workdir string, progress ProgressFunc) (api.Transcript, api.Result, error) {
	if len(spec.Parts) == 0 {
		return api.Transcript{}, api.Result{}, failure.Permanent(api.CodeInvalidRequest, "merge task without parts")
	}
	r, err := p.newRun(spec, workdir, mergeStages(), progress)
	if err != nil {
		return api.Transcript{}, api.Result{}, err
	}
	defer r.cleanup()
	parts := make([]stitch.Part, 0, len(spec.Parts))
	err = r.stage(ctx, StageDownload, func(ctx context.Context) error {
		for i, sp := range spec.Parts {
			tr, err := r.fetchPart(ctx, sp)
			if err != nil {
				return err
			}
			// A chunk transcript's duration is of the whole media (its
			// chunk's end); Stitch counts it from the part's start.
			tr.Duration = max(0, tr.Duration-sp.Start)
			parts = append(parts, stitch.Part{Index: sp.Index, Start: sp.Start, End: sp.End, Transcript: tr})
			r.report(StageDownload, float64(i+1)/float64(len(spec.Parts)))
		}
		return nil
	})
	if err != nil {
		return api.Transcript{}, r.res, err
	}
	var tr api.Transcript
	err = r.stage(ctx, StageMerge, func(context.Context) error {
		var err error
		if tr, err = stitch.Stitch(parts); err != nil {
			// The control plane handed out parts that do not fit: another
			// attempt would get the same ones.
			return failure.Permanent(api.CodeInternal, "%w", err)
		}
		return nil
	})
	if err != nil {
		return api.Transcript{}, r.res, err
	}
	r.finish(&tr)
	return tr, r.res, nil
}

// fetchPart downloads and decodes one chunk's transcript. A missing one is
// worth another attempt (the control plane may still be settling), not a
// failed job.
func (r *run) fetchPart(ctx context.Context, part api.Part) (api.Transcript, error) {
	path := filepath.Join(r.tmp, fmt.Sprintf("part-%06d.json", part.Index))
	defer os.Remove(path)
	if _, err := r.p.Uploads.FetchURL(ctx, part.URL, path, maxPartBytes); err != nil {
		if failure.IsCanceled(err) {
			return api.Transcript{}, err
		}
		return api.Transcript{}, failure.Transient(api.CodeDownloadFailed, "part %d: %w", part.Index, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return api.Transcript{}, fmt.Errorf("part %d: %w", part.Index, err)
	}
	var tr api.Transcript
	if err := json.Unmarshal(data, &tr); err != nil {
		return api.Transcript{}, failure.Transient(api.CodeDownloadFailed, "part %d: decode transcript: %w", part.Index, err)
	}
	return tr, nil
}
