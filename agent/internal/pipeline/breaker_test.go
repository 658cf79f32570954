package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/agent/internal/source"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// flakySite stands in for a site's answers, which cannot be reached here.
type flakySite struct {
	calls atomic.Int32
	err   error
}

func (f *flakySite) Resolve(context.Context, string) (source.Info, error) {
	f.calls.Add(1)
	return source.Info{Title: "ok"}, f.err
}

func (f *flakySite) FetchCaptions(context.Context, string, string, string) (api.Transcript, error) {
	f.calls.Add(1)
	return api.Transcript{}, f.err
}

func (f *flakySite) Download(context.Context, string, string, source.Limits) (string, error) {
	f.calls.Add(1)
	return "x", f.err
}

func TestSiteBreakerOpensOnTransientFailures(t *testing.T) {
	t.Parallel()
	site := &flakySite{err: failure.Transient(api.CodeDownloadFailed, "HTTP 503")}
	b := NewSiteBreakers(site, site, site, BreakerSettings{Failures: 3, Open: time.Hour}, nil)
	ctx := context.Background()
	for range 3 {
		if _, err := b.Download(ctx, "https://www.video.example/a", "", source.Limits{}); failure.Code(err) != api.CodeDownloadFailed {
			t.Fatalf("closed breaker: %v", err)
		}
	}
	_, err := b.Resolve(ctx, "https://video.example/b")
	if failure.Code(err) != CodeSiteUnavailable {
		t.Fatalf("open breaker: %v", err)
	}
	if _, retry := failure.Classify(err); !retry {
		t.Fatal("an open breaker must be a retryable failure")
	}
	if site.calls.Load() != 3 {
		t.Fatalf("the open breaker let a call through: %d calls", site.calls.Load())
	}
	// Another site is not affected.
	other := &flakySite{}
	b.Resolver = other
	if _, err := b.Resolve(ctx, "https://other.example/x"); err != nil {
		t.Fatalf("other site: %v", err)
	}
}

func TestSiteBreakerIgnoresPermanentAndCanceled(t *testing.T) {
	t.Parallel()
	site := &flakySite{err: failure.Permanent(api.CodeSourceNotFound, "HTTP 404")}
	b := NewSiteBreakers(site, site, site, BreakerSettings{Failures: 2, Open: time.Hour}, nil)
	for range 5 {
		if _, err := b.Download(context.Background(), "https://x.example/a", "", source.Limits{}); failure.Code(err) != api.CodeSourceNotFound {
			t.Fatalf("got %v", err)
		}
	}
	site.err = context.Canceled
	for range 5 {
		if _, err := b.Download(context.Background(), "https://x.example/a", "", source.Limits{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	}
	if site.calls.Load() != 10 {
		t.Fatalf("calls %d: permanent answers or cancels opened the breaker", site.calls.Load())
	}
}

func TestStageLimits(t *testing.T) {
	t.Parallel()
	p := &Pipeline{StageLimits: map[string]int{StageTranscribe: 1}}
	release, err := p.enter(context.Background(), StageTranscribe)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.enter(ctx, StageTranscribe); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second transcription entered a stage limited to one: %v", err)
	}
	if r, err := p.enter(context.Background(), StageDownload); err != nil {
		t.Fatalf("unbounded stage: %v", err)
	} else {
		r()
	}
	release()
	r2, err := p.enter(context.Background(), StageTranscribe)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	r2()
}

// TestShareStages: a pipeline rebuilt while the old one runs a bounded
// stage waits for it; the old one's limit holds across both.
func TestShareStages(t *testing.T) {
	t.Parallel()
	old := &Pipeline{StageLimits: map[string]int{StageTranscribe: 1}}
	release, err := old.enter(context.Background(), StageTranscribe)
	if err != nil {
		t.Fatal(err)
	}
	rebuilt := &Pipeline{StageLimits: map[string]int{StageTranscribe: 1}}
	rebuilt.ShareStages(old)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := rebuilt.enter(ctx, StageTranscribe); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the rebuilt pipeline transcribed beside the old one's transcription: %v", err)
	}
	release()
	r, err := rebuilt.enter(context.Background(), StageTranscribe)
	if err != nil {
		t.Fatalf("after the old one's release: %v", err)
	}
	r()
}
