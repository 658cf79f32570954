package worker

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// agentToken is the credential every protocol call uses. Renewal swaps it
// in one step; calls already sent with the old token still succeed, since
// the server honors it for api.RenewGrace after the renewal.
type agentToken struct {
	mu      sync.RWMutex
	token   string
	expires time.Time // zero: no expiry known
}

func newAgentToken(token string, expires time.Time) *agentToken {
	return &agentToken{token: token, expires: expires}
}

// Token is the current token (a token source for api.Client).
func (t *agentToken) Token() string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.token
}

func (t *agentToken) get() (string, time.Time) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.token, t.expires
}

func (t *agentToken) set(token string, expires time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.token, t.expires = token, expires
}

// expired reports whether the token's lifetime has passed.
func (t *agentToken) expired(now time.Time) bool {
	_, exp := t.get()
	return !exp.IsZero() && !now.Before(exp)
}

// renewAfter is how long to wait before renewing a token that expires at
// exp: half of what is left, less up to a tenth of that, so a fleet
// registered together does not renew in lockstep. A token without a known
// expiry (saved before tokens expired) is renewed at once to get one.
func renewAfter(now, exp time.Time, jitter float64) time.Duration {
	if exp.IsZero() {
		return 0
	}
	half := exp.Sub(now) / 2
	d := half - time.Duration(float64(half)/10*jitter)
	return max(d, time.Second)
}

// renewLoop keeps the agent token fresh until ctx ends. Renewals are
// serial: a second renewal racing the first would outdate the token the
// first handed back. A 401 ends the loop (the credential is dead; the lease
// loop sees the same answer and stops); a 404 means a control plane that
// does not renew tokens; other errors are retried with backoff.
func (w *Worker) renewLoop(ctx context.Context, c *api.Client, tok *agentToken, now func() time.Time) {
	bo := reconnectBackoff()
	_, exp := tok.get()
	wait := renewAfter(now(), exp, rand.Float64())
	for {
		if !sleep(ctx, wait) {
			return
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		resp, err := c.Renew(rctx)
		cancel()
		var se *api.StatusError
		switch {
		case err == nil:
			bo.Reset()
			w.saveCredential(resp.AgentID, resp.Token, resp.ExpiresAt)
			tok.set(resp.Token, resp.ExpiresAt)
			w.log.Info("agent token renewed", "agent", resp.AgentID, "expires_at", resp.ExpiresAt)
			wait = renewAfter(now(), resp.ExpiresAt, rand.Float64())
		case ctx.Err() != nil:
			return
		case errors.As(err, &se) && se.Status == http.StatusUnauthorized:
			w.log.Error("control plane refused to renew the agent token", "err", err)
			return
		case errors.As(err, &se) && se.Status == http.StatusNotFound:
			w.log.Warn("control plane does not renew agent tokens; keeping this one", "err", err)
			return
		default:
			wait = bo.NextBackOff()
			w.log.Warn("renewing the agent token failed; retrying", "err", err, "retry_in", wait)
		}
	}
}

// reconnectBackoff paces retries of calls that wait for the control plane to
// come back: registration and token renewal.
func reconnectBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = time.Second, time.Minute
	return b
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type savedCredential struct {
	Server    string    `json:"server"`
	AgentID   string    `json:"agent_id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

func (w *Worker) statePath() string {
	if w.cfg.StateDir == "" {
		return ""
	}
	return filepath.Join(w.cfg.StateDir, "credential.json")
}

// loadCredential returns the credential saved for this server, if any.
func (w *Worker) loadCredential() (savedCredential, bool) {
	p := w.statePath()
	if p == "" {
		return savedCredential{}, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return savedCredential{}, false
	}
	var s savedCredential
	if json.Unmarshal(b, &s) != nil || s.Server != w.cfg.Server || s.Token == "" {
		return savedCredential{}, false
	}
	return s, true
}

// saveCredential writes the credential to the state directory, replacing
// the file in one rename so a crash never leaves half a token behind.
func (w *Worker) saveCredential(agentID, token string, expires time.Time) {
	p := w.statePath()
	if p == "" {
		return
	}
	b, _ := json.Marshal(savedCredential{Server: w.cfg.Server, AgentID: agentID, Token: token, ExpiresAt: expires})
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		w.log.Warn("could not save the agent credential", "err", err)
		return
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		w.log.Warn("could not save the agent credential", "err", err)
		return
	}
	if err := os.Rename(tmp, p); err != nil {
		w.log.Warn("could not save the agent credential", "err", err)
	}
}
