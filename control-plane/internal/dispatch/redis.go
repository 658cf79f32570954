package dispatch

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/redis/go-redis/v9"
)

// RedisBus carries wake-ups between replicas over Redis pub/sub. Every
// replica subscribes to one channel; Notify wakes this replica's hub at once
// and publishes so the others wake too. When Redis is unreachable, Notify
// still wakes local waiters and the others fall back to polling (see
// Dispatcher), so nothing stalls; the subscription comes back by itself.
type RedisBus struct {
	client  redis.UniversalClient
	channel string
	hub     *Hub
	log     *slog.Logger
	up      atomic.Bool
	// self marks this bus's own publishes: they come back on its own
	// subscription, and the local hub was already woken by Notify.
	self string
	// kick asks the publisher (Run) for one publish; a wake-up says only
	// "look for work", so the Notifies made while a publish is in flight or
	// during the pause after it are carried by a single next one instead of
	// one each.
	kick chan struct{}
}

// publishPause is the least time between two publishes. A lone Notify is
// published at once; a burst (thousands of submissions a second) costs
// other replicas at most this much wake-up latency and costs Redis, and
// this replica, one publish per pause instead of one per round trip.
const publishPause = 2 * time.Millisecond

// NewRedisBus returns a bus on channel; call Run to start receiving.
func NewRedisBus(client redis.UniversalClient, channel string, hub *Hub, log *slog.Logger) *RedisBus {
	return &RedisBus{client: client, channel: channel, hub: hub, log: log, self: rand.Text(), kick: make(chan struct{}, 1)}
}

// Notify wakes waiters here at once and, through Run's publisher, on every
// other replica. It never blocks.
func (b *RedisBus) Notify(context.Context) {
	b.hub.Wake()
	select {
	case b.kick <- struct{}{}:
	default: // a publish is already due; it covers this wake-up too
	}
}

// publish sends the wake-ups Notify asked for until ctx ends.
func (b *RedisBus) publish(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := b.client.Publish(pctx, b.channel, b.self).Err(); err != nil {
			b.log.Debug("wake-up publish failed; other replicas will poll", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-time.After(publishPause):
		}
	}
}

// Healthy reports whether wake-ups from other replicas are being received.
func (b *RedisBus) Healthy() bool { return b.up.Load() }

// Run publishes this replica's wake-ups and receives the others' until ctx
// ends, resubscribing with backoff.
func (b *RedisBus) Run(ctx context.Context) {
	done := make(chan struct{})
	defer func() { <-done }()
	go func() { defer close(done); b.publish(ctx) }()
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 100 * time.Millisecond
	bo.MaxInterval = 5 * time.Second
	for ctx.Err() == nil {
		err := b.subscribe(ctx, bo)
		b.up.Store(false)
		if ctx.Err() != nil {
			return
		}
		wait := bo.NextBackOff()
		b.log.Warn("wake-up subscription lost; polling until it is back", "err", err, "retry_in", wait)
		// A wake-up may have been missed while down: let waiters look again.
		b.hub.WakeAll()
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (b *RedisBus) subscribe(ctx context.Context, bo *backoff.ExponentialBackOff) error {
	sub := b.client.Subscribe(ctx, b.channel)
	defer sub.Close()
	// A blocked read does not watch ctx; closing the subscription ends it.
	stop := context.AfterFunc(ctx, func() { _ = sub.Close() })
	defer stop()
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		return err
	}
	b.up.Store(true)
	bo.Reset()
	b.hub.WakeAll() // wake-ups may have been missed before the subscription
	for {
		// ReceiveTimeout pings on idle so a dead connection is noticed.
		msg, err := sub.ReceiveTimeout(ctx, 5*time.Second)
		if err != nil {
			if isTimeout(err) {
				if err := sub.Ping(ctx); err != nil {
					return err
				}
				continue
			}
			return err
		}
		switch m := msg.(type) {
		case *redis.Message:
			if m.Payload != b.self { // an echo would wake every waiter twice per Notify
				b.hub.Wake()
			}
		case *redis.Pong:
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
