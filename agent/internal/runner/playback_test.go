package runner_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/runner"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// TestPlaybackUpload: the runner PUTs the playback copy the work produced
// to the lease's media upload and reports it, so the job's media is that
// copy; a copy that failed is reported while the job still succeeds.
func TestPlaybackUpload(t *testing.T) {
	t.Parallel()
	admin := controlPlane(t, 10*time.Second)
	ctx := context.Background()
	ogg := append([]byte("OggS"), bytes.Repeat([]byte{7}, 4096)...)
	copyPath := filepath.Join(t.TempDir(), "playback.ogg")
	if err := os.WriteFile(copyPath, ogg, 0o600); err != nil {
		t.Fatal(err)
	}
	cleaned := make(chan string, 2)
	r := runner.New(agentClient(t, admin), execFunc(func(ctx context.Context, l api.Lease, _ func(string, float64)) (runner.Output, error) {
		if l.Spec.MediaUpload == nil {
			return runner.Output{}, errors.New("no media upload in the lease")
		}
		out := transcript()
		out.Cleanup = func() { cleaned <- l.JobID }
		if strings.Contains(l.Spec.URL, "broken") {
			out.Playback = func(context.Context) (string, error) { return "", errors.New("encode playback copy: exit status 1") }
		} else {
			out.Playback = func(context.Context) (string, error) { return copyPath, nil }
		}
		return out, nil
	}), cfg(), quiet())
	start(t, r)

	j, err := admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/talk"}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, admin, j.ID, func(j api.Job) bool { return j.Status == api.JobSucceeded })
	link, err := admin.JobMedia(ctx, j.ID)
	if err != nil || link.Kind != api.MediaPlayback {
		t.Fatalf("media: %+v, %v", link, err)
	}
	resp, err := http.Get(link.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, ogg) || resp.Header.Get("Content-Type") != api.PlaybackContentType {
		t.Fatalf("uploaded copy: %d bytes of %q", len(got), resp.Header.Get("Content-Type"))
	}
	if id := <-cleaned; id != j.ID {
		t.Fatalf("cleaned up %s", id)
	}

	b, err := admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/broken"}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, admin, b.ID, func(j api.Job) bool { return j.Status == api.JobSucceeded })
	_, err = admin.JobMedia(ctx, b.ID)
	var se *api.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusNotFound || se.Err.Code != api.CodeMediaUnavailable ||
		!strings.Contains(se.Err.Message, "exit status 1") {
		t.Fatalf("media of the job whose copy failed: %v", err)
	}
	<-cleaned
}
