package artifact

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// YtDlpName is the tool name a pushed yt-dlp release carries.
const YtDlpName = "yt-dlp"

// versionTimeout bounds one `yt-dlp --version`.
const versionTimeout = 30 * time.Second

// PreferNewerYtDlp picks the yt-dlp to run: pushed (a cached tool, "" when
// none) when its `--version` is newer than system's, or when system cannot
// report one; else system. yt-dlp versions are release dates
// (2025.01.15, nightlies 2025.01.16.232854), compared field by field.
func PreferNewerYtDlp(ctx context.Context, pushed, system string) (string, error) {
	if pushed == "" {
		return system, nil
	}
	pv, err := ytDlpVersion(ctx, pushed)
	if err != nil {
		return system, fmt.Errorf("pushed yt-dlp unusable, keeping %s: %w", system, err)
	}
	sv, err := ytDlpVersion(ctx, system)
	if err != nil || newer(pv, sv) {
		return pushed, nil
	}
	return system, nil
}

func ytDlpVersion(ctx context.Context, bin string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	v := strings.TrimSpace(string(out))
	if _, ok := parseVersion(v); !ok {
		return "", fmt.Errorf("%s --version: unexpected %q", bin, v)
	}
	return v, nil
}

// parseVersion splits a dotted numeric version.
func parseVersion(v string) ([]int, bool) {
	var out []int
	for f := range strings.SplitSeq(v, ".") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, false
		}
		out = append(out, n)
	}
	return out, len(out) > 0
}

// newer reports whether version a is later than b (both parseable).
func newer(a, b string) bool {
	x, _ := parseVersion(a)
	y, _ := parseVersion(b)
	for i := 0; i < len(x) && i < len(y); i++ {
		if x[i] != y[i] {
			return x[i] > y[i]
		}
	}
	return len(x) > len(y)
}
