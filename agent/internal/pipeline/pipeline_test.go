package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/ytcaption/ytcaption/agent/internal/asr"
	"github.com/ytcaption/ytcaption/agent/internal/audio"
	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/agent/internal/source"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/subtitle"
	"github.com/ytcaption/ytcaption/test/media"
)

const speech = "The weather is nice today. We will go for a walk in the park. Please call me when you get home."

// newPipeline returns a pipeline on the real tools with pocketsphinx.
func newPipeline(t *testing.T) *Pipeline {
	t.Helper()
	sphinx := asr.NewPocketsphinx(asr.PocketsphinxConfig{})
	if err := sphinx.Check(context.Background()); err != nil {
		t.Fatalf("pocketsphinx unavailable (run test/env/bootstrap.sh): %v", err)
	}
	return New(Config{
		YTDLP:         source.Config{Retries: 1},
		Engines:       map[string]asr.Engine{asr.NamePocketsphinx: sphinx},
		DefaultEngine: asr.NamePocketsphinx,
		Limits:        Limits{MaxDuration: 600, MaxBytes: 100 << 20},
	})
}

// serveSite generates the test media once per call and serves it: MP4 and
// WebM speech, a video without audio, a text file, and an HTML page that
// embeds the MP4 with a human-made English subtitle track.
func serveSite(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	wav := media.Speech(t, speech)
	media.Copy(t, wav, dir, "speech.wav")
	mp4, webm := media.MP4(t, wav), media.WebM(t, wav)
	media.Copy(t, mp4, dir, "speech.mp4")
	media.Copy(t, webm, dir, "speech.webm")
	// Without an extension the URL names no media file: yt-dlp gets it.
	media.Copy(t, mp4, dir, "speech-mp4")
	media.Copy(t, webm, dir, "speech-webm")
	media.Copy(t, media.NoAudio(t), dir, "silent.mp4")
	files := map[string]string{
		"notes.mp4": "this is a text file, not media\n",
		"page.html": `<!DOCTYPE html><html><head><title>Weather talk</title></head><body>
<video controls><source src="speech.mp4" type="video/mp4">
<track kind="subtitles" src="speech.en.vtt" srclang="en" label="English"></video></body></html>`,
		"speech.en.vtt": "WEBVTT\n\n00:00.000 --> 00:02.500\nThe weather is nice today.\n\n00:02.500 --> 00:05.000\nWe will go for a walk in the park.\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return media.Serve(t, dir)
}

// recorder collects progress reports.
type recorder struct {
	mu     sync.Mutex
	stages []string
	values []float64
}

func (r *recorder) report(stage string, p float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.stages) == 0 || r.stages[len(r.stages)-1] != stage {
		r.stages = append(r.stages, stage)
	}
	r.values = append(r.values, p)
}

