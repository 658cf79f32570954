// Package media makes speech media for tests on the spot, so no test depends
// on downloaded files: flite speaks a known text into a WAV, ffmpeg muxes it
// with a synthetic video track into MP4 or WebM, and a loopback HTTP server
// serves the results. WER scores a transcript against the known text.
package media

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
)

const hint = " (run test/env/bootstrap.sh, or `make test`, to install the media tools)"

// Speech speaks text with flite's "slt" voice into a WAV file in a temporary
// directory of t and returns its path.
func Speech(t testing.TB, text string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "speech.wav")
	run(t, "flite", "-voice", "slt", "-t", text, "-o", out)
	return out
}

// MP4 muxes wav with a synthetic test-pattern video track into an MP4
// (H.264 + AAC when libx264 is available, else MPEG-4 part 2 + AAC).
func MP4(t testing.TB, wav string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "speech.mp4")
	vcodec := []string{"-c:v", "mpeg4"}
	if hasEncoder(t, "libx264") {
		vcodec = []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
	}
	args := append(videoInput(t, wav), vcodec...)
	args = append(args, "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", out)
	run(t, "ffmpeg", args...)
	return out
}

// WebM muxes wav with a synthetic video track into a WebM (VP9 + Opus, or
// VP8 + Vorbis on an ffmpeg without them).
func WebM(t testing.TB, wav string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "speech.webm")
	vcodec := []string{"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "100k"}
	if hasEncoder(t, "libvpx-vp9") {
		vcodec = []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1", "-b:v", "100k"}
	}
	acodec := []string{"-c:a", "libvorbis"}
	if hasEncoder(t, "libopus") {
		acodec = []string{"-c:a", "libopus", "-b:a", "48k"}
	}
	args := append(videoInput(t, wav), vcodec...)
	args = append(args, acodec...)
	args = append(args, out)
	run(t, "ffmpeg", args...)
	return out
}

// NoAudio makes a two-second MP4 with a video track and no audio at all.
func NoAudio(t testing.TB) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "silent-film.mp4")
	vcodec := []string{"-c:v", "mpeg4"}
	if hasEncoder(t, "libx264") {
		vcodec = []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
	}
	args := []string{"-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2"}
	args = append(args, vcodec...)
	args = append(args, out)
	run(t, "ffmpeg", args...)
	return out
}

// Serve serves the files of dir on a loopback HTTP server for the life of
// the test and returns its base URL (no trailing slash).
func Serve(t testing.TB, dir string) string {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Copy copies the file src into dir under name and returns the new path;
// handy for putting generated media side by side for Serve.
func Copy(t testing.TB, src, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("read %s: %v", src, err)
	}
	dst := filepath.Join(dir, name)
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatalf("write %s: %v", dst, err)
	}
	return dst
}

// WER is the word error rate of hypothesis against reference: (substitutions
// + deletions + insertions) / reference words, after lower-casing and
// removing punctuation. An empty reference gives 0 for an empty hypothesis
// and 1 otherwise.
func WER(reference, hypothesis string) float64 {
	ref, hyp := Words(reference), Words(hypothesis)
	if len(ref) == 0 {
		if len(hyp) == 0 {
			return 0
		}
		return 1
	}
	// Levenshtein distance over words, one row at a time.
	prev := make([]int, len(hyp)+1)
	cur := make([]int, len(hyp)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = i
		for j := 1; j <= len(hyp); j++ {
			cost := 1
			if ref[i-1] == hyp[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return float64(prev[len(hyp)]) / float64(len(ref))
}

// Words splits s into lower-case words without punctuation; apostrophes
// inside words are kept ("don't").
func Words(s string) []string {
	s = strings.ToLower(s)
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case r == '\'' && i > 0 && i < len(rs)-1 && unicode.IsLetter(rs[i-1]) && unicode.IsLetter(rs[i+1]):
			b.WriteRune(r)
		default:
			b.WriteRune(' ')
		}
	}
	return strings.Fields(b.String())
}

// videoInput is a test-pattern video exactly as long as wav (ffmpeg's
// -shortest overshoots with encoders that buffer, such as libvpx) and wav.
func videoInput(t testing.TB, wav string) []string {
	t.Helper()
	d := strings.TrimSpace(run(t, "ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", wav))
	return []string{"-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=" + d, "-i", wav, "-map", "0:v:0", "-map", "1:a:0"}
}

func hasEncoder(t testing.TB, name string) bool {
	t.Helper()
	out := run(t, "ffmpeg", "-hide_banner", "-encoders")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[1] == name {
			return true
		}
	}
	return false
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not found%s", name, hint)
	}
	if name == "ffmpeg" && args[0] != "-hide_banner" {
		args = append([]string{"-nostdin", "-y", "-v", "error"}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}
