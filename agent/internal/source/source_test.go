package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

func TestParseInfo(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/youtube_info.json")
	if err != nil {
		t.Fatal(err)
	}
	info, err := ParseInfo(data)
	if err != nil {
		t.Fatal(err)
	}
	if !info.YouTube || info.Duration != 212 || info.Language != "en" || info.Title != "A talk about captions" || info.IsLive {
		t.Fatalf("info = %+v", info)
	}
	tests := []struct {
		lang, want string
		ok         bool
	}{
		{"en", "en-GB", true}, // human track; the automatic "en" track is never used
		{"de", "de", true},
		{"fr", "", false}, // automatic only
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := info.SubtitleLanguage(tt.lang)
		if got != tt.want || ok != tt.ok {
			t.Errorf("SubtitleLanguage(%q) = %q, %v; want %q, %v", tt.lang, got, ok, tt.want, tt.ok)
		}
	}

	for _, body := range []string{`{"_type":"playlist","entries":[]}`, `{"_type":"video","live_status":"is_live"}`} {
		info, err := ParseInfo([]byte(body))
		if err == nil && info.IsLive {
			continue
		}
		if failure.Code(err) != api.CodeUnsupportedURL {
			t.Errorf("ParseInfo(%s) = %+v, %v", body, info, err)
		}
	}
}

func TestCheckLimits(t *testing.T) {
	t.Parallel()
	if err := CheckLimits(Info{Duration: 100}, Limits{MaxDuration: 60}); failure.Code(err) != api.CodeTooLong {
		t.Fatalf("over limit: %v", err)
	}
	for _, tt := range []struct{ d, max float64 }{{0, 60}, {60, 60}, {1e6, 0}} {
		if err := CheckLimits(Info{Duration: tt.d}, Limits{MaxDuration: tt.max}); err != nil {
			t.Errorf("CheckLimits(%v, %v) = %v", tt.d, tt.max, err)
		}
	}
}

func TestClassifyStderr(t *testing.T) {
	t.Parallel()
	cause := errors.New("exit status 1")
	tests := []struct {
		stderr    string
		code      string
		permanent bool
	}{
		{"ERROR: [generic] None: Unable to download webpage: HTTP Error 404: File not found (caused by <HTTPError 404: 'File not found'>); please report this issue on  https://github.com/yt-dlp/yt-dlp/issues?q= , filling out the appropriate issue template.", api.CodeSourceNotFound, true},
		{"ERROR: [generic] Unable to download webpage: HTTP Error 410: Gone", api.CodeSourceNotFound, true},
		{"ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader", api.CodeSourceNotFound, true},
		{"ERROR: [youtube] abc: Private video. Sign in if you've been granted access to this video", api.CodeSourcePrivate, true},
		{"ERROR: [youtube] abc: Join this channel to get access to members-only content like this video", api.CodeSourcePrivate, true},
		{"ERROR: [youtube] abc: Sign in to confirm your age. This video may be inappropriate for some users.", api.CodeSourcePrivate, true},
		{"ERROR: [youtube] abc: Sign in to confirm you’re not a bot. Use --cookies-from-browser or --cookies for the authentication.", api.CodeDownloadFailed, false},
		{"ERROR: Unsupported URL: https://example.com/", api.CodeUnsupportedURL, true},
		{"ERROR: [generic] None: 'notaurl' is not a valid URL. Set --default-search \"ytsearch\"", api.CodeUnsupportedURL, true},
		{"ERROR: unable to download video data: HTTP Error 403: Forbidden", api.CodeDownloadFailed, false},
		{"ERROR: [youtube] abc: HTTP Error 429: Too Many Requests", api.CodeDownloadFailed, false},
		{"ERROR: unable to download video data: HTTP Error 503: Service Unavailable", api.CodeDownloadFailed, false},
		{"ERROR: [generic] None: Unable to download webpage: <urlopen error timed out>", api.CodeDownloadFailed, false},
		{"ERROR: [download] Got error: Connection reset by peer", api.CodeDownloadFailed, false},
		{"Traceback (most recent call last):\n  File \"yt_dlp\"\nKeyError: 'formats'", api.CodeDownloadFailed, false},
		{"", api.CodeDownloadFailed, false},
	}
	rules := ytdlpRules()
	for _, tt := range tests {
		err := classifyStderr(rules, tt.stderr, cause)
		got, retry := failure.Classify(err)
		if got.Code != tt.code || retry == tt.permanent {
			t.Errorf("classify(%q) = %s retryable=%v; want %s permanent=%v", tt.stderr, got.Code, retry, tt.code, tt.permanent)
		}
		if !errors.Is(err, cause) || strings.Contains(got.Message, "please report") {
			t.Errorf("message %q lost the cause or kept boilerplate", got.Message)
		}
	}
}

