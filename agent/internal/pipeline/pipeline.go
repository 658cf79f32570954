// Package pipeline runs the agent's tasks as ordered stages. A caption task
// is resolve → captions → download → extract → transcribe (Run); a prepare
// task stops after extract and splits the audio at silences (Prepare),
// unless captions or short media let it finish in place; a transcribe task
// recognizes one chunk (TranscribeChunk); a merge task stitches the chunks'
// transcripts (Merge). It prefers a source's human-made captions when the
// job allows, fetches uploads over HTTP instead of yt-dlp, enforces duration
// and size limits, reports progress and per-stage timings, and always
// removes its temporary files.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/asr"
	"github.com/ytcaption/ytcaption/agent/internal/audio"
	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/agent/internal/source"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/site"
)

// Stage names, as reported in progress and timings.
const (
	StageResolve    = "resolve"
	StageCaptions   = "captions"
	StageDownload   = "download"
	StageExtract    = "extract"
	StageTranscribe = "transcribe"
	StageSplit      = "split" // prepare: silences found, audio cut into chunks
	StageMerge      = "merge" // merge: chunk transcripts stitched
)

// Transcript origins.
const (
	OriginASR      = "asr"
	OriginCaptions = "captions"
)

type stageWeight struct {
	name   string
	weight float64
}

// stages returns the stages in order with their share of overall progress.
// Transcription dominates the time of a typical task. A prepare task that
// splits reports split at the share before transcription (0.5): the control
// plane counts the rest of the job's progress in its chunks.
func stages() []stageWeight {
	return []stageWeight{
		{StageResolve, 0.05},
		{StageCaptions, 0.05},
		{StageDownload, 0.30},
		{StageExtract, 0.10},
		{StageSplit, 0},
		{StageTranscribe, 0.50},
	}
}

// chunkStages are the stages of a transcribe task: fetching a chunk is quick.
func chunkStages() []stageWeight {
	return []stageWeight{{StageDownload, 0.05}, {StageTranscribe, 0.95}}
}

// mergeStages are the stages of a merge task.
func mergeStages() []stageWeight {
	return []stageWeight{{StageDownload, 0.8}, {StageMerge, 0.2}}
}

// Resolver learns what a URL is without downloading it.
type Resolver interface {
	Resolve(ctx context.Context, url string) (source.Info, error)
}

// CaptionFetcher gets a human-made caption track as a transcript.
type CaptionFetcher interface {
	FetchCaptions(ctx context.Context, url, lang, dir string) (api.Transcript, error)
}

// Downloader fetches a source's audio into dir.
type Downloader interface {
	Download(ctx context.Context, url, dir string, lim source.Limits) (string, error)
}

// MediaFetcher fetches a URL that names a media file into dir, returning
// its path and the response's validator (site.Validator), which keys the
// result cache for the bytes actually captioned.
type MediaFetcher interface {
	Download(ctx context.Context, url, dir string, lim source.Limits) (path, validator string, err error)
}

// UploadFetcher fetches an uploaded file from a presigned URL.
type UploadFetcher interface {
	FetchURL(ctx context.Context, url, dest string, maxBytes int64) (int64, error)
}

// Media probes media files and extracts their audio for the engines.
type Media interface {
	Probe(ctx context.Context, path string) (audio.Probe, error)
	Extract(ctx context.Context, in, out string) error
}

// Silencer finds the silences of an extracted WAV, where Prepare may cut.
type Silencer interface {
	Silences(ctx context.Context, wav string) ([]audio.Silence, error)
}

// Limits bound the media a task may process; the tighter of these and the
// task's own limits applies.
type Limits = source.Limits

// ProgressFunc receives the current stage and overall progress (0..1, never
// decreasing). It is called from the goroutine running the task and from
// engine output readers, never concurrently.
type ProgressFunc func(stage string, progress float64)

// Pipeline runs tasks. Its fields are read-only once Run is called, so one
// Pipeline serves concurrent tasks.
type Pipeline struct {
	Resolver   Resolver
	Captions   CaptionFetcher
	Downloader Downloader
	// Direct, when set, fetches URLs that name a media file (site.IsMediaURL)
	// itself: no resolve, no caption lookup (a file has no tracks), no
	// yt-dlp. A web page in the file's place goes the yt-dlp way after all.
	Direct   MediaFetcher
	Uploads  UploadFetcher
	Media    Media
	Silencer Silencer // Prepare only
	// Playback encodes the copy of the audio a browser plays, for tasks
	// whose spec has a MediaUpload; nil makes none.
	Playback PlaybackEncoder
	// Engines by name; DefaultEngine is used unless the task's model names
	// another engine ("whisper-cpp:base.en").
	Engines       map[string]asr.Engine
	DefaultEngine string
	Limits        Limits
	Logger        *slog.Logger
	Now           func() time.Time // clock for timings; default time.Now
	// StageLimits caps how many runs may be in a stage at once (e.g. one
	// transcription per GPU, a few downloads); stages not named are unbounded.
	StageLimits map[string]int

	semOnce sync.Once
	sems    map[string]chan struct{}
}

