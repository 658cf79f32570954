package blob

import (
	"errors"
	"strings"
	"testing"
)

func TestResultKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		job, task string
		attempt   int
		want      string
	}{
		{"j1", "t1", 1, "jobs/j1/tasks/t1/attempt-1/transcript.json"},
		{"j1", "t1", 2, "jobs/j1/tasks/t1/attempt-2/transcript.json"},
		{"0198-abc", "0198-def", 12, "jobs/0198-abc/tasks/0198-def/attempt-12/transcript.json"},
	}
	for _, tt := range tests {
		got := ResultKey(tt.job, tt.task, tt.attempt)
		if got != tt.want {
			t.Errorf("ResultKey(%q, %q, %d) = %q, want %q", tt.job, tt.task, tt.attempt, got, tt.want)
		}
		if err := CheckKey(got); err != nil {
			t.Errorf("ResultKey produced an invalid key: %v", err)
		}
	}
	if ResultKey("j", "t", 1) == ResultKey("j", "t", 2) {
		t.Error("attempts share a result key")
	}
}

func TestChunkKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		job, task string
		token     int64
		i         int
		want      string
	}{
		{"j1", "t1", 1, 0, "jobs/j1/tasks/t1/token-1/chunk-0.wav"},
		{"j1", "t1", 7, 12, "jobs/j1/tasks/t1/token-7/chunk-12.wav"},
	}
	for _, tt := range tests {
		got := ChunkKey(tt.job, tt.task, tt.token, tt.i)
		if got != tt.want {
			t.Errorf("ChunkKey(%q, %q, %d, %d) = %q, want %q", tt.job, tt.task, tt.token, tt.i, got, tt.want)
		}
		if err := CheckKey(got); err != nil {
			t.Errorf("ChunkKey produced an invalid key: %v", err)
		}
	}
	if ChunkKey("j", "t", 1, 0) == ChunkKey("j", "t", 2, 0) {
		t.Error("leases share a chunk key")
	}
}

func TestUploadKey(t *testing.T) {
	t.Parallel()
	if got, want := UploadKey("j1"), "uploads/j1/source"; got != want {
		t.Errorf("UploadKey = %q, want %q", got, want)
	}
	if err := CheckKey(UploadKey("j1")); err != nil {
		t.Error(err)
	}
}

func TestCheckKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"jobs/j/tasks/t/attempt-1/transcript.json", true},
		{"uploads/j/source", true},
		{"with space/ünïcode.txt", true},
		{"a.b/c.d", true},
		{strings.Repeat("k", MaxKeyLen), true},

		{"", false},
		{strings.Repeat("k", MaxKeyLen+1), false},
		{"/abs", false},
		{"trailing/", false},
		{"double//slash", false},
		{"..", false},
		{"../x", false},
		{"a/../../x", false},
		{"a/..", false},
		{"a..b", false},
		{".", false},
		{"./a", false},
		{"a/./b", false},
		{".tmp/x", false},
		{".hidden", false},
		{`a\b`, false},
		{`..\..\x`, false},
		{"nul\x00byte", false},
		{"new\nline", false},
		{"del\x7f", false},
		{"c1\u0085", false},
		{"bad\xffutf8", false},
	}
	for _, tt := range tests {
		err := CheckKey(tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("CheckKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("CheckKey(%q) = %v, not ErrInvalidKey", tt.key, err)
		}
	}
}
