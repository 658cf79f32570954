// Package site says which site a media URL belongs to, the one answer shared
// by the download metrics' labels, the agent's per-site circuit breakers and
// the result cache's YouTube video key; also which URLs name a media file
// (fetched without yt-dlp) and what identifies the content such a URL
// served (Validator, the cache key of a direct URL). A site is the URL's host, lower-cased
// and in ASCII (IDNs as punycode), without the "www.", "m." and "music."
// prefixes that name the same site, and with YouTube's other domains folded
// into "youtube.com".
package site

import (
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"

	"golang.org/x/net/idna"
)

// YouTube is the site of every YouTube URL.
const YouTube = "youtube.com"

// Of returns the site of rawURL, or "" when it has no host.
func Of(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	h := host(u)
	switch h {
	case "youtu.be", "youtube-nocookie.com":
		return YouTube
	}
	return h
}

// host is u's host as a site name, before YouTube's domains are folded.
func host(u *url.URL) string {
	h := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if h == "" {
		return ""
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.WithZone("").String()
	}
	if !ascii(h) {
		a, err := idna.Lookup.ToASCII(h)
		if err != nil {
			return ""
		}
		h = a
	}
	if !hostname(h) {
		return "" // a percent-encoded host can hold anything
	}
	// Prefixes that name the same site, but never the whole registrable name
	// ("www.com" stays itself).
	for {
		rest, ok := cutAny(h, "www.", "m.", "music.")
		if !ok || !strings.Contains(rest, ".") {
			return h
		}
		h = rest
	}
}

func cutAny(s string, prefixes ...string) (string, bool) {
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return rest, true
		}
	}
	return s, false
}

// hostname reports whether h is a DNS name: non-empty labels of letters,
// digits, '-' and '_'.
func hostname(h string) bool {
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// YouTubeID returns the video id a YouTube URL points at (watch, youtu.be,
// shorts, embed, live and /v/ links), or "".
func YouTubeID(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	switch host(u) {
	case "youtu.be":
		return videoID(strings.Trim(u.Path, "/"))
	case YouTube, "youtube-nocookie.com":
		if u.Path == "/watch" {
			return videoID(u.Query().Get("v"))
		}
		for _, p := range []string{"/shorts/", "/embed/", "/live/", "/v/"} {
			if rest, ok := strings.CutPrefix(u.Path, p); ok {
				return videoID(strings.Trim(rest, "/"))
			}
		}
	}
	return ""
}

// videoID returns id if it has the shape of a YouTube video id, else "".
func videoID(id string) string {
	if len(id) != 11 {
		return ""
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return ""
		}
	}
	return id
}

// mediaExts are the file extensions a URL's path names media by.
var mediaExts = map[string]bool{
	".mp3": true, ".m4a": true, ".mp4": true, ".m4v": true, ".mov": true, ".webm": true, ".mkv": true,
	".ogg": true, ".oga": true, ".opus": true, ".wav": true, ".flac": true, ".aac": true,
}

// IsMediaURL reports whether raw is an http(s) URL whose path names a media
// file by its extension.
func IsMediaURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	return mediaExts[strings.ToLower(path.Ext(u.Path))]
}

// Validator identifies the content an HTTP response serves: its strong
// ETag, else Last-Modified with Content-Length; "" when it has neither, and
// then the same URL may serve other bytes unannounced.
func Validator(h http.Header) string {
	if et := h.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		return "etag:" + et
	}
	if lm, cl := h.Get("Last-Modified"), h.Get("Content-Length"); lm != "" && cl != "" {
		return "lm:" + lm + "|len:" + cl
	}
	return ""
}
