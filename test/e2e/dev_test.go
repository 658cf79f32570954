package e2e_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

// clip is a media file served over loopback HTTP.
type clip struct {
	name     string
	path     string
	url      string
	duration float64
}

// serveClips copies the files into one directory served on loopback and
// returns them with their URLs and durations.
func serveClips(t testing.TB, files map[string]string) map[string]clip {
	t.Helper()
	dir := t.TempDir()
	base := media.Serve(t, dir)
	out := map[string]clip{}
	for name, src := range files {
		p := media.Copy(t, src, dir, name)
		out[name] = clip{name: name, path: p, url: base + "/" + name, duration: probeDuration(t, p)}
	}
	return out
}

func noCache() *bool { f := false; return &f }

// TestDevDefaults runs `ytcaption dev` (SQLite, local disk, in-process
// agents) and captions an MP4 and a WebM by URL.
func TestDevDefaults(t *testing.T) {
	t.Parallel()
	wav := media.Speech(t, speechText)
	clips := serveClips(t, map[string]string{"talk.mp4": media.MP4(t, wav), "talk.webm": media.WebM(t, wav)})
	s := startDev(t, 2)

	ctx := context.Background()
	jobs := map[string]api.Job{}
	for name, c := range clips {
		j, err := s.admin.SubmitJob(ctx, api.JobRequest{URL: c.url, Language: "en"}, "")
		if err != nil {
			t.Fatalf("submit %s: %v", name, err)
		}
		if j.Status.Final() {
			t.Fatalf("submit %s: new job is already %s", name, j.Status)
		}
		jobs[name] = j
	}
	for name, j := range jobs {
		t.Run(filepath.Ext(name)[1:], func(t *testing.T) {
			j := waitJob(t, s.admin, j.ID)
			mustSucceed(t, j)
			wer := checkJobCaptions(t, s.admin, j, speechText, clips[name].duration)
			t.Logf("%s: %.2f s of media, WER %.3f, %d words, attempts %d, timings %v",
				name, clips[name].duration, wer, j.Result.Words, j.Attempts, j.Result.Timings)
		})
	}
}