func TestValidLang(t *testing.T) {
	t.Parallel()
	for lang, want := range map[string]bool{
		"en": true, "en-US": true, "pt-BR": true, "zh-Hans": true, "yue": true, "es-419": true,
		"": false, "all": false, "en.*": false, "en,de": false, "-en": false, "e": false, "en--US": false, "--exec": false,
	} {
		if got := validLang(lang); got != want {
			t.Errorf("validLang(%q) = %v", lang, got)
		}
	}
}

// serveTalk serves generated media plus an HTML page embedding the MP4 with a
// human-made English subtitle track, which yt-dlp's generic extractor reads
// as it would a site's caption list.
func serveTalk(t *testing.T, text string) (base string, dir string) {
	t.Helper()
	dir = t.TempDir()
	wav := media.Speech(t, text)
	media.Copy(t, media.MP4(t, wav), dir, "talk.mp4")
	media.Copy(t, media.NoAudio(t), dir, "silent.mp4")
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("just text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	page := `<!DOCTYPE html><html><head><title>Caption talk</title></head><body>
<video controls><source src="talk.mp4" type="video/mp4">
<track kind="subtitles" src="talk.en.vtt" srclang="en" label="English"></video></body></html>`
	vtt := "WEBVTT\n\n00:00.500 --> 00:02.000\nHello <c>world</c>\n\n00:02.500 --> 00:04.000\nsecond cue\n"
	// A site that publishes SubRip only.
	srtPage := strings.ReplaceAll(page, "talk.en.vtt", "talk.en.srt")
	srt := "1\n00:00:00,500 --> 00:00:02,000\n<i>Hello</i> world\n\n2\n00:00:02,500 --> 00:00:04,000\nsecond cue\n"
	for name, body := range map[string]string{"page.html": page, "talk.en.vtt": vtt, "srt.html": srtPage, "talk.en.srt": srt} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return media.Serve(t, dir), dir
}

func TestYTDLP(t *testing.T) {
	t.Parallel()
	base, _ := serveTalk(t, "Downloads should be reliable.")
	y := NewYTDLP(Config{Retries: 1})
	ctx := context.Background()
	if _, err := y.Version(ctx); err != nil {
		t.Fatalf("yt-dlp unavailable (run test/env/bootstrap.sh): %v", err)
	}

	t.Run("resolve direct media", func(t *testing.T) {
		t.Parallel()
		info, err := y.Resolve(ctx, base+"/talk.mp4")
		if err != nil {
			t.Fatal(err)
		}
		if info.YouTube || info.Title != "talk" || len(info.Subtitles) != 0 {
			t.Fatalf("info = %+v", info)
		}
	})
	t.Run("resolve page with subtitles", func(t *testing.T) {
		t.Parallel()
		info, err := y.Resolve(ctx, base+"/page.html")
		if err != nil {
			t.Fatal(err)
		}
		if lang, ok := info.SubtitleLanguage("en"); !ok || lang != "en" {
			t.Fatalf("subtitles = %+v", info.Subtitles)
		}
	})
	t.Run("captions", func(t *testing.T) {
		t.Parallel()
		tr, err := y.FetchCaptions(ctx, base+"/page.html", "en", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if tr.Text != "Hello world second cue" || tr.Language != "en" || len(tr.Segments) != 2 {
			t.Fatalf("transcript = %+v", tr)
		}
	})
	t.Run("captions in SubRip", func(t *testing.T) {
		t.Parallel()
		tr, err := y.FetchCaptions(ctx, base+"/srt.html", "en", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if tr.Text != "Hello world second cue" || len(tr.Segments) != 2 || tr.Segments[0].Start != 0.5 {
			t.Fatalf("transcript = %+v", tr)
		}
	})
	t.Run("no captions in that language", func(t *testing.T) {
		t.Parallel()
		_, err := y.FetchCaptions(ctx, base+"/page.html", "de", t.TempDir())
		if !errors.Is(err, ErrNoCaptions) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("download", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path, err := y.Download(ctx, base+"/talk.mp4", dir, Limits{MaxBytes: 50 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(path) != dir {
			t.Fatalf("path %s outside %s", path, dir)
		}
		if st, err := os.Stat(path); err != nil || st.Size() == 0 {
			t.Fatalf("downloaded file: %v", err)
		}
	})

	failures := []struct {
		name  string
		url   string
		lim   Limits
		code  string
		retry bool
	}{
		{"404", base + "/missing.mp4", Limits{}, api.CodeSourceNotFound, false},
		{"too large", base + "/talk.mp4", Limits{MaxBytes: 1000}, api.CodeMediaTooLarge, false},
		{"invalid", "notaurl", Limits{}, api.CodeUnsupportedURL, false},
		{"connection refused", "http://127.0.0.1:1/x.mp4", Limits{}, api.CodeDownloadFailed, true},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := y.Download(ctx, tt.url, t.TempDir(), tt.lim)
			got, retry := failure.Classify(err)
			if got.Code != tt.code || retry != tt.retry {
				t.Fatalf("Classify(%v) = %v, %v", err, got, retry)
			}
		})
	}
	t.Run("resolve 404", func(t *testing.T) {
		t.Parallel()
		_, err := y.Resolve(ctx, base+"/missing.mp4")
		if failure.Code(err) != api.CodeSourceNotFound {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestYTDLPCanceled(t *testing.T) {
	t.Parallel()
	// The server never answers, so yt-dlp blocks until it is killed.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	t.Cleanup(func() { close(block); srv.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := NewYTDLP(Config{}).Download(ctx, srv.URL+"/slow.mp4", t.TempDir(), Limits{})
		errc <- err
	}()
	cancel()
	if err := <-errc; !failure.IsCanceled(err) {
		t.Fatalf("err = %v, want canceled", err)
	}
}

func TestFetchURL(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("x", 5000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, body)
		case "/chunked": // no Content-Length: the limit is enforced while copying
			w.(http.Flusher).Flush()
			fmt.Fprint(w, body)
		case "/expired":
			http.Error(w, "Request has expired", http.StatusForbidden)
		case "/broken":
			http.Error(w, "oops", http.StatusBadGateway)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	h := &HTTP{}
	tests := []struct {
		path  string
		max   int64
		code  string
		retry bool
	}{
		{"/ok", 0, "", false},
		{"/ok", 5000, "", false},
		{"/ok", 4999, api.CodeMediaTooLarge, false},
		{"/chunked", 100, api.CodeMediaTooLarge, false},
		{"/gone", 0, api.CodeSourceNotFound, false},
		{"/expired", 0, api.CodeDownloadFailed, true},
		{"/broken", 0, api.CodeDownloadFailed, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s max %d", tt.path, tt.max), func(t *testing.T) {
			t.Parallel()
			dest := filepath.Join(t.TempDir(), "upload")
			n, err := h.FetchURL(context.Background(), srv.URL+tt.path, dest, tt.max)
			got, retry := failure.Classify(err)
			if got.Code != tt.code || retry != tt.retry {
				t.Fatalf("Classify(%v) = %v, %v", err, got, retry)
			}
			_, statErr := os.Stat(dest)
			if tt.code == "" && (n != int64(len(body)) || statErr != nil) {
				t.Fatalf("n = %d, stat %v", n, statErr)
			}
			if tt.code != "" && !os.IsNotExist(statErr) {
				t.Fatalf("partial file left: %v", statErr)
			}
		})
	}
}
