package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/agent/internal/source"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/site"
)

// CodeSiteUnavailable is the (transient) failure of a task whose source site
// has an open circuit breaker.
const CodeSiteUnavailable = "site_unavailable"

// BreakerSettings tune the per-site circuit breakers.
type BreakerSettings struct {
	// Failures is how many transient failures in a row open a site's breaker.
	Failures uint32
	// Open is how long it stays open before one trial request is let through.
	Open time.Duration
}

// SiteBreakers guards the source stages with one circuit breaker per site:
// after repeated transient failures (403 bot checks, 5xx, timeouts) further
// requests to that site fail fast as retryable for a while, instead of every
// task spending its time and the site's patience on doomed downloads.
// Permanent answers (404, private video) are the site working as it should
// and do not count.
type SiteBreakers struct {
	Resolver   Resolver
	Captions   CaptionFetcher
	Downloader Downloader
	settings   BreakerSettings
	log        *slog.Logger

	mu    sync.Mutex
	sites map[string]*gobreaker.CircuitBreaker[any]
}

// NewSiteBreakers wraps the source stages.
func NewSiteBreakers(r Resolver, c CaptionFetcher, d Downloader, s BreakerSettings, log *slog.Logger) *SiteBreakers {
	if s.Failures == 0 {
		s.Failures = 5
	}
	if s.Open <= 0 {
		s.Open = time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SiteBreakers{Resolver: r, Captions: c, Downloader: d, settings: s, log: log, sites: map[string]*gobreaker.CircuitBreaker[any]{}}
}

func (b *SiteBreakers) breaker(host string) *gobreaker.CircuitBreaker[any] {
	b.mu.Lock()
	defer b.mu.Unlock()
	cb, ok := b.sites[host]
	if !ok {
		cb = gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
			Name:        host,
			Timeout:     b.settings.Open,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= b.settings.Failures },
			// Only transient failures say the site is in trouble; a cancel
			// says nothing about it.
			IsSuccessful: func(err error) bool {
				if err == nil {
					return true
				}
				_, retry := failure.Classify(err)
				return !retry
			},
			IsExcluded: failure.IsCanceled,
			OnStateChange: func(name string, from, to gobreaker.State) {
				b.log.Warn("download circuit breaker changed", "site", name, "from", from.String(), "to", to.String())
			},
		})
		b.sites[host] = cb
	}
	return cb
}

// guard runs fn through the breaker of rawURL's site.
func guard[T any](b *SiteBreakers, rawURL string, fn func() (T, error)) (T, error) {
	host := site.Of(rawURL)
	out, err := b.breaker(host).Execute(func() (any, error) { return fn() })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		var zero T
		return zero, failure.Transient(CodeSiteUnavailable, "downloads from %s keep failing; paused for %s before trying again: %w",
			host, b.settings.Open, err)
	}
	v, _ := out.(T)
	return v, err
}

// Resolve implements Resolver.
func (b *SiteBreakers) Resolve(ctx context.Context, u string) (source.Info, error) {
	return guard(b, u, func() (source.Info, error) { return b.Resolver.Resolve(ctx, u) })
}

// FetchCaptions implements CaptionFetcher.
func (b *SiteBreakers) FetchCaptions(ctx context.Context, u, lang, dir string) (api.Transcript, error) {
	return guard(b, u, func() (api.Transcript, error) { return b.Captions.FetchCaptions(ctx, u, lang, dir) })
}

// Download implements Downloader.
func (b *SiteBreakers) Download(ctx context.Context, u, dir string, lim source.Limits) (string, error) {
	return guard(b, u, func() (string, error) { return b.Downloader.Download(ctx, u, dir, lim) })
}
