package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/test/media"
	"github.com/ytcaption/ytcaption/test/testenv"
)

// TestCaptionEmbedded runs `ytcaption caption` without YTCAPTION_SERVER, so
// it starts an ephemeral embedded stack, for a URL (captions on stdout) and
// a local file (-o). The stack's temporary directory must be gone after.
func TestCaptionEmbedded(t *testing.T) {
	t.Parallel()
	wav := media.Speech(t, speechText)
	mp4 := media.MP4(t, wav)
	clips := serveClips(t, map[string]string{"talk.mp4": mp4})
	bin := testenv.Binary(t, "ytcaption")

	tests := []struct {
		name string
		src  string // a URL or a local file
		file bool   // write with -o instead of stdout
	}{
		{"url to stdout", clips["talk.mp4"].url, false},
		{"local file to -o", clips["talk.mp4"].path, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			args := []string{"caption", tt.src, "--lang", "en"}
			out := filepath.Join(t.TempDir(), "out.srt")
			if tt.file {
				args = append(args, "-o", out)
			}
			stdout, stderr, err := tryCLI(t, jobWait, testenv.ChildEnv("TMPDIR="+tmp), bin, args...)
			if err != nil {
				t.Fatalf("ytcaption %v: %v\nstderr:\n%s", args, err, stderr)
			}
			srt := stdout
			if tt.file {
				if stdout != "" {
					t.Errorf("with -o, stdout should be empty, got %q", stdout)
				}
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatalf("read -o file: %v", err)
				}
				srt = string(b)
			}
			cues, err := parseSRT(srt)
			if err == nil {
				err = checkCues(cues, clips["talk.mp4"].duration)
			}
			if err != nil {
				t.Fatalf("SRT: %v\n%s", err, srt)
			}
			wer := media.WER(speechText, cueText(cues))
			if wer > maxWER {
				t.Errorf("WER %.3f > %.2f\nwant: %s\n got: %s", wer, maxWER, speechText, cueText(cues))
			}
			t.Logf("WER %.3f, %d cues", wer, len(cues))
			// The embedded stack is removed before the command exits.
			emptyDir(t, "TMPDIR of ytcaption caption", tmp)
		})
	}
}

// TestCaptionEmbeddedFailure checks that a failed job makes the command
// fail with the job's error code, and still removes its temporary stack.
func TestCaptionEmbeddedFailure(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	base := media.Serve(t, t.TempDir())
	_, stderr, err := tryCLI(t, jobWait, testenv.ChildEnv("TMPDIR="+tmp), testenv.Binary(t, "ytcaption"), "caption", base+"/missing.mp4", "-q")
	if err == nil {
		t.Fatalf("caption of a missing URL succeeded")
	}
	if want := "source_not_found"; !strings.Contains(stderr, want) {
		t.Errorf("stderr does not name %s:\n%s", want, stderr)
	}
	emptyDir(t, "TMPDIR of ytcaption caption", tmp)
}
