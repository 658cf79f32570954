package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Webhook routes and header.
const (
	PathWebhookEndpoints  = "/v1/webhooks/endpoints"
	PathWebhookDeliveries = "/v1/webhooks/deliveries"
	PathWebhookSecret     = "/v1/webhooks/secret"
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>" with one
	// v1 per active signing secret (two while a secret is being rotated).
	SignatureHeader = "YTCaption-Signature"
)

// Webhook event types. Final events go to every target; job.progress only to
// endpoints that subscribe to it.
const (
	EventJobSucceeded = "job.succeeded"
	EventJobFailed    = "job.failed"
	EventJobCanceled  = "job.canceled"
	EventJobProgress  = "job.progress"
)

// WebhookEvent is the JSON body POSTed to a webhook target. ID is unique per
// event and stays the same across retries and redeliveries: use it to
// deduplicate.
type WebhookEvent struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Data      struct {
		Job Job `json:"job"`
	} `json:"data"`
}

// WebhookEndpointRequest is the body of POST /v1/webhooks/endpoints.
type WebhookEndpointRequest struct {
	URL string `json:"url"`
	// Events subscribed to; empty means the final events (succeeded, failed,
	// canceled). job.progress must be asked for.
	Events []string `json:"events,omitempty"`
}

// WebhookEndpoint is a tenant's default webhook target.
type WebhookEndpoint struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
}

// WebhookEndpointList is the body of GET /v1/webhooks/endpoints.
type WebhookEndpointList struct {
	Endpoints []WebhookEndpoint `json:"endpoints"`
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed" // gave up: 4xx answer, 410, or retried for the whole window
)

// WebhookDelivery is one event sent to one target, with every attempt.
type WebhookDelivery struct {
	ID            string           `json:"id"`
	Tenant        string           `json:"tenant"`
	EventID       string           `json:"event_id"`
	EventType     string           `json:"event_type"`
	JobID         string           `json:"job_id"`
	URL           string           `json:"url"`
	Status        string           `json:"status"`
	Attempts      int              `json:"attempts"`
	NextAttemptAt *time.Time       `json:"next_attempt_at"`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
	AttemptLog    []WebhookAttempt `json:"attempt_log"`
}

// WebhookAttempt is one POST of a delivery.
type WebhookAttempt struct {
	N          int       `json:"n"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code"` // 0 when no HTTP answer came
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

// WebhookDeliveryList is the body of GET /v1/webhooks/deliveries.
type WebhookDeliveryList struct {
	Deliveries []WebhookDelivery `json:"deliveries"`
}

// WebhookSecret is the body of GET /v1/webhooks/secret: the current signing
// secret and, during a rotation, the previous one still in use.
type WebhookSecret struct {
	Tenant   string   `json:"tenant"`
	Secret   string   `json:"secret"`
	Previous []string `json:"previous,omitempty"`
}

// Signature errors.
var (
	ErrSignatureMissing  = errors.New("webhook signature header missing or malformed")
	ErrSignatureMismatch = errors.New("no webhook signature matches")
	ErrSignatureExpired  = errors.New("webhook signature timestamp outside the tolerance")
)

// Sign returns the SignatureHeader value for body sent at t, with one v1
// entry per secret.
func Sign(secrets []string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, s := range secrets {
		b.WriteString(",v1=" + signature(s, ts, body))
	}
	return b.String()
}

func signature(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// VerifySignature is for webhook receivers written in Go (the control plane
// only signs). It checks a SignatureHeader value against the raw request
// body: some v1 entry must be the HMAC-SHA256 of "<t>.<body>" under one of
// secrets, and t must be within tolerance of now (tolerance ≤ 0 skips the
// time check). Comparisons are constant-time.
func VerifySignature(header string, body []byte, secrets []string, tolerance time.Duration, now time.Time) error {
	var (
		ts   string
		sigs [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrSignatureMissing
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
			return fmt.Errorf("%w: signed %s ago", ErrSignatureExpired, d.Round(time.Second))
		}
	}
	for _, s := range secrets {
		want, _ := hex.DecodeString(signature(s, ts, body))
		for _, got := range sigs {
			if hmac.Equal(want, got) {
				return nil
			}
		}
	}
	return ErrSignatureMismatch
}
