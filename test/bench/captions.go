package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// ttcParts are the parts time to captions is split into, in order: the
// submit call, the wait in the queue, each agent stage (its own timings),
// the agent's time outside stages ("lease": the lease reply's transit,
// starting the work, the completion call; a streamed extraction overlaps
// transcribe and is not subtracted twice), and from the completion's commit
// until the captions were read ("complete").
var ttcParts = []string{"api", "queue", "lease", "resolve", "download", "extract", "transcribe", "upload", "complete"}

// TimeToCaptions measures what a person waits for: from POST /v1/jobs of
// a 12-second clip to its captions being read, on a warm agent (real
// ytcaption-agent with pocketsphinx, one task at a time) that is waiting
// for work, one job at a time. Everything but the transcribe stage is
// overhead. The client polls the job every 5 ms, so "complete" includes up
// to that much.
func TimeToCaptions(ctx context.Context, cfg Config, r *Results) error {
	sb, err := newSpeechBench(ctx, cfg, "time-to-captions", 12)
	if err != nil {
		return err
	}
	defer sb.close()
	if err := sb.startAgent("agent"); err != nil {
		return err
	}
	admin := sb.admin
	if err := waitAgents(ctx, admin, 1); err != nil {
		return err
	}

	var (
		total, overhead Latencies
		rtf             []float64
	)
	parts := map[string]*Latencies{}
	for _, p := range ttcParts {
		parts[p] = &Latencies{}
	}
	var audio float64
	for i := -1; i < cfg.Scale.CaptionRuns; i++ { // run -1 warms the agent up
		split, err := captionOnce(ctx, admin, fmt.Sprintf("%s?run=%d", sb.mediaURL, i))
		if err != nil {
			return err
		}
		if i < 0 {
			continue
		}
		for p, d := range split.parts {
			parts[p].Add(d)
		}
		total.Add(split.total)
		overhead.Add(split.total - split.parts["transcribe"])
		rtf = append(rtf, split.parts["transcribe"].Seconds()/split.audio)
		audio = split.audio
		cfg.Log.Info("time to captions", "run", i, "total", split.total, "transcribe", split.parts["transcribe"])
	}
	r.Set("e2e_seconds_12s_clip", total.Pct(50)/1000, "s")
	r.Set("e2e_overhead_ms_p50", overhead.Pct(50), "ms")
	r.Set("e2e_overhead_ms_p99", overhead.Pct(99), "ms")
	slices.Sort(rtf)
	r.Set("recognizer_rtf", rtf[len(rtf)/2], "ratio (median)")
	r.Set("e2e_clip_audio_s", audio, "s")
	for _, p := range ttcParts {
		r.AddSplit(SplitPart{Part: p, P50: parts[p].Pct(50), P99: parts[p].Pct(99)})
	}
	return nil
}

type captionSplit struct {
	total time.Duration
	parts map[string]time.Duration
	audio float64 // seconds of media
}

// captionOnce submits url uncached, waits for the job, reads its captions
// and splits the time it took.
func captionOnce(ctx context.Context, admin *api.Client, url string) (captionSplit, error) {
	f := false
	t0 := time.Now()
	j, err := admin.SubmitJob(ctx, api.JobRequest{URL: url, Language: "en", Cache: &f}, "")
	if err != nil {
		return captionSplit{}, fmt.Errorf("submit: %w", err)
	}
	apiTime := time.Since(t0)
	j, err = admin.WaitJob(ctx, j.ID, 5*time.Millisecond, nil)
	if err != nil {
		return captionSplit{}, fmt.Errorf("wait for job: %w", err)
	}
	if j.Status != api.JobSucceeded || j.Result == nil {
		return captionSplit{}, fmt.Errorf("job %s ended %s: %+v", j.ID, j.Status, j.Error)
	}
	if err := admin.Captions(ctx, j.ID, api.CaptionOptions{Format: "srt"}, io.Discard); err != nil {
		return captionSplit{}, fmt.Errorf("read captions: %w", err)
	}
	readAt := time.Now()
	tasks, err := admin.JobTasks(ctx, j.ID)
	if err != nil {
		return captionSplit{}, fmt.Errorf("job tasks: %w", err)
	}
	if len(tasks.Tasks) != 1 || len(tasks.Tasks[0].Runs) != 1 || tasks.Tasks[0].Runs[0].EndedAt == nil {
		return captionSplit{}, fmt.Errorf("job %s: want one task run once, got %+v", j.ID, tasks.Tasks)
	}
	run := tasks.Tasks[0].Runs[0]
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	sp := captionSplit{total: readAt.Sub(t0), audio: j.Result.Duration, parts: map[string]time.Duration{
		"api":      apiTime,
		"queue":    run.StartedAt.Sub(j.CreatedAt),
		"complete": readAt.Sub(*run.EndedAt),
	}}
	agent := run.EndedAt.Sub(run.StartedAt)
	for stage, s := range j.Result.Timings {
		if !slices.Contains(ttcParts, stage) {
			stage = "lease" // a stage this split does not name (captions, say) counts as agent time
		}
		sp.parts[stage] += sec(s)
		agent -= sec(s)
	}
	if j.Result.Streamed {
		// The extraction ran inside the transcribe stage's time.
		agent += sp.parts["extract"]
	}
	sp.parts["lease"] += agent
	return sp, nil
}