func (r *recorder) check(t *testing.T, wantStages []string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Equal(r.stages, wantStages) {
		t.Errorf("stages %v, want %v", r.stages, wantStages)
	}
	for i, v := range r.values {
		if v < 0 || v > 1 || (i > 0 && v < r.values[i-1]) {
			t.Fatalf("progress not monotonic in [0,1]: %v", r.values)
		}
	}
	if len(r.values) == 0 || r.values[len(r.values)-1] != 1 {
		t.Errorf("progress did not end at 1: %v", r.values)
	}
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("temporary files left in %s: %v", dir, entries)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	base := serveSite(t)
	p := newPipeline(t)
	ctx := context.Background()
	asrStages := []string{StageResolve, StageDownload, StageExtract, StageTranscribe}

	tests := []struct {
		name     string
		spec     api.TaskSpec
		origin   string
		stages   []string
		maxWER   float64
		wantText string
	}{
		{"mp4 through yt-dlp", api.TaskSpec{URL: base + "/speech-mp4", Language: "en", Captions: api.CaptionsPreferExisting}, OriginASR, asrStages, 0.20, speech},
		{"webm through yt-dlp", api.TaskSpec{URL: base + "/speech-webm", Language: "auto", Captions: api.CaptionsPreferExisting}, OriginASR, asrStages, 0.20, speech},
		{"mp4 file fetched directly", api.TaskSpec{URL: base + "/speech.mp4", Language: "en", Captions: api.CaptionsPreferExisting}, OriginASR,
			[]string{StageDownload, StageExtract, StageTranscribe}, 0.20, speech},
		{"existing captions first", api.TaskSpec{URL: base + "/page.html", Language: "en", Captions: api.CaptionsPreferExisting}, OriginCaptions,
			[]string{StageResolve, StageCaptions}, 0, "The weather is nice today. We will go for a walk in the park."},
		{"asr only ignores captions", api.TaskSpec{URL: base + "/page.html", Language: "en", Captions: api.CaptionsASROnly}, OriginASR, asrStages, 0.20, speech},
		{"upload over HTTP", api.TaskSpec{SourceURL: base + "/speech.webm", Filename: "My Talk.webm", Language: "en"}, OriginASR,
			[]string{StageDownload, StageExtract, StageTranscribe}, 0.20, speech},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			var rec recorder
			out, err := p.Run(ctx, tt.spec, work, rec.report)
			if err != nil {
				t.Fatal(err)
			}
			tr, res := out.Transcript, out.Result
			if wer := media.WER(tt.wantText, tr.Text); wer > tt.maxWER {
				t.Errorf("WER %.2f > %.2f: %q", wer, tt.maxWER, tr.Text)
			}
			if res.Origin != tt.origin || tr.Engine.Origin != tt.origin || res.Title == "" || res.Duration <= 0 || res.Segments != len(tr.Segments) {
				t.Errorf("result = %+v, engine %+v", res, tr.Engine)
			}
			if tt.origin == OriginASR && (res.Engine != asr.NamePocketsphinx || res.Words == 0 || tr.Language != "en") {
				t.Errorf("asr result = %+v, language %q", res, tr.Language)
			}
			// A media file fetched without yt-dlp reports what identified it.
			if direct := tt.spec.URL != "" && tt.stages[0] == StageDownload; direct != (res.SourceValidator != "") {
				t.Errorf("source validator %q (fetched directly: %v)", res.SourceValidator, direct)
			}
			// pocketsphinx takes the audio as it is decoded whenever it runs.
			if res.Streamed != (tt.origin == OriginASR) {
				t.Errorf("streamed = %v for origin %s", res.Streamed, tt.origin)
			}
			for _, s := range tt.stages {
				if _, ok := res.Timings[s]; !ok {
					t.Errorf("no timing for %s: %v", s, res.Timings)
				}
			}
			if len(res.Timings) != len(tt.stages) {
				t.Errorf("timings %v, want stages %v", res.Timings, tt.stages)
			}
			rec.check(t, tt.stages)
			assertEmpty(t, work)
		})
	}

	failures := []struct {
		name  string
		spec  api.TaskSpec
		code  string
		retry bool
	}{
		{"missing URL", api.TaskSpec{URL: base + "/missing.mp4"}, api.CodeSourceNotFound, false},
		{"missing upload", api.TaskSpec{SourceURL: base + "/missing.mp4"}, api.CodeSourceNotFound, false},
		{"text served as media", api.TaskSpec{URL: base + "/notes.mp4"}, api.CodeUndecodable, false},
		{"video without audio", api.TaskSpec{URL: base + "/silent.mp4"}, api.CodeNoAudio, false},
		{"longer than the limit", api.TaskSpec{URL: base + "/speech.mp4", MaxDuration: 2}, api.CodeTooLong, false},
		{"larger than the limit", api.TaskSpec{URL: base + "/speech.mp4", MaxBytes: 1000}, api.CodeMediaTooLarge, false},
		{"upload larger than the limit", api.TaskSpec{SourceURL: base + "/speech.mp4", MaxBytes: 1000}, api.CodeMediaTooLarge, false},
		{"language pocketsphinx lacks", api.TaskSpec{URL: base + "/speech.mp4", Language: "de"}, api.CodeUnsupportedLang, false},
		{"wav with a model for the default engine", api.TaskSpec{URL: base + "/speech.wav", Model: "en-us"}, "", false},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			_, err := p.Run(ctx, tt.spec, work, nil)
			got, retry := failure.Classify(err)
			if got.Code != tt.code || retry != tt.retry {
				t.Fatalf("Classify(%v) = %v, %v; want %s, %v", err, got, retry, tt.code, tt.retry)
			}
			assertEmpty(t, work)
		})
	}

	for _, stage := range []string{StageDownload, StageExtract, StageTranscribe} {
		t.Run("cancel during "+stage, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			_, err := p.Run(ctx, api.TaskSpec{URL: base + "/speech.webm", Language: "en"}, work, func(s string, _ float64) {
				if s == stage {
					cancel()
				}
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want canceled", err)
			}
			if e, _ := failure.Classify(err); e.Code != api.CodeCanceled {
				t.Fatalf("code = %s", e.Code)
			}
			assertEmpty(t, work)
		})
	}
}

