package e2e_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

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
