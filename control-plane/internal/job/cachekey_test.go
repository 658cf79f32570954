package job_test

import (
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

func TestNormalizeURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ a, b string }{
		{"HTTPS://Media.Example.COM:443/a.mp4?b=2&a=1#frag", "https://media.example.com/a.mp4?a=1&b=2"},
		{"http://example.com:80", "http://example.com/"},
		{"http://example.com:8080/x", "http://example.com:8080/x"},
	}
	for _, tc := range tests {
		if got := job.NormalizeURL(tc.a); got != tc.b {
			t.Errorf("NormalizeURL(%q) = %q, want %q", tc.a, got, tc.b)
		}
	}
}