// youtube stands in for YouTube, which cannot be reached from tests: it
// resolves to a recorded yt-dlp info JSON and serves a recorded caption
// track, and counts downloads.
type youtube struct {
	info       source.Info
	captionErr error
	mu         sync.Mutex
	fetched    []string
	downloads  int
	mediaPath  string
}

func (y *youtube) Resolve(context.Context, string) (source.Info, error) { return y.info, nil }

func (y *youtube) FetchCaptions(_ context.Context, _, lang, _ string) (api.Transcript, error) {
	y.mu.Lock()
	y.fetched = append(y.fetched, lang)
	y.mu.Unlock()
	if y.captionErr != nil {
		return api.Transcript{}, y.captionErr
	}
	f, err := os.Open("testdata/youtube.en-GB.vtt")
	if err != nil {
		return api.Transcript{}, err
	}
	defer f.Close()
	cues, err := subtitle.ParseVTT(f)
	return subtitle.Transcript(cues, lang), err
}

func (y *youtube) Download(_ context.Context, _, dir string, _ source.Limits) (string, error) {
	y.mu.Lock()
	y.downloads++
	y.mu.Unlock()
	data, err := os.ReadFile(y.mediaPath)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, "media.mp4")
	return dst, os.WriteFile(dst, data, 0o644)
}

