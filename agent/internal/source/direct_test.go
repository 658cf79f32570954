package source

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/netguard"
)

func TestTitle(t *testing.T) {
	t.Parallel()
	if got := Title("http://example.com/a/Episode%201.m4a?x=1"); got != "Episode 1" {
		t.Errorf("Title = %q", got)
	}
}

// TestDirect fetches media files without yt-dlp under the same egress rules:
// loopback targets, directly or by a redirect, plain or TLS, are refused
// for good through the guard and never reached; a run that allows private
// sources fetches them; answers are classified as yt-dlp's would be, and a
// web page where a file was expected sends the pipeline to yt-dlp.
func TestDirect(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	media := []byte("not really an mp4, but bytes")
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/clip.mp4":
			w.Header().Set("Content-Type", "video/mp4")
			w.Header().Set("ETag", `"clip-v1"`)
			_, _ = w.Write(media)
		case "/page.mp4":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte("<html>a player</html>"))
		case "/busy.mp4":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/private.mp4":
			w.WriteHeader(http.StatusForbidden)
		default:
			http.NotFound(w, r)
		}
	}))
	defer internal.Close()
	tlsInternal := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer tlsInternal.Close()
	public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/clip.mp4", http.StatusFound)
	}))
	defer public.Close()
	guard, err := netguard.NewProxy(netguard.Policy{Allow: []string{strings.TrimPrefix(public.URL, "http://")}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer guard.Close()
	d := NewDirect(Config{GuardProxy: guard.URL()})
	ctx := context.Background()

	for name, url := range map[string]string{
		"redirect to loopback": public.URL + "/video.mp4",
		"loopback directly":    internal.URL + "/clip.mp4",
		"decimal loopback":     strings.Replace(internal.URL, "127.0.0.1", "2130706433", 1) + "/clip.mp4",
		"loopback over TLS":    tlsInternal.URL + "/clip.mp4",
	} {
		_, _, err := d.Download(ctx, url, t.TempDir(), Limits{})
		if failure.Code(err) != api.CodeForbiddenSource {
			t.Errorf("%s: got %v, want %s", name, err, api.CodeForbiddenSource)
		}
		if _, retry := failure.Classify(err); retry {
			t.Errorf("%s: a refused target must fail permanently", name)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the loopback services were reached %d times", hits.Load())
	}

	dev := AllowPrivate(ctx)
	path, validator, err := d.Download(dev, internal.URL+"/clip.mp4", t.TempDir(), Limits{})
	if err != nil {
		t.Fatalf("allowed run: %v", err)
	}
	if validator != `etag:"clip-v1"` {
		t.Errorf("validator %q, want the response's ETag", validator)
	}
	if got, _ := os.ReadFile(path); string(got) != string(media) || !strings.HasSuffix(path, ".mp4") {
		t.Fatalf("fetched %s: %q", path, got)
	}
	if _, _, err := d.Download(dev, internal.URL+"/page.mp4", t.TempDir(), Limits{}); !errors.Is(err, ErrNotMedia) {
		t.Errorf("a web page: got %v, want ErrNotMedia", err)
	}
	for path, want := range map[string]struct {
		code  string
		retry bool
	}{
		"/gone.mp4":    {api.CodeSourceNotFound, false},
		"/busy.mp4":    {api.CodeDownloadFailed, true},
		"/private.mp4": {api.CodeSourcePrivate, false},
	} {
		_, _, err := d.Download(dev, internal.URL+path, t.TempDir(), Limits{})
		if e, retry := failure.Classify(err); e.Code != want.code || retry != want.retry {
			t.Errorf("%s: got %v (retry %v), want %s (retry %v)", path, err, retry, want.code, want.retry)
		}
	}
	dir := t.TempDir()
	_, _, err = d.Download(dev, internal.URL+"/clip.mp4", dir, Limits{MaxBytes: 4})
	if failure.Code(err) != api.CodeMediaTooLarge {
		t.Errorf("over the byte limit: got %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("a refused download left %d files", len(left))
	}
}
