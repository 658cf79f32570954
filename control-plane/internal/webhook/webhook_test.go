package webhook

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

func TestVerdict(t *testing.T) {
	t.Parallel()
	s := New(nil, Config{MinBackoff: time.Second, MaxBackoff: time.Minute, MaxAge: time.Hour}, time.Now, slog.New(slog.DiscardHandler), nil)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	fresh := store.WebhookDelivery{WindowStart: now, Attempts: 0}
	old := store.WebhookDelivery{WindowStart: now.Add(-time.Hour + time.Second), Attempts: 9}
	httpErr := errors.New("HTTP")
	tests := []struct {
		name  string
		d     store.WebhookDelivery
		code  int
		err   error
		want  string
		retry bool
	}{
		{"2xx delivered", fresh, 204, nil, api.DeliveryDelivered, false},
		{"500 retried", fresh, 500, httpErr, api.DeliveryPending, true},
		{"network error retried", fresh, 0, httpErr, api.DeliveryPending, true},
		{"408 retried", fresh, 408, httpErr, api.DeliveryPending, true},
		{"429 retried", fresh, 429, httpErr, api.DeliveryPending, true},
		{"410 stops", fresh, 410, httpErr, api.DeliveryFailed, false},
		{"400 gives up", fresh, 400, httpErr, api.DeliveryFailed, false},
		{"window over", old, 503, httpErr, api.DeliveryFailed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, next := s.verdict(tc.d, tc.code, tc.err, now)
			if got != tc.want || (next != nil) != tc.retry {
				t.Fatalf("verdict = %s, next %v; want %s, retry %v", got, next, tc.want, tc.retry)
			}
		})
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	t.Parallel()
	for n := 1; n <= 12; n++ {
		base := time.Second << (n - 1)
		if base > time.Minute {
			base = time.Minute
		}
		for range 20 {
			d := Backoff(n, time.Second, time.Minute)
			if d < base/2 || d >= base*3/2 {
				t.Fatalf("Backoff(%d) = %v, want within ±50%% of %v", n, d, base)
			}
		}
	}
}
