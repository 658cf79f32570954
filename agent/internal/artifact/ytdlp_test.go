package artifact_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ytcaption/ytcaption/agent/internal/artifact"
)

func fakeYtDlp(t *testing.T, dir, name, version string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho "+version+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPreferNewerYtDlp: the pushed yt-dlp runs when its release date is
// later than the system one's, or when there is no usable system one.
func TestPreferNewerYtDlp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	system := fakeYtDlp(t, dir, "system", "2025.01.15")
	newer := fakeYtDlp(t, dir, "newer", "2025.02.01")
	nightly := fakeYtDlp(t, dir, "nightly", "2025.01.15.232854")
	older := fakeYtDlp(t, dir, "older", "2024.12.23")
	broken := fakeYtDlp(t, dir, "broken", "not-a-version")
	missing := filepath.Join(dir, "missing")
	cases := []struct {
		name, pushed, system, want string
		err                        bool
	}{
		{"none pushed", "", system, system, false},
		{"pushed newer", newer, system, newer, false},
		{"pushed nightly of the same day", nightly, system, nightly, false},
		{"pushed older", older, system, system, false},
		{"same", system, system, system, false},
		{"no system yt-dlp", older, missing, older, false},
		{"pushed broken", broken, system, system, true},
	}
	for _, c := range cases {
		got, err := artifact.PreferNewerYtDlp(context.Background(), c.pushed, c.system)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("%s: %q, %v; want %q (error %v)", c.name, got, err, c.want, c.err)
		}
	}
}
