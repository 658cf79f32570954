package failure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		code      string
		retryable bool
	}{
		{"nil", nil, "", false},
		{"permanent", Permanent(api.CodeSourcePrivate, "private video"), api.CodeSourcePrivate, false},
		{"transient", Transient(api.CodeDownloadFailed, "HTTP 503"), api.CodeDownloadFailed, true},
		{"wrapped permanent", fmt.Errorf("stage download: %w", Permanent(api.CodeNoAudio, "no audio")), api.CodeNoAudio, false},
		{"unknown is transient", io.ErrUnexpectedEOF, api.CodeInternal, true},
		{"canceled", context.Canceled, api.CodeCanceled, false},
		{"canceled inside transient", Transient(api.CodeDownloadFailed, "yt-dlp: %w", context.Canceled), api.CodeCanceled, false},
		{"deadline stays with its class", Transient(api.CodeDownloadFailed, "yt-dlp: %w", context.DeadlineExceeded), api.CodeDownloadFailed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, retryable := Classify(tt.err)
			if got.Code != tt.code || retryable != tt.retryable {
				t.Fatalf("Classify(%v) = %q, %v; want %q, %v", tt.err, got.Code, retryable, tt.code, tt.retryable)
			}
			if tt.err != nil && got.Message == "" {
				t.Fatalf("empty message for %v", tt.err)
			}
		})
	}
}

func TestCauseIsKept(t *testing.T) {
	t.Parallel()
	cause := errors.New("exit status 1")
	err := Permanent(api.CodeUndecodable, "ffprobe: %w", cause)
	if !errors.Is(err, cause) {
		t.Fatal("cause lost")
	}
	if err.Error() != "ffprobe: exit status 1" {
		t.Fatalf("message = %q", err.Error())
	}
	if !IsCanceled(fmt.Errorf("x: %w", context.Canceled)) || IsCanceled(cause) {
		t.Fatal("IsCanceled wrong")
	}
	if Code(err) != api.CodeUndecodable {
		t.Fatalf("Code = %q", Code(err))
	}
}

func TestInterrupted(t *testing.T) {
	t.Parallel()
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, stop := context.WithDeadline(context.Background(), time.Unix(0, 0))
	t.Cleanup(stop)
	tests := []struct {
		name        string
		ctx, runCtx context.Context
		code        string
		retryable   bool
	}{
		{"still running", live, live, "", false},
		{"caller canceled", canceled, canceled, api.CodeCanceled, false},
		{"caller canceled as the run timed out", canceled, expired, api.CodeCanceled, false},
		{"run timed out", live, expired, api.CodeDownloadFailed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Interrupted(tt.ctx, tt.runCtx, "yt-dlp", time.Minute, api.CodeDownloadFailed)
			if got, retryable := Classify(err); got.Code != tt.code || retryable != tt.retryable {
				t.Fatalf("Interrupted = %v: classified %q, %v; want %q, %v", err, got.Code, retryable, tt.code, tt.retryable)
			}
		})
	}
}
