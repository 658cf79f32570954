package e2e_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

// holder waits until the job is transcribing and returns the agent that
// runs it, found from the agents' "task started" log lines.
func holder(t testing.TB, s *stack, jobID string, agents ...*agent) *agent {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(jobWait)
	for {
		j, err := s.admin.GetJob(ctx, jobID)
		if err != nil {
			t.Fatalf("get job: %v", err)
		}
		if j.Status.Final() {
			t.Fatalf("job %s ended %s before it could be interrupted (make the media longer)", jobID, j.Status)
		}
		if j.Stage == "transcribe" {
			for _, a := range agents {
				if a.did("task started", jobID) {
					return a
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not transcribing after %s: status %s, stage %q", jobID, jobWait, j.Status, j.Stage)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAgentCrashAndShutdown interrupts the agent holding a long task: a
// SIGKILL leaves the lease to expire and be rescued; a SIGTERM with a short
// grace hands the task back. Either way the other agent completes the job.
func TestAgentCrashAndShutdown(t *testing.T) {
	t.Parallel()
	// About 70 s of speech: several seconds of transcription to interrupt.
	text := strings.TrimSpace(strings.Repeat(speechText+" ", 12))
	clips := serveClips(t, map[string]string{"long.mp4": media.MP4(t, media.Speech(t, text))})
	long := clips["long.mp4"]

	tests := []struct {
		name      string
		sig       syscall.Signal
		agentArgs []string
		env       func(testing.TB) []string
	}{
		// The lease must run out before the job can be rescued: keep it short.
		{"sigkill", syscall.SIGKILL, nil, productionEnv},
		{"sigterm", syscall.SIGTERM, []string{"--grace", "1s"}, func(testing.TB) []string { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.env(t), "--lease-duration", "3s")
			token := s.enroll(t)
			agents := []*agent{
				s.startAgent(t, token, "agent-a", tt.agentArgs...),
				s.startAgent(t, token, "agent-b", tt.agentArgs...),
			}
			s.waitAgents(t, 2, agents...)

			j, err := s.admin.SubmitJob(context.Background(), api.JobRequest{URL: long.url, Language: "en", Cache: noCache()}, "")
			if err != nil {
				t.Fatalf("submit: %v", err)
			}
			h := holder(t, s, j.ID, agents...)
			other := agents[0]
			if other == h {
				other = agents[1]
			}
			t.Logf("%s holds job %s; sending %s", h.Name, j.ID, tt.sig)
			if tt.sig == syscall.SIGKILL {
				h.Signal(tt.sig) // the whole agent dies, children included
			} else {
				h.SignalMain(tt.sig)
			}
			if !h.Wait(stopWait) {
				t.Fatalf("%s still running %s after %s", h.Name, stopWait, tt.sig)
			}

			j = waitJob(t, s.admin, j.ID)
			mustSucceed(t, j)
			wer := checkJobCaptions(t, s.admin, j, text, long.duration)
			t.Logf("%.1f s of media, WER %.3f, attempts %d, timings %v", long.duration, wer, j.Attempts, j.Result.Timings)
			if !other.didSoon("task completed", j.ID) {
				t.Errorf("%s did not complete the job", other.Name)
			}
			if h.did("task completed", j.ID) {
				t.Errorf("%s completed the job too", h.Name)
			}
			emptyDir(t, other.Name+" work dir", other.workDir)

			switch tt.sig {
			case syscall.SIGKILL:
				// The lost lease counts as a failed attempt.
				if j.Attempts != 2 {
					t.Errorf("attempts %d, want 2", j.Attempts)
				}
			case syscall.SIGTERM:
				if h.Err() != nil {
					t.Errorf("%s exited with %v after SIGTERM, want success", h.Name, h.Err())
				}
				if !h.did("handing task back", j.ID) {
					t.Errorf("%s did not hand the task back", h.Name)
				}
				// A hand-back does not use up an attempt (api.ReleaseRequest).
				if j.Attempts != 1 {
					t.Errorf("attempts %d after a hand-back, want 1", j.Attempts)
				}
				emptyDir(t, h.Name+" work dir", h.workDir)
			}
		})
	}
}
