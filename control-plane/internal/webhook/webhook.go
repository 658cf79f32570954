// Package webhook delivers job events from the durable outbox in the store.
// Each replica runs a Sender; deliveries are claimed (so two replicas never
// send the same attempt), signed with the tenant's secrets at send time,
// POSTed with a per-attempt timeout through an SSRF-guarded dialer, and
// every attempt is recorded. Failures are retried with exponential backoff
// and jitter for a fixed window (24 h by default); a 2xx is success, a 4xx
// other than 408 and 429 (notably 410 Gone) ends the delivery.
package webhook

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/internal/netguard"
)

// outbox is the webhook deliveries waiting to go out, and the secrets that sign them.
type outbox interface {
	ClaimWebhookDeliveries(ctx context.Context, now, until time.Time, limit int) ([]store.WebhookDelivery, error)
	RecordWebhookAttempt(ctx context.Context, a store.WebhookAttempt, status string, next *time.Time) error
	WebhookSecrets(ctx context.Context, tenant, candidate string, now time.Time) ([]store.WebhookSecret, error)
}

// Outcomes counts attempt outcomes ("delivered", "retry", "failed").
type Outcomes interface {
	WebhookOutcome(outcome string)
}

// Config tunes delivery. Zero values take the defaults.
type Config struct {
	AllowPrivate bool          // allow loopback/private targets (dev mode, tests)
	Timeout      time.Duration // per attempt; default 10 s
	MaxAge       time.Duration // retry window; default 24 h
	MinBackoff   time.Duration // first retry delay; default 5 s
	MaxBackoff   time.Duration // longest retry delay; default 1 h
	Poll         time.Duration // how often the outbox is checked; default 1 s
	Batch        int           // deliveries claimed at once; default 16
}

func (c *Config) defaults() {
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 24 * time.Hour
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 5 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Hour
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 16
	}
}

// Sender drains the outbox.
type Sender struct {
	st   outbox
	cfg  Config
	now  func() time.Time
	log  *slog.Logger
	out  Outcomes
	http *http.Client
}

// New returns a sender; out may be nil.
func New(st outbox, cfg Config, now func() time.Time, log *slog.Logger, out Outcomes) *Sender {
	cfg.defaults()
	d := netguard.Policy{AllowPrivate: cfg.AllowPrivate}.Dialer()
	d.Timeout = cfg.Timeout
	tr := &http.Transport{
		DialContext: d.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute,
		TLSHandshakeTimeout: cfg.Timeout, ResponseHeaderTimeout: cfg.Timeout,
		// No proxy from the environment: it would dial past the guard.
	}
	c := &http.Client{Transport: tr, Timeout: cfg.Timeout,
		// A redirect is an answer, not an instruction to post elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Sender{st: st, cfg: cfg, now: now, log: log, out: out, http: c}
}

// Run sends due deliveries until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		for s.drain(ctx) {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// drain sends one batch; it reports whether the batch was full.
func (s *Sender) drain(ctx context.Context) bool {
	now := s.now()
	ds, err := s.st.ClaimWebhookDeliveries(ctx, now, now.Add(s.cfg.Timeout+30*time.Second), s.cfg.Batch)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webhook outbox: claim failed", "err", err)
		}
		return false
	}
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Go(func() { s.Deliver(context.WithoutCancel(ctx), d) })
	}
	wg.Wait()
	return len(ds) == s.cfg.Batch
}

// Deliver makes one attempt and records it.
func (s *Sender) Deliver(ctx context.Context, d store.WebhookDelivery) {
	log := s.log.With("delivery", d.ID, "job", d.JobID, "event", d.EventType, "tenant", d.Tenant)
	start := s.now()
	code, err := s.post(ctx, d, start)
	a := store.WebhookAttempt{DeliveryID: d.ID, At: start, StatusCode: code, Duration: s.now().Sub(start)}
	if err != nil {
		a.Error = err.Error()
	}
	status, next := s.verdict(d, code, err, start)
	if rerr := s.st.RecordWebhookAttempt(ctx, a, status, next); rerr != nil {
		log.Error("webhook outbox: record attempt failed", "err", rerr)
		return
	}
	outcome := map[string]string{api.DeliveryDelivered: "delivered", api.DeliveryFailed: "failed", api.DeliveryPending: "retry"}[status]
	if s.out != nil {
		s.out.WebhookOutcome(outcome)
	}
	lvl := slog.LevelInfo
	if status != api.DeliveryDelivered {
		lvl = slog.LevelWarn
	}
	log.Log(ctx, lvl, "webhook attempt", "attempt", d.Attempts+1, "status_code", code, "outcome", outcome, "err", err)
}

func (s *Sender) post(ctx context.Context, d store.WebhookDelivery, at time.Time) (int, error) {
	secrets, err := s.st.WebhookSecrets(ctx, d.Tenant, NewSecret(), at)
	if err != nil {
		return 0, fmt.Errorf("load signing secrets: %w", err)
	}
	keys := make([]string, 0, len(secrets))
	for _, sec := range secrets {
		keys = append(keys, sec.Secret)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ytcaption-webhooks/1")
	req.Header.Set(api.SignatureHeader, api.Sign(keys, at, d.Payload))
	req.Header.Set("YTCaption-Event-Id", d.EventID)
	req.Header.Set("YTCaption-Event-Type", d.EventType)
	req.Header.Set("YTCaption-Delivery-Id", d.ID)
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// verdict decides what an attempt means for the delivery.
func (s *Sender) verdict(d store.WebhookDelivery, code int, err error, now time.Time) (string, *time.Time) {
	switch {
	case err == nil:
		return api.DeliveryDelivered, nil
	case code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
		return api.DeliveryFailed, nil // the receiver refuses it (410: gone for good)
	}
	next := now.Add(Backoff(d.Attempts+1, s.cfg.MinBackoff, s.cfg.MaxBackoff))
	if next.After(d.WindowStart.Add(s.cfg.MaxAge)) {
		return api.DeliveryFailed, nil
	}
	return api.DeliveryPending, &next
}

// Backoff is the delay after the n-th failed attempt (n ≥ 1): exponential
// from min, capped at max, with ±50% jitter.
func Backoff(n int, min, max time.Duration) time.Duration {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.Multiplier, bo.RandomizationFactor = min, max, 2, 0
	d := min
	for range n {
		d = bo.NextBackOff()
	}
	jitter := 0.5 + rand.Float64() // [0.5, 1.5)
	return time.Duration(float64(d) * jitter)
}

// NewSecret returns a fresh random signing secret.
func NewSecret() string {
	b := make([]byte, 24)
	_, _ = crand.Read(b)
	return "whsec_" + hex.EncodeToString(b)
}
