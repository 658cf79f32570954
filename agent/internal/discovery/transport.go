package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
)

// Transport sends requests for the placeholder host to the resolver's
// current replica. Other hosts (presigned object-store URLs) pass through
// unchanged.
//
// When a replica cannot be reached the request is retried on another one:
// always if the connection was never made (nothing reached the server), and
// for idempotent requests (GET, HEAD, PUT, DELETE, OPTIONS, or carrying an
// Idempotency-Key) also when the connection broke mid-request. Other
// failures are returned to the caller, whose own retry then lands on the
// new replica. A 502/503/504 reply quarantines the replica for later
// requests but is returned as is.
type Transport struct {
	Resolver *Resolver
	Host     string            // the placeholder host to rewrite
	Base     http.RoundTripper // default http.DefaultTransport
	// MaxAttempts per request; default 3.
	MaxAttempts int
}

// NewTransport returns a Transport for t's placeholder URL.
func NewTransport(r *Resolver, t Target, base http.RoundTripper) *Transport {
	return &Transport{Resolver: r, Host: t.Service + ".service.consul.invalid", Base: base}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.Host {
		return t.base().RoundTrip(req)
	}
	attempts := t.MaxAttempts
	if attempts <= 0 {
		attempts = 3
	}
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		ep, err := t.Resolver.Current(req.Context())
		if err != nil {
			if lastErr != nil {
				return nil, fmt.Errorf("%w (after: %w)", err, lastErr)
			}
			return nil, err
		}
		out := req.Clone(req.Context())
		out.URL.Host = ep
		out.Host = ep
		if attempt > 0 && req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, lastErr
			}
			if out.Body, err = req.GetBody(); err != nil {
				return nil, fmt.Errorf("rewind request body: %w", err)
			}
		}
		resp, err := t.base().RoundTrip(out)
		if err == nil {
			switch resp.StatusCode {
			case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
				t.Resolver.Fail(ep)
			}
			return resp, nil
		}
		if req.Context().Err() != nil {
			return nil, err
		}
		t.Resolver.Fail(ep)
		lastErr = err
		if !notSent(err) && !idempotent(req) {
			return nil, err
		}
	}
	return nil, lastErr
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

func idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return r.Header.Get("Idempotency-Key") != ""
}

// notSent reports errors raised before the request could reach a server.
func notSent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return false
}