// Config builds a Pipeline on the real tools.
type Config struct {
	YTDLP         source.Config
	FFmpeg        audio.Config
	HTTPClient    *http.Client // for uploads; default http.DefaultClient
	Engines       map[string]asr.Engine
	DefaultEngine string
	Limits        Limits
	Logger        *slog.Logger
	Now           func() time.Time
	Breakers      BreakerSettings
	StageLimits   map[string]int
}

// New returns a Pipeline using yt-dlp, ffmpeg and HTTP for its stages.
func New(cfg Config) *Pipeline {
	yt := source.NewYTDLP(cfg.YTDLP)
	guarded := NewSiteBreakers(yt, yt, yt, cfg.Breakers, cfg.Logger)
	ff := audio.New(cfg.FFmpeg)
	return &Pipeline{
		Resolver:      guarded,
		Captions:      guarded,
		Downloader:    guarded,
		Direct:        source.NewDirect(cfg.YTDLP),
		StageLimits:   cfg.StageLimits,
		Uploads:       &source.HTTP{Client: cfg.HTTPClient},
		Media:         ff,
		Silencer:      ff,
		Playback:      ff,
		Engines:       cfg.Engines,
		DefaultEngine: cfg.DefaultEngine,
		Limits:        cfg.Limits,
		Logger:        cfg.Logger,
		Now:           cfg.Now,
	}
}

// Run performs a caption task's spec inside a fresh temporary directory
// under workdir, which is removed on every return path. Errors are
// classified for failure.Classify and prefixed with the stage that failed;
// a canceled ctx yields an error matching context.Canceled once every
// subprocess has exited. The output may hold a playback copy still being
// encoded: the caller calls its Cleanup.
func (p *Pipeline) Run(ctx context.Context, spec api.TaskSpec, workdir string, progress ProgressFunc) (_ Output, err error) {
	r, err := p.newRun(spec, workdir, stages(), progress)
	if err != nil {
		return Output{}, err
	}
	defer r.cleanup()
	defer r.dropPlayback(&err)
	ctx = r.context(ctx)
	if err := r.useEngine(); err != nil {
		return Output{}, err
	}
	wav, st, captions, err := r.audio(ctx)
	if err != nil {
		return Output{}, err
	}
	defer st.abandon()
	tr := captions
	if tr == nil {
		t, err := r.recognize(ctx, wav, st)
		if err != nil {
			return Output{}, err
		}
		tr = &t
	}
	r.finish(tr)
	return Output{Transcript: *tr, Result: r.res, Playback: r.playback}, nil
}

// newRun makes a run of spec in a fresh temporary directory under workdir,
// which cleanup removes.
func (p *Pipeline) newRun(spec api.TaskSpec, workdir string, weights []stageWeight, progress ProgressFunc) (*run, error) {
	if err := os.MkdirAll(workdir, 0o750); err != nil {
		return nil, fmt.Errorf("workdir: %w", err)
	}
	tmp, err := os.MkdirTemp(workdir, "task-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	return &run{p: p, spec: spec, tmp: tmp, lim: p.limits(spec), weights: weights, progress: progress,
		res: api.Result{Timings: map[string]float64{}}}, nil
}

func (p *Pipeline) limits(spec api.TaskSpec) Limits {
	lim := p.Limits
	if spec.MaxDuration > 0 && (lim.MaxDuration == 0 || spec.MaxDuration < lim.MaxDuration) {
		lim.MaxDuration = spec.MaxDuration
	}
	if spec.MaxBytes > 0 && (lim.MaxBytes == 0 || spec.MaxBytes < lim.MaxBytes) {
		lim.MaxBytes = spec.MaxBytes
	}
	return lim
}

