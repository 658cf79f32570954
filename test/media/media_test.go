package media

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func TestWER(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref, hyp string
		want     float64
	}{
		{"Hello, world!", "hello world", 0},
		{"the cat sat", "the cat sat on", 1.0 / 3},
		{"the cat sat", "the bat sat", 1.0 / 3},
		{"the cat sat", "cat", 2.0 / 3},
		{"", "", 0},
		{"", "noise", 1},
		{"Don't stop.", "don't stop", 0},
	}
	for _, tt := range tests {
		if got := WER(tt.ref, tt.hyp); got != tt.want {
			t.Errorf("WER(%q, %q) = %v, want %v", tt.ref, tt.hyp, got, tt.want)
		}
	}
}

func TestMediaFiles(t *testing.T) {
	t.Parallel()
	wav := Speech(t, "Testing one two three.")
	files := map[string]string{
		"speech.wav":  wav,
		"speech.mp4":  MP4(t, wav),
		"speech.webm": WebM(t, wav),
		"silent.mp4":  NoAudio(t),
	}
	dir := t.TempDir()
	for name, p := range files {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", name, err)
		}
		Copy(t, p, dir, name)
	}
	base := Serve(t, dir)
	resp, err := http.Get(base + "/speech.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	want, _ := os.ReadFile(filepath.Join(dir, "speech.mp4"))
	if resp.StatusCode != http.StatusOK || len(got) != len(want) {
		t.Fatalf("served %d bytes with status %d, want %d bytes", len(got), resp.StatusCode, len(want))
	}
}
