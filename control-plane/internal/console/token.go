package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const issuer = "ytcaption-console"

// errBadToken covers every way a session token can be invalid; callers do
// not need to tell them apart (the answer is always "log in again").
var errBadToken = errors.New("invalid session token")

// signingKey is one HS256 key. Its id (a hash prefix, never the key) goes in
// the token header so verification picks the right key without trying all.
type signingKey struct {
	id     string
	secret []byte
}

func newSigningKey(secret []byte) signingKey {
	sum := sha256.Sum256(secret)
	return signingKey{id: hex.EncodeToString(sum[:8]), secret: secret}
}

// session is what a verified token says.
type session struct {
	ID       string // random per login; the CSRF token is derived from it
	KeyID    string
	Tenant   string
	Role     string
	AuthTime time.Time // the login; bounds the session's absolute age
	Expires  time.Time
	signer   signingKey // the key that signed the token; the CSRF token is bound to it too
}

type claims struct {
	jwt.RegisteredClaims
	Tenant   string `json:"tenant"`
	Role     string `json:"role"`
	AuthTime int64  `json:"auth_time"`
}

// signer issues and verifies session tokens: HS256 JWTs whose lifetime is
// min(last activity + idle, login + maxAge).
type signer struct {
	keys   []signingKey // keys[0] signs; all verify
	idle   time.Duration
	maxAge time.Duration
	now    func() time.Time
}

// issue makes a token for s, signed with the current key. s.ID and
// s.AuthTime are kept when set (a refresh), chosen when zero (a login).
func (g *signer) issue(s session) (string, session, error) {
	now := g.now()
	if s.ID == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
		s.ID = base64.RawURLEncoding.EncodeToString(b)
		s.AuthTime = now
	}
	s.AuthTime = s.AuthTime.Truncate(time.Second)
	s.Expires = now.Add(g.idle)
	if limit := s.AuthTime.Add(g.maxAge); s.Expires.After(limit) {
		s.Expires = limit
	}
	s.Expires = s.Expires.Truncate(time.Second)
	if !s.Expires.After(now) {
		return "", session{}, errBadToken
	}
	s.signer = g.keys[0]
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Subject: s.KeyID, ID: s.ID,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(s.Expires),
		},
		Tenant: s.Tenant, Role: s.Role, AuthTime: s.AuthTime.Unix(),
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["kid"] = s.signer.id
	tok, err := t.SignedString(s.signer.secret)
	if err != nil {
		return "", session{}, fmt.Errorf("sign session: %w", err)
	}
	return tok, s, nil
}

// verify checks a token's signature (HS256 only, by a known key), issuer,
// expiry and absolute age.
func (g *signer) verify(tok string) (session, error) {
	var used signingKey
	var c claims
	_, err := jwt.ParseWithClaims(tok, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		for _, k := range g.keys {
			if k.id == kid {
				used = k
				return k.secret, nil
			}
		}
		return nil, errBadToken
	}, jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(g.now))
	if err != nil {
		return session{}, fmt.Errorf("%w: %w", errBadToken, err)
	}
	s := session{ID: c.ID, KeyID: c.Subject, Tenant: c.Tenant, Role: c.Role,
		AuthTime: time.Unix(c.AuthTime, 0), Expires: c.ExpiresAt.Time, signer: used}
	if s.ID == "" || s.KeyID == "" || g.now().After(s.AuthTime.Add(g.maxAge)) {
		return session{}, errBadToken
	}
	return s, nil
}

// csrfToken is the session's CSRF token: an HMAC of the session id under the
// key that signed the session, so it cannot be made without that key and is
// worthless with any other session.
func csrfToken(s session) string {
	m := hmac.New(sha256.New, s.signer.secret)
	m.Write([]byte("ytcaption-csrf\x00" + s.ID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF is the double-submit check: the header must equal the cookie and
// both must be this session's token. Comparisons take constant time.
func checkCSRF(s session, cookie, header string) bool {
	if cookie == "" || header == "" {
		return false
	}
	want := csrfToken(s)
	sameAsCookie := subtle.ConstantTimeCompare([]byte(header), []byte(cookie))
	bound := subtle.ConstantTimeCompare([]byte(header), []byte(want))
	return sameAsCookie&bound == 1
}
