package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// ErrUnavailable reports that the object store is failing and calls are
// being refused without trying, until a trial call succeeds.
var ErrUnavailable = errors.New("blob: object store unavailable")

// Backend is a store the breaker can guard.
type Backend interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	PresignPut(ctx context.Context, key string, ttl time.Duration) (api.Presigned, error)
	PresignGet(ctx context.Context, key string, ttl time.Duration) (api.Presigned, error)
	Ping(ctx context.Context) error
}

// Breaker guards an object store with a circuit breaker and a per-call
// timeout: when the store keeps failing, API calls that need it fail fast
// with ErrUnavailable (a 503 with Retry-After) instead of piling up behind
// timeouts. Presigning is local computation and Ping must see the real state,
// so neither goes through the breaker.
type Breaker struct {
	Backend
	cb      *gobreaker.CircuitBreaker[any]
	timeout time.Duration
	trips   *atomic.Uint64
}

// NewBreaker wraps b; failures consecutive failures open the breaker for open.
func NewBreaker(b Backend, failures uint32, open, timeout time.Duration, log *slog.Logger) *Breaker {
	trips := new(atomic.Uint64)
	return &Breaker{Backend: b, timeout: timeout, trips: trips, cb: gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name:        "object-store",
		Timeout:     open,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsSuccessful: func(err error) bool {
			return err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidKey)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			log.Warn("object store circuit breaker changed", "from", from.String(), "to", to.String())
			if to == gobreaker.StateOpen {
				trips.Add(1)
			}
		},
	})}
}

// Open reports whether the breaker is refusing calls (open, or half-open
// while a trial call decides).
func (b *Breaker) Open() bool { return b.cb.State() != gobreaker.StateClosed }

// Trips counts the times the breaker has opened.
func (b *Breaker) Trips() uint64 { return b.trips.Load() }

func (b *Breaker) do(fn func() error) error {
	_, err := b.cb.Execute(func() (any, error) { return nil, fn() })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// Put implements the store through the breaker; the caller's deadline bounds it.
func (b *Breaker) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	return b.do(func() error { return b.Backend.Put(ctx, key, r, size, contentType) })
}

// Get implements the store through the breaker. Only opening the object is
// bounded by the timeout; reading it is the caller's.
func (b *Breaker) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := b.do(func() error {
		var err error
		rc, err = b.Backend.Get(ctx, key)
		return err
	})
	return rc, err
}

// Delete implements the store through the breaker, bounded by the timeout.
func (b *Breaker) Delete(ctx context.Context, key string) error {
	return b.do(func() error {
		ctx, cancel := context.WithTimeout(ctx, b.timeout)
		defer cancel()
		return b.Backend.Delete(ctx, key)
	})
}
