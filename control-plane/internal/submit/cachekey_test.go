package submit_test

import (
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/internal/submit"
)

func TestYouTubeID(t *testing.T) {
	t.Parallel()
	tests := []struct{ url, want string }{
		{"https://www.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"},
		{"https://youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=42", "dQw4w9WgXcQ"},
		{"https://m.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"},
		{"https://youtu.be/dQw4w9WgXcQ?si=abc", "dQw4w9WgXcQ"},
		{"https://www.youtube.com/shorts/dQw4w9WgXcQ", "dQw4w9WgXcQ"},
		{"https://www.youtube.com/embed/dQw4w9WgXcQ", "dQw4w9WgXcQ"},
		{"https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=x", "dQw4w9WgXcQ"},
		{"https://www.youtube.com/watch?v=short", ""},
		{"https://www.youtube.com/channel/UCxyz", ""},
		{"https://example.com/watch?v=dQw4w9WgXcQ", ""},
		{"::bad", ""},
	}
	for _, tc := range tests {
		if got := submit.YouTubeID(tc.url); got != tc.want {
			t.Errorf("YouTubeID(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}

func TestNormalizeURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ a, b string }{
		{"HTTPS://Media.Example.COM:443/a.mp4?b=2&a=1#frag", "https://media.example.com/a.mp4?a=1&b=2"},
		{"http://example.com:80", "http://example.com/"},
		{"http://example.com:8080/x", "http://example.com:8080/x"},
	}
	for _, tc := range tests {
		if got := submit.NormalizeURL(tc.a); got != tc.b {
			t.Errorf("NormalizeURL(%q) = %q, want %q", tc.a, got, tc.b)
		}
	}
}