// engine picks the engine for a task's model: "engine:model", a bare
// engine name, or a model for the default engine.
func (p *Pipeline) engine(model string) (asr.Engine, string, error) {
	name := p.DefaultEngine
	if n, m, ok := strings.Cut(model, ":"); ok {
		if _, known := p.Engines[n]; known {
			name, model = n, m
		}
	} else if _, known := p.Engines[model]; known {
		name, model = model, ""
	}
	if name == "" && len(p.Engines) == 1 {
		for n := range p.Engines {
			name = n
		}
	}
	e, ok := p.Engines[name]
	if !ok || e == nil {
		// This agent was matched to a task it cannot run; another may.
		return nil, "", failure.Transient(api.CodeTranscribeFailed, "no speech recognition engine %q on this agent", name)
	}
	return e, model, nil
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pipeline) log() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// run is the state of one task.
type run struct {
	p        *Pipeline
	spec     api.TaskSpec
	tmp      string
	lim      Limits
	weights  []stageWeight
	progress ProgressFunc
	res      api.Result
	engine   asr.Engine // nil: this run does not transcribe
	opts     asr.Options
	playback *PlaybackCopy // being encoded from the extracted audio
	// splits, when set, tells from the media's length that its audio will
	// be split rather than transcribed here (Prepare).
	splits func(duration float64) bool

	mu   sync.Mutex // engines may report progress from their output readers; the probe sets res.Duration beside them
	last float64
}

// duration is the media's length as far as known yet (0: not yet).
func (r *run) duration() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.res.Duration
}

func (r *run) cleanup() { _ = os.RemoveAll(r.tmp) }

// dropPlayback removes the playback copy when the task failed: it is only
// wanted with a result.
func (r *run) dropPlayback(err *error) {
	if *err != nil && r.playback != nil {
		r.playback.Cleanup()
	}
}

// context lets the run's downloads reach private addresses when the task
// allows them.
func (r *run) context(ctx context.Context) context.Context {
	if r.spec.AllowPrivate {
		return source.AllowPrivate(ctx)
	}
	return ctx
}

// useEngine picks the engine for the task's model.
func (r *run) useEngine() error {
	engine, model, err := r.p.engine(r.spec.Model)
	if err != nil {
		return err
	}
	r.engine, r.opts = engine, asr.Options{Language: r.spec.Language, Task: r.spec.Task, Model: model}
	return nil
}

