package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

// TestPermanentFailures checks that media that can never be captioned
// fails the job on its first attempt with a clear code, and that the agent
// keeps nothing of it.
func TestPermanentFailures(t *testing.T) {
	t.Parallel()
	wav := media.Speech(t, speechText) // about 6 s: over the limit below
	clips := serveClips(t, map[string]string{
		"silent.mp4":   media.NoAudio(t),
		"too-long.mp4": media.MP4(t, wav),
	})
	dir := filepath.Dir(clips["silent.mp4"].path)
	base := strings.TrimSuffix(clips["silent.mp4"].url, "/silent.mp4")
	if err := os.WriteFile(filepath.Join(dir, "text.mp4"), []byte(strings.Repeat("This is a text file, not a video.\n", 200)), 0o644); err != nil {
		t.Fatal(err)
	}

	s := startServer(t, []string{"YTCAPTION_MAX_MEDIA_DURATION=3s"})
	a := s.startAgent(t, s.enroll(t), "agent-1", "--concurrency", "2")
	s.waitAgents(t, 1, a)

	tests := []struct {
		name string
		url  string
		code string
	}{
		{"missing", base + "/missing.mp4", api.CodeSourceNotFound},
		{"text served as mp4", base + "/text.mp4", api.CodeUndecodable},
		{"no audio track", clips["silent.mp4"].url, api.CodeNoAudio},
		{"longer than the limit", clips["too-long.mp4"].url, api.CodeTooLong},
	}
	ctx := context.Background()
	ids := make([]string, len(tests))
	for i, tt := range tests {
		j, err := s.admin.SubmitJob(ctx, api.JobRequest{URL: tt.url, Language: "en", Cache: noCache()}, "")
		if err != nil {
			t.Fatalf("%s: submit: %v", tt.name, err)
		}
		ids[i] = j.ID
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := waitJob(t, s.admin, ids[i])
			if j.Status != api.JobFailed || j.Error == nil {
				t.Fatalf("job %s ended %s with error %+v, want failed %s", j.ID, j.Status, j.Error, tt.code)
			}
			if j.Error.Code != tt.code || j.Error.Message == "" {
				t.Errorf("error %+v, want code %s with a message", *j.Error, tt.code)
			}
			if j.Attempts != 1 {
				t.Errorf("attempts %d, want 1 (a permanent failure is not retried)", j.Attempts)
			}
			if j.FinishedAt == nil {
				t.Errorf("failed job has no finished_at")
			}
			t.Logf("%s: %s: %s", tt.name, j.Error.Code, j.Error.Message)
		})
	}
	if n := len(a.events("task failed")); n != len(tests) {
		t.Errorf("agent logged %d failed tasks, want %d", n, len(tests))
	}
	emptyDir(t, "agent work dir", a.workDir)
}
