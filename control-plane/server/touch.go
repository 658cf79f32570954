package server

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// touchEvery is how stale an agent's last-seen time may get. The fleet view
// calls an agent offline after minutes, so seconds of staleness change nothing.
const touchEvery = 5 * time.Second

// touchThrottle writes an agent's last-seen time at most every touchEvery.
// Every lease and heartbeat touches the agent: unthrottled, that is a
// committed UPDATE (a WAL flush) per call, a third of the commits of a
// dispatched task. Calls that carry capabilities go through only when they
// differ from the ones last written: the agent sends them on every lease.
type touchThrottle struct {
	write func(ctx context.Context, id string, now time.Time, caps *api.Capabilities) error
	mu    sync.Mutex
	last  map[string]touched
}

type touched struct {
	at   time.Time
	caps *api.Capabilities // last written here; nil: unknown
}

func newTouchThrottle(write func(ctx context.Context, id string, now time.Time, caps *api.Capabilities) error) *touchThrottle {
	return &touchThrottle{write: write, last: map[string]touched{}}
}

// Touch writes unless the agent was recorded moments ago with the same
// capabilities.
func (t *touchThrottle) Touch(ctx context.Context, id string, now time.Time, caps *api.Capabilities) error {
	t.mu.Lock()
	prev, ok := t.last[id]
	t.mu.Unlock()
	if ok && now.Sub(prev.at) >= 0 && now.Sub(prev.at) < touchEvery &&
		(caps == nil || (prev.caps != nil && reflect.DeepEqual(*caps, *prev.caps))) {
		return nil
	}
	if err := t.write(ctx, id, now, caps); err != nil {
		return err
	}
	next := touched{at: now, caps: prev.caps}
	if caps != nil {
		c := *caps // our own copy: the caller keeps its pointer
		next.caps = &c
	}
	t.mu.Lock()
	if len(t.last) > 200_000 { // bounded: forget and re-touch
		clear(t.last)
	}
	t.last[strings.Clone(id)] = next // the id may alias a reused request buffer
	t.mu.Unlock()
	return nil
}