// report sends overall progress for stage at fraction done of it.
func (r *run) report(stage string, done float64) {
	if r.progress == nil {
		return
	}
	total := 0.0
	for _, s := range r.weights {
		if s.name == stage {
			total += s.weight * max(0, min(1, done))
			break
		}
		total += s.weight
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if total < r.last {
		total = r.last
	}
	r.last = total
	r.progress(stage, total)
}

// stageSems makes, once, the semaphores of the bounded stages.
func (p *Pipeline) stageSems() map[string]chan struct{} {
	p.semOnce.Do(func() {
		p.sems = map[string]chan struct{}{}
		for name, n := range p.StageLimits {
			if n > 0 {
				p.sems[name] = make(chan struct{}, n)
			}
		}
	})
	return p.sems
}

// ShareStages makes p count its bounded stages together with prev's, so a
// pipeline rebuilt while prev's tasks still run (other engines, another
// yt-dlp) keeps StageLimits across both. Call it before p runs anything.
func (p *Pipeline) ShareStages(prev *Pipeline) {
	sems := prev.stageSems()
	p.semOnce.Do(func() { p.sems = sems })
}

// enter waits for room in a bounded stage.
func (p *Pipeline) enter(ctx context.Context, stage string) (release func(), err error) {
	sem, ok := p.stageSems()[stage]
	if !ok {
		return func() {}, nil
	}
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stage runs fn as stage, recording its time and wrapping its error.
func (r *run) stage(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	release, err := r.p.enter(ctx, name)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer release()
	r.report(name, 0)
	start := r.p.now()
	err = fn(ctx)
	r.res.Timings[name] = r.p.now().Sub(start).Seconds()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r.report(name, 1)
	return nil
}

// checkMedia probes the downloaded media: it must have audio and be
// within the duration limit. The probed duration becomes the result's.
func (r *run) checkMedia(ctx context.Context, media string) error {
	probe, err := r.p.Media.Probe(ctx, media)
	if err != nil {
		return err
	}
	if !probe.HasAudio {
		return failure.Permanent(api.CodeNoAudio, "the media has no audio stream")
	}
	if probe.Duration > 0 {
		r.mu.Lock()
		r.res.Duration = probe.Duration
		r.mu.Unlock()
	}
	return source.CheckLimits(source.Info{Duration: probe.Duration}, r.lim)
}

// direct downloads a URL naming a media file without yt-dlp; "" with no
// error means it is no such URL (or a page stood in the file's place).
func (r *run) direct(ctx context.Context) (string, error) {
	if r.p.Direct == nil || !site.IsMediaURL(r.spec.URL) {
		return "", nil
	}
	if err := r.validate(); err != nil {
		return "", err
	}
	var media string
	err := r.stage(ctx, StageDownload, func(ctx context.Context) error {
		var err error
		media, r.res.SourceValidator, err = r.p.Direct.Download(ctx, r.spec.URL, r.tmp, r.lim)
		return err
	})
	if errors.Is(err, source.ErrNotMedia) {
		r.p.log().Info("the media URL answered with a web page; asking yt-dlp", "url", r.spec.URL)
		return "", nil
	}
	r.res.Title = source.Title(r.spec.URL)
	return media, err
}

// audio runs resolve → captions → download → extract and returns the
// extracted WAV, or the source's captions when they are used (then wav is "").
// When the engine takes streams, recognition starts with the extraction and
// st yields its transcript; st is nil otherwise.
func (r *run) audio(ctx context.Context) (wav string, st *stream, captions *api.Transcript, err error) {
	var media string
	if r.spec.SourceURL != "" {
		r.res.Title = r.spec.Filename
		if err := r.validate(); err != nil {
			return "", nil, nil, err
		}
		err := r.stage(ctx, StageDownload, func(ctx context.Context) error {
			media = filepath.Join(r.tmp, "upload"+safeExt(r.spec.Filename))
			_, err := r.p.Uploads.FetchURL(ctx, r.spec.SourceURL, media, r.lim.MaxBytes)
			return err
		})
		if err != nil {
			return "", nil, nil, err
		}
	} else {
		if r.spec.URL == "" {
			return "", nil, nil, failure.Permanent(api.CodeInvalidRequest, "task has neither url nor source_url")
		}
		if media, err = r.direct(ctx); err != nil {
			return "", nil, nil, err
		}
	}
	if media == "" {
		var info source.Info
		err := r.stage(ctx, StageResolve, func(ctx context.Context) error {
			var err error
			if info, err = r.p.Resolver.Resolve(ctx, r.spec.URL); err != nil {
				return err
			}
			r.res.Title, r.res.Duration = info.Title, info.Duration
			return source.CheckLimits(info, r.lim)
		})
		if err != nil {
			return "", nil, nil, err
		}
		if tr, ok, err := r.captions(ctx, info); err != nil || ok {
			if err != nil {
				return "", nil, nil, err
			}
			return "", nil, &tr, nil
		}
		if err := r.validate(); err != nil {
			return "", nil, nil, err
		}
		err = r.stage(ctx, StageDownload, func(ctx context.Context) error {
			var err error
			media, err = r.p.Downloader.Download(ctx, r.spec.URL, r.tmp, r.lim)
			return err
		})
		if err != nil {
			return "", nil, nil, err
		}
	}

	wav = filepath.Join(r.tmp, "audio.wav")
	if r.splits == nil || !r.splits(r.duration()) {
		st = r.startStream(ctx, wav)
	}
	err = r.stage(ctx, StageExtract, func(ctx context.Context) error {
		// The probe runs beside the extraction rather than before it: on a
		// short clip waiting for it would cost as much as the extraction
		// itself. Its verdict (no audio, too long) stops the extraction
		// and is the stage's error.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		probed := make(chan error, 1)
		go func() {
			err := r.checkMedia(ctx, media)
			if err != nil {
				cancel()
			} else if st != nil && r.splits != nil && r.splits(r.duration()) {
				st.abandon()
			}
			probed <- err
		}()
		err := r.p.Media.Extract(ctx, media, wav)
		if perr := <-probed; perr != nil {
			_ = os.Remove(wav)
			return perr
		}
		if err != nil {
			return err
		}
		// The source is no longer needed; free the disk early on long media.
		_ = os.Remove(media)
		return nil
	})
	st.extracted()
	if err != nil {
		st.abandon()
		return "", nil, nil, err
	}
	if r.spec.MediaUpload != nil && r.p.Playback != nil {
		r.playback = startPlayback(ctx, r.p.Playback, wav, filepath.Dir(r.tmp))
	}
	return wav, st, nil, nil
}

// recognize returns st's transcript, or transcribes wav when there is no
// stream (or it was abandoned when the media looked long enough to split).
func (r *run) recognize(ctx context.Context, wav string, st *stream) (api.Transcript, error) {
	if st != nil && !st.abandoned() {
		return st.finish(ctx)
	}
	return r.transcribe(ctx, wav)
}

// transcribe runs the engine on wav.
func (r *run) transcribe(ctx context.Context, wav string) (api.Transcript, error) {
	var tr api.Transcript
	err := r.stage(ctx, StageTranscribe, func(ctx context.Context) error {
		opts := r.opts
		opts.Progress = func(done float64) { r.report(StageTranscribe, done) }
		var err error
		if tr, err = r.engine.Transcribe(ctx, wav, opts); err != nil {
			return err
		}
		if tr.Engine.Name == "" {
			tr.Engine.Name = r.engine.Name()
		}
		return nil
	})
	if err != nil {
		return api.Transcript{}, err
	}
	tr.Engine.Origin = OriginASR
	return tr, nil
}

// validate rejects what the engine cannot do (a language, a model) before
// media is fetched, so such a job fails in seconds, not after a download.
func (r *run) validate() error {
	if r.engine == nil {
		return nil // not transcribing here
	}
	if v, ok := r.engine.(asr.Validator); ok {
		return v.Validate(r.opts)
	}
	return nil
}

// captions tries the source's human-made captions. ok is false when there
// are none to use, or fetching them failed: then ASR runs instead, since a
// missing caption file is no reason to fail a job that ASR can do.
func (r *run) captions(ctx context.Context, info source.Info) (api.Transcript, bool, error) {
	lang, ok := captionLanguage(r.spec, info)
	if !ok || r.p.Captions == nil {
		return api.Transcript{}, false, nil
	}
	var tr api.Transcript
	err := r.stage(ctx, StageCaptions, func(ctx context.Context) error {
		var err error
		tr, err = r.p.Captions.FetchCaptions(ctx, r.spec.URL, lang, r.tmp)
		if err == nil && len(tr.Segments) == 0 {
			err = fmt.Errorf("%s: empty caption track: %w", lang, source.ErrNoCaptions)
		}
		return err
	})
	if err != nil {
		if failure.IsCanceled(err) {
			return api.Transcript{}, false, err
		}
		r.p.log().LogAttrs(ctx, slog.LevelWarn, "captions unusable; falling back to ASR",
			slog.String("url", r.spec.URL), slog.String("lang", lang), slog.Any("err", err))
		return api.Transcript{}, false, nil
	}
	tr.Language = lang
	tr.Engine = api.EngineInfo{Name: OriginCaptions, Origin: OriginCaptions}
	if info.Duration > tr.Duration {
		tr.Duration = info.Duration
	}
	return tr, true, nil
}

// captionLanguage decides whether captions-first applies and which track to
// fetch. A translation to English can use an English track; "auto" uses the
// video's own language when the site tells it, else captions are skipped.
func captionLanguage(spec api.TaskSpec, info source.Info) (string, bool) {
	if spec.Captions == api.CaptionsASROnly {
		return "", false
	}
	want := spec.Language
	switch {
	case spec.Task == api.TaskTranslate:
		want = "en"
	case want == "" || strings.EqualFold(want, "auto"):
		want = info.Language
	}
	if want == "" {
		return "", false
	}
	return info.SubtitleLanguage(want)
}

// finish fills the result from the transcript.
func (r *run) finish(tr *api.Transcript) {
	if tr.Duration < r.res.Duration {
		tr.Duration = r.res.Duration
	}
	if tr.Segments == nil {
		tr.Segments = []api.Segment{}
	}
	r.res.Duration = tr.Duration
	r.res.Origin = tr.Engine.Origin
	r.res.Language = tr.Language
	r.res.Engine = tr.Engine.Name
	r.res.Model = tr.Engine.Model
	r.res.Segments = len(tr.Segments)
	for _, s := range tr.Segments {
		r.res.Words += len(s.Words)
	}
	if r.res.Title == "" {
		r.res.Title = r.spec.Filename
	}
	if r.progress != nil {
		last := r.weights[len(r.weights)-1].name
		if r.res.Origin == OriginCaptions {
			last = StageCaptions
		}
		r.mu.Lock()
		r.last = 1
		r.mu.Unlock()
		r.progress(last, 1)
	}
}

var extRe = regexp.MustCompile(`^\.[A-Za-z0-9]{1,8}$`)

// safeExt keeps an upload's extension (a hint for ffprobe) when it is plain.
func safeExt(name string) string {
	if ext := filepath.Ext(name); extRe.MatchString(ext) {
		return strings.ToLower(ext)
	}
	return ""
}
