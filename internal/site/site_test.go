package site_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/internal/site"
)

func TestOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ url, want string }{
		{"https://youtube.com/watch?v=dQw4w9WgXcQ", "youtube.com"},
		{"https://www.youtube.com/watch?v=dQw4w9WgXcQ", "youtube.com"},
		{"https://m.youtube.com/watch?v=dQw4w9WgXcQ", "youtube.com"},
		{"https://music.youtube.com/watch?v=dQw4w9WgXcQ", "youtube.com"},
		{"https://www.music.youtube.com/", "youtube.com"},
		{"https://youtu.be/dQw4w9WgXcQ", "youtube.com"},
		{"https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ", "youtube.com"},
		{"https://vimeo.com/123", "vimeo.com"},
		{"https://player.vimeo.com/video/123", "player.vimeo.com"},
		{"https://m.facebook.com/watch", "facebook.com"},
		{"http://www.com/", "www.com"},
		{"http://m.example/", "m.example"},
		{"https://cdn.example.org:8443/a.mp4", "cdn.example.org"},
		{"https://user:secret@www.example.org/a.mp4", "example.org"},
		{"HTTPS://WWW.Example.ORG/A.mp4", "example.org"},
		{"https://example.org./a.mp4", "example.org"},
		{"http://127.0.0.1:8080/a.mp4", "127.0.0.1"},
		{"http://[::1]:8080/a.mp4", "::1"},
		{"http://[0:0:0:0:0:0:0:1]/", "::1"},
		{"http://[fe80::1%25eth0]/", "fe80::1"},
		{"https://BÜCHER.example/talk.mp4", "xn--bcher-kva.example"},
		{"https://www.xn--bcher-kva.example/talk.mp4", "xn--bcher-kva.example"},
		{"https://bücher.example/", "xn--bcher-kva.example"},
		{"", ""},
		{"not a url", ""},
		{"youtube.com/watch?v=dQw4w9WgXcQ", ""},
		{"/relative/path", ""},
		{"file:///etc/passwd", ""},
		{"https://", ""},
		{"::bad", ""},
		{"http://[::1", ""},
		{"http://exa mple.com/", ""},
		{"http://exa%20mple.com/", ""},
		{"http://%25/", ""},
		{"http://../", ""},
		{"http://a..b/", ""},
	} {
		if got := site.Of(tt.url); got != tt.want {
			t.Errorf("Of(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestYouTubeID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ url, want string }{
		{"https://www.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"},
		{"https://youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=42", "dQw4w9WgXcQ"},
		{"https://m.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"},
		{"https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=x", "dQw4w9WgXcQ"},
		{"HTTPS://WWW.YOUTUBE.COM/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"},
		{"https://youtu.be/dQw4w9WgXcQ?si=abc", "dQw4w9WgXcQ"},
		{"https://www.youtube.com/shorts/dQw4w9WgXcQ", "dQw4w9WgXcQ"},
		{"https://www.youtube.com/embed/dQw4w9WgXcQ", "dQw4w9WgXcQ"},
		{"https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ", "dQw4w9WgXcQ"},
		{"https://www.youtube.com/live/dQw4w9WgXcQ/", "dQw4w9WgXcQ"},
		{"https://www.youtube.com/v/dQw4w9WgXcQ", "dQw4w9WgXcQ"},
		{"https://user@youtube.com:443/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"},
		{"https://www.youtube.com/watch?v=short", ""},
		{"https://www.youtube.com/watch?v=dQw4w9WgXc!", ""},
		{"https://www.youtube.com/channel/UCxyz", ""},
		{"https://youtu.be/", ""},
		{"https://example.com/watch?v=dQw4w9WgXcQ", ""},
		{"https://notyoutube.com/watch?v=dQw4w9WgXcQ", ""},
		{"::bad", ""},
	} {
		if got := site.YouTubeID(tt.url); got != tt.want {
			t.Errorf("YouTubeID(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

// FuzzOf: URLs come from users and from sites. Nothing panics, a site is
// lower-case ASCII and names itself, and a video id has YouTube's shape.
func FuzzOf(f *testing.F) {
	for _, s := range []string{
		"https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://youtu.be/dQw4w9WgXcQ",
		"http://[fe80::1%25eth0]:80/", "https://BÜCHER.example/", "https://u:p@M.Example.org./x", "::bad",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s := site.Of(raw)
		if s != strings.ToLower(s) || strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 }) {
			t.Fatalf("Of(%q) = %q, not lower-case ASCII", raw, s)
		}
		if s != "" {
			h := s
			if strings.Contains(h, ":") {
				h = "[" + h + "]"
			}
			if again := site.Of("https://" + h + "/"); again != s {
				t.Fatalf("Of(%q) = %q, but the site of its own URL is %q", raw, s, again)
			}
		}
		if id := site.YouTubeID(raw); id != "" && (len(id) != 11 || s != site.YouTube) {
			t.Fatalf("YouTubeID(%q) = %q on site %q", raw, id, s)
		}
	})
}

func TestIsMediaURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		"https://cdn.example.com/talks/keynote.mp4":    true,
		"http://example.com/a/b/Episode%201.M4A?sig=x": true,
		"https://example.com/podcast.opus#t=3":         true,
		"https://www.youtube.com/watch?v=dQw4w9WgXcQ":  false,
		"https://example.com/page.html":                false,
		"https://example.com/":                         false,
		"ftp://example.com/a.mp3":                      false,
		"file:///etc/a.wav":                            false,
		"https:///a.mp3":                               false,
		"::not a url":                                  false,
	} {
		if got := site.IsMediaURL(raw); got != want {
			t.Errorf("IsMediaURL(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestValidator(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		h    http.Header
		want string
	}{
		{http.Header{"Etag": {`"v1"`}, "Last-Modified": {"Mon, 02 Jan 2006 15:04:05 GMT"}, "Content-Length": {"10"}}, `etag:"v1"`},
		{http.Header{"Etag": {`W/"v1"`}, "Last-Modified": {"Mon, 02 Jan 2006 15:04:05 GMT"}, "Content-Length": {"10"}}, "lm:Mon, 02 Jan 2006 15:04:05 GMT|len:10"},
		{http.Header{"Last-Modified": {"Mon, 02 Jan 2006 15:04:05 GMT"}}, ""},
		{http.Header{"Etag": {`W/"weak"`}}, ""},
		{http.Header{}, ""},
	} {
		if got := site.Validator(tt.h); got != tt.want {
			t.Errorf("Validator(%v) = %q, want %q", tt.h, got, tt.want)
		}
	}
}
