package e2e_test

import (
	"context"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

// TestPlaybackMedia: a job run by a real agent ends with a playback copy
// that GET /v1/jobs/{id}/media points at, which ffprobe reads as mono Ogg
// Opus as long as the source; the console allows playing it.
func TestPlaybackMedia(t *testing.T) {
	t.Parallel()
	clips := serveClips(t, map[string]string{"talk.mp4": media.MP4(t, media.Speech(t, "Hello and welcome to the show."))})
	s := startServer(t, nil)
	a := s.startAgent(t, s.enroll(t), "media-1")
	s.waitAgents(t, 1, a)

	ctx := context.Background()
	j, err := s.admin.SubmitJob(ctx, api.JobRequest{URL: clips["talk.mp4"].url, Language: "en", Cache: noCache()}, "")
	if err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, waitJob(t, s.admin, j.ID))
	link, err := s.admin.JobMedia(ctx, j.ID)
	if err != nil || link.Kind != api.MediaPlayback || link.ContentType != "audio/ogg" {
		t.Fatalf("media: %+v, %v", link, err)
	}
	resp, err := http.Get(link.URL)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "playback.ogg")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(f, resp.Body)
	resp.Body.Close()
	if err := f.Close(); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET media URL: HTTP %d, %v", resp.StatusCode, err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=format_name:stream=codec_name,channels",
		"-of", "default=nw=1", path).Output()
	if err != nil {
		t.Fatalf("ffprobe the playback copy: %v", err)
	}
	for _, want := range []string{"codec_name=opus", "channels=1", "format_name=ogg"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ffprobe: %q lacks %s", out, want)
		}
	}
	if d, want := probeDuration(t, path), clips["talk.mp4"].duration; math.Abs(d-want) > 0.5 {
		t.Errorf("playback copy lasts %.2fs, the source %.2fs", d, want)
	}

	resp, err = http.Get(s.url + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "media-src 'self' "+s.url) {
		t.Errorf("console CSP %q does not allow media from %s", csp, s.url)
	}
	emptyDir(t, a.Name+" work dir", a.workDir)
}
