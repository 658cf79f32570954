package api_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

func TestRetryableStatus(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status int
		want   bool
	}{
		{http.StatusBadRequest, false},
		{http.StatusUnauthorized, false},
		{http.StatusForbidden, false},
		{http.StatusNotFound, false},
		{http.StatusConflict, false},
		{http.StatusRequestEntityTooLarge, false},
		{http.StatusTooManyRequests, true},
		{http.StatusInternalServerError, true},
		{http.StatusBadGateway, true},
		{http.StatusServiceUnavailable, true},
		{http.StatusGatewayTimeout, true},
		{599, true},
	} {
		if got := api.RetryableStatus(tt.status); got != tt.want {
			t.Errorf("RetryableStatus(%d) = %v, want %v", tt.status, got, tt.want)
		}
	}
}

// Retryable judges the errors a real Client returns.
func TestRetryable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, _ := strconv.Atoi(r.URL.Query().Get("status"))
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	c := api.NewClient(srv.URL, "", srv.Client())
	call := func(ctx context.Context, c *api.Client, status int) error {
		return c.Do(ctx, http.MethodGet, fmt.Sprintf("/?status=%d", status), nil, nil, nil)
	}

	// A port that was listening and is now closed refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	_ = ln.Close()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"success", call(t.Context(), c, http.StatusOK), false},
		{"400", call(t.Context(), c, http.StatusBadRequest), false},
		{"401", call(t.Context(), c, http.StatusUnauthorized), false},
		{"409", call(t.Context(), c, http.StatusConflict), false},
		{"429", call(t.Context(), c, http.StatusTooManyRequests), true},
		{"502", call(t.Context(), c, http.StatusBadGateway), true},
		{"503 wrapped", fmt.Errorf("lease: %w", call(t.Context(), c, http.StatusServiceUnavailable)), true},
		{"connection refused", call(t.Context(), api.NewClient(closed, "", nil), http.StatusOK), true},
		{"canceled", call(canceled, c, http.StatusOK), false},
	} {
		if got := api.Retryable(tt.err); got != tt.want {
			t.Errorf("%s: Retryable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
