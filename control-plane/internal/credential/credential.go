// Package credential decides whether an agent's credentials are usable: an
// enrollment token (expiry, revocation, uses) and an agent token (its
// lifetime, and the grace of the one a renewal replaced). It is pure: the
// store loads the credential under a lock, asks here, and writes the
// answer.
package credential

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"time"
)

// Why a credential is refused.
var (
	// ErrUnusable: an enrollment token expired, was revoked or is used up.
	ErrUnusable = errors.New("enrollment token is no longer usable")
	// ErrRefused: an agent token may not be renewed.
	ErrRefused = errors.New("agent token refused")
)

// Enrollment is what decides an enrollment token's validity.
type Enrollment struct {
	ID        string
	MaxUses   int // 0: unlimited
	Uses      int
	ExpiresAt time.Time // zero: never
	RevokedAt *time.Time
}

// Use consumes one use of an enrollment token at now, or says why it is
// not usable (ErrUnusable).
func (e Enrollment) Use(now time.Time) (Enrollment, error) {
	switch {
	case e.RevokedAt != nil:
		return e, fmt.Errorf("enrollment %s was revoked: %w", e.ID, ErrUnusable)
	case !e.ExpiresAt.IsZero() && !now.Before(e.ExpiresAt):
		return e, fmt.Errorf("enrollment %s expired at %s: %w", e.ID, e.ExpiresAt.Format(time.RFC3339), ErrUnusable)
	case e.MaxUses > 0 && e.Uses >= e.MaxUses:
		return e, fmt.Errorf("enrollment %s used %d times: %w", e.ID, e.Uses, ErrUnusable)
	}
	e.Uses++
	return e, nil
}

// Token is an agent's credential: the current token hash and the one the
// last renewal replaced, each with the end of its validity.
type Token struct {
	Hash      string
	ExpiresAt time.Time // zero: never (agents registered before tokens had a lifetime)
	// PrevHash is still accepted until PrevExpiresAt: calls the agent sent
	// just before it switched tokens must not fail.
	PrevHash      string
	PrevExpiresAt time.Time
}

// Valid reports whether hash is one of the usable tokens at now: the
// current one before it expires, or the previous one in its grace.
// Revocation is checked separately. Hashes are compared in constant time.
func (t Token) Valid(hash string, now time.Time) bool {
	equal := func(x, y string) bool { return subtle.ConstantTimeCompare([]byte(x), []byte(y)) == 1 }
	if equal(hash, t.Hash) {
		return t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt)
	}
	return t.PrevHash != "" && equal(hash, t.PrevHash) && now.Before(t.PrevExpiresAt)
}

// Renewal is one rotation of an agent's token.
type Renewal struct {
	Presented  string    // hash of the token the agent authenticated with
	New        string    // hash of the token handed out now
	ExpiresAt  time.Time // of the new token
	GraceUntil time.Time // the presented token is accepted until then
	Now        time.Time
}

// Renew rotates t: the new token becomes current and the presented one is
// kept for its grace. A revoked agent, or a presented token that is not
// valid now, is refused (ErrRefused).
func (t Token) Renew(revoked bool, r Renewal) (Token, error) {
	switch {
	case revoked:
		return t, fmt.Errorf("agent was revoked: %w", ErrRefused)
	case !t.Valid(r.Presented, r.Now):
		return t, fmt.Errorf("presented token is not current: %w", ErrRefused)
	}
	return Token{Hash: r.New, ExpiresAt: r.ExpiresAt, PrevHash: r.Presented, PrevExpiresAt: r.GraceUntil}, nil
}
