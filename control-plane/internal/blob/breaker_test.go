package blob

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"
)

// downBackend fails like an unreachable store; the real outage is exercised
// by the chaos suite, this checks the breaker's accounting.
type downBackend struct {
	Backend
	err   error
	calls int
}

func (d *downBackend) Put(context.Context, string, io.Reader, int64, string) error {
	d.calls++
	return d.err
}

func (d *downBackend) Get(context.Context, string) (io.ReadCloser, error) {
	d.calls++
	return nil, d.err
}

func TestBreaker(t *testing.T) {
	t.Parallel()
	d := &downBackend{err: syscall.ECONNREFUSED}
	b := NewBreaker(d, 3, time.Hour, time.Second, slog.New(slog.DiscardHandler))
	if b.Open() || b.Trips() != 0 {
		t.Fatalf("new breaker: open %v, trips %d", b.Open(), b.Trips())
	}
	for range 3 {
		if err := b.Put(context.Background(), "k", strings.NewReader("x"), 1, ""); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("closed: %v", err)
		}
	}
	if _, err := b.Get(context.Background(), "k"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("open: %v", err)
	}
	if d.calls != 3 {
		t.Fatalf("open breaker let calls through: %d", d.calls)
	}
	if !b.Open() || b.Trips() != 1 {
		t.Fatalf("tripped breaker: open %v, trips %d", b.Open(), b.Trips())
	}

	nf := &downBackend{err: ErrNotFound}
	b = NewBreaker(nf, 2, time.Hour, time.Second, slog.New(slog.DiscardHandler))
	for range 5 {
		if _, err := b.Get(context.Background(), "k"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("not found: %v", err)
		}
	}
	if b.Open() || b.Trips() != 0 {
		t.Fatalf("not-found answers tripped the breaker: open %v, trips %d", b.Open(), b.Trips())
	}
}
