package source

import (
	"regexp"
	"strings"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// rule maps a yt-dlp error message to a failure class. The first match wins,
// so the more specific patterns come first.
type rule struct {
	re        *regexp.Regexp
	code      string
	permanent bool
}

// ytdlpRules is built once per YTDLP; patterns follow yt-dlp's wording of its
// extractor and downloader errors.
func ytdlpRules() []rule {
	r := func(p, code string, permanent bool) rule {
		return rule{re: regexp.MustCompile(`(?i)` + p), code: code, permanent: permanent}
	}
	return []rule{
		// The agent's egress guard refused a loopback/private/metadata target.
		r(`ytcaption egress policy`, api.CodeForbiddenSource, true),
		// YouTube's bot check says "Sign in" but is a per-IP throttle: cookies, a
		// proxy or time fix it, so it must not fail the job for good.
		r(`not a bot|confirm you.?re not a robot|captcha`, api.CodeDownloadFailed, false),
		r(`HTTP Error (403|429|5\d\d)|too many requests`, api.CodeDownloadFailed, false),
		r(`private video|video is private|sign in|login required|members[- ]only|join this channel|requires authentication|--cookies|age.restricted|inappropriate for some users`, api.CodeSourcePrivate, true),
		r(`unsupported url|is not a valid url|no video formats found|not a video|playlists are not supported`, api.CodeUnsupportedURL, true),
		r(`HTTP Error (404|410)|video unavailable|has been removed|does not exist|no longer available|account .* terminated`, api.CodeSourceNotFound, true),
		r(`larger than max-filesize|file is larger than`, api.CodeMediaTooLarge, true),
		r(`is live|live event will begin|premieres in`, api.CodeUnsupportedURL, true),
	}
}

// classifyStderr turns a failed yt-dlp run into a classified error. Unknown
// failures (timeouts, resets, DNS, crashes) are transient download failures.
func classifyStderr(rules []rule, stderr string, cause error) error {
	msg := errorLine(stderr)
	if msg == "" {
		msg = "yt-dlp failed"
	}
	for _, r := range rules {
		if r.re.MatchString(msg) {
			if r.permanent {
				return failure.Permanent(r.code, "%s: %w", msg, cause)
			}
			return failure.Transient(r.code, "%s: %w", msg, cause)
		}
	}
	return failure.Transient(api.CodeDownloadFailed, "%s: %w", msg, cause)
}

// errorLine picks the most telling line of yt-dlp's stderr: the last
// "ERROR:" line, without the boilerplate that asks users to file bug reports.
func errorLine(stderr string) string {
	var last, any string
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		any = line
		if strings.HasPrefix(line, "ERROR:") {
			last = line
		}
	}
	if last == "" {
		last = any
	}
	last = strings.TrimSpace(strings.TrimPrefix(last, "ERROR:"))
	for _, cut := range []string{"; please report this issue", " please report this issue", "; Confirm you are on the latest"} {
		if i := strings.Index(last, cut); i >= 0 {
			last = last[:i]
		}
	}
	const maxLen = 400
	if len(last) > maxLen {
		last = last[:maxLen] + "…"
	}
	return strings.TrimSpace(last)
}