func TestCaptionsFirst(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/youtube_info.json")
	if err != nil {
		t.Fatal(err)
	}
	info, err := source.ParseInfo(data)
	if err != nil {
		t.Fatal(err)
	}
	mp4 := media.MP4(t, media.Speech(t, speech))
	sphinx := asr.NewPocketsphinx(asr.PocketsphinxConfig{})

	tests := []struct {
		name       string
		spec       api.TaskSpec
		info       func(source.Info) source.Info
		captionErr error
		fetched    []string // caption languages requested
		origin     string
		downloads  int
	}{
		{"english track for en", api.TaskSpec{Language: "en", Captions: api.CaptionsPreferExisting}, nil, nil, []string{"en-GB"}, OriginCaptions, 0},
		{"auto uses the video language", api.TaskSpec{Language: "auto", Captions: api.CaptionsPreferExisting}, nil, nil, []string{"en-GB"}, OriginCaptions, 0},
		{"empty captions field means prefer", api.TaskSpec{Language: "en"}, nil, nil, []string{"en-GB"}, OriginCaptions, 0},
		{"translate uses an english track", api.TaskSpec{Language: "de", Task: api.TaskTranslate, Captions: api.CaptionsPreferExisting}, nil, nil, []string{"en-GB"}, OriginCaptions, 0},
		{"auto without a known language skips", api.TaskSpec{Language: "auto", Captions: api.CaptionsPreferExisting},
			func(i source.Info) source.Info { i.Language = ""; return i }, nil, nil, OriginASR, 1},
		{"automatic captions only are not used", api.TaskSpec{Language: "fr", Captions: api.CaptionsPreferExisting}, nil, nil, nil, "", 0},
		{"asr-only", api.TaskSpec{Language: "en", Captions: api.CaptionsASROnly}, nil, nil, nil, OriginASR, 1},
		{"caption fetch failure falls back to asr", api.TaskSpec{Language: "en", Captions: api.CaptionsPreferExisting}, nil,
			failure.Transient(api.CodeDownloadFailed, "HTTP Error 429"), []string{"en-GB"}, OriginASR, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			yi := info
			if tt.info != nil {
				yi = tt.info(info)
			}
			yt := &youtube{info: yi, captionErr: tt.captionErr, mediaPath: mp4}
			p := &Pipeline{
				Resolver: yt, Captions: yt, Downloader: yt, Media: audio.New(audio.Config{}),
				Engines: map[string]asr.Engine{asr.NamePocketsphinx: sphinx},
			}
			tt.spec.URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
			work := t.TempDir()
			out, err := p.Run(context.Background(), tt.spec, work, nil)
			tr, res := out.Transcript, out.Result
			if tt.origin == "" {
				// French with only automatic captions: pocketsphinx cannot do
				// French, which is known before anything is downloaded.
				if failure.Code(err) != api.CodeUnsupportedLang {
					t.Fatalf("err = %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(yt.fetched, tt.fetched) || yt.downloads != tt.downloads {
				t.Errorf("fetched %v, downloads %d", yt.fetched, yt.downloads)
			}
			if tt.origin == OriginCaptions {
				if res.Origin != OriginCaptions || res.Title != "A talk about captions" || res.Duration != 212 || tr.Language != "en-GB" ||
					tr.Text != "Welcome to a talk about captions. Human-made tracks are used first." {
					t.Errorf("result %+v, transcript %+v", res, tr)
				}
			}
			if tt.origin == OriginASR && res.Origin != OriginASR {
				t.Errorf("origin %q", res.Origin)
			}
			assertEmpty(t, work)
		})
	}
}

func TestLimitsAndEngine(t *testing.T) {
	t.Parallel()
	sphinx := asr.NewPocketsphinx(asr.PocketsphinxConfig{})
	whisper := asr.NewWhisperCpp(asr.WhisperConfig{})
	p := &Pipeline{
		Engines:       map[string]asr.Engine{asr.NamePocketsphinx: sphinx, asr.NameWhisperCpp: whisper},
		DefaultEngine: asr.NamePocketsphinx,
		Limits:        Limits{MaxDuration: 3600, MaxBytes: 1 << 30},
	}
	if got := p.limits(api.TaskSpec{MaxDuration: 60}); got != (Limits{MaxDuration: 60, MaxBytes: 1 << 30}) {
		t.Errorf("limits = %+v", got)
	}
	if got := p.limits(api.TaskSpec{MaxDuration: 7200, MaxBytes: 10}); got != (Limits{MaxDuration: 3600, MaxBytes: 10}) {
		t.Errorf("limits = %+v", got)
	}
	tests := []struct {
		model, engine, engineModel string
	}{
		{"", asr.NamePocketsphinx, ""},
		{"en-us", asr.NamePocketsphinx, "en-us"},
		{"whisper-cpp", asr.NameWhisperCpp, ""},
		{"whisper-cpp:base.en", asr.NameWhisperCpp, "base.en"},
		{"openai:whisper-1", asr.NamePocketsphinx, "openai:whisper-1"},
	}
	for _, tt := range tests {
		e, m, err := p.engine(tt.model)
		if err != nil || e.Name() != tt.engine || m != tt.engineModel {
			t.Errorf("engine(%q) = %v, %q, %v", tt.model, e, m, err)
		}
	}
	empty := &Pipeline{}
	if _, _, err := empty.engine(""); failure.Code(err) != api.CodeTranscribeFailed {
		t.Errorf("no engines: %v", err)
	}
}

// pageInstead stands in for a site that answers a media-looking URL with a
// web page.
type pageInstead struct{ calls int }

func (p *pageInstead) Download(context.Context, string, string, source.Limits) (string, string, error) {
	p.calls++
	return "", "", source.ErrNotMedia
}

// TestDirectFallsBack: a URL that names a media file but answers with a
// page goes the yt-dlp way (resolve, captions, download) after all, and
// the result is yt-dlp's.
func TestDirectFallsBack(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/youtube_info.json")
	if err != nil {
		t.Fatal(err)
	}
	info, err := source.ParseInfo(data)
	if err != nil {
		t.Fatal(err)
	}
	yt := &youtube{info: info, mediaPath: media.MP4(t, media.Speech(t, speech))}
	direct := &pageInstead{}
	p := &Pipeline{Resolver: yt, Captions: yt, Downloader: yt, Direct: direct, Media: audio.New(audio.Config{}),
		Engines: map[string]asr.Engine{asr.NamePocketsphinx: asr.NewPocketsphinx(asr.PocketsphinxConfig{})}}
	var rec recorder
	out, err := p.Run(context.Background(), api.TaskSpec{URL: "https://example.com/watch/talk.mp4", Language: "en",
		Captions: api.CaptionsASROnly}, t.TempDir(), rec.report)
	if err != nil {
		t.Fatal(err)
	}
	if direct.calls != 1 || yt.downloads != 1 || out.Result.Title != info.Title {
		t.Errorf("direct calls %d, yt-dlp downloads %d, title %q", direct.calls, yt.downloads, out.Result.Title)
	}
	rec.check(t, []string{StageDownload, StageResolve, StageDownload, StageExtract, StageTranscribe})
}
