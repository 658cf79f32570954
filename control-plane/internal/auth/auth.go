// Package auth defines credentials and who may do what. API keys look like
// "ytc_<id>_<secret>", agent tokens "yta_<id>_<secret>" and enrollment tokens
// "yte_<id>_<secret>". Only a SHA-256 of the secret is stored (secrets are 256
// random bits, so a slow hash adds nothing), and hashes are compared in
// constant time.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/google/uuid"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// Credential prefixes.
const (
	PrefixKey        = "ytc"
	PrefixAgent      = "yta"
	PrefixEnrollment = "yte"
)

// Credential is a parsed token.
type Credential struct {
	Prefix string
	ID     string
	Secret string
}

// New makes a credential with a fresh id and secret; Token() is what the
// holder is given, Hash() what is stored.
func New(prefix string) Credential {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	id := strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
	return Credential{Prefix: prefix, ID: id, Secret: base64.RawURLEncoding.EncodeToString(b)}
}

// Token is the string handed to the holder.
func (c Credential) Token() string { return c.Prefix + "_" + c.ID + "_" + c.Secret }

// Hash is the stored digest of the secret.
func (c Credential) Hash() string { return Hash(c.Secret) }

// Parse splits a token; ok is false when it is not of the given prefix.
func Parse(token, prefix string) (Credential, bool) {
	rest, found := strings.CutPrefix(token, prefix+"_")
	if !found {
		return Credential{}, false
	}
	id, secret, found := strings.Cut(rest, "_")
	if !found || id == "" || secret == "" || len(id) > 64 || len(secret) > 128 {
		return Credential{}, false
	}
	return Credential{Prefix: prefix, ID: id, Secret: secret}, true
}

// ParseKey parses an API key. Keys chosen by an operator (--api-key,
// YTCAPTION_ADMIN_KEY) may be any string; such a key gets an id derived from
// its hash, so both kinds are looked up the same way.
func ParseKey(token string) (Credential, bool) {
	if c, ok := Parse(token, PrefixKey); ok {
		return c, true
	}
	if len(token) < 8 || len(token) > 256 {
		return Credential{}, false
	}
	return Credential{Prefix: PrefixKey, ID: "static" + Hash(token)[:26], Secret: token}, true
}

// Hash returns the hex SHA-256 of a secret.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Matches compares a secret with a stored hash in constant time.
func Matches(secret, storedHash string) bool {
	return subtle.ConstantTimeCompare([]byte(Hash(secret)), []byte(storedHash)) == 1
}

// Action is something a principal may be allowed to do.
type Action int

// Actions.
const (
	ReadJobs        Action = iota // get, list, captions, events
	SubmitJobs                    // create, retry
	CancelJobs                    //
	ManageFleet                   // agents, enrollment tokens
	ManageKeys                    // API keys, tenants
	ManageArtifacts               // push and delete models and tools agents fetch
)

// Principal is an authenticated API caller.
type Principal struct {
	KeyID  string
	Tenant string
	Role   store.Role
}

// Can reports whether the principal's role allows a.
func (p Principal) Can(a Action) bool {
	switch p.Role {
	case store.RoleAdmin:
		return true
	case store.RoleOperator:
		return a != ManageKeys && a != ManageArtifacts
	case store.RoleSubmitter:
		return a == ReadJobs || a == SubmitJobs || a == CancelJobs
	case store.RoleViewer:
		return a == ReadJobs
	}
	return false
}

// Scope is the tenant whose jobs the principal sees; "" means every tenant.
func (p Principal) Scope() string {
	if p.Role == store.RoleAdmin || p.Role == store.RoleOperator {
		return ""
	}
	return p.Tenant
}

// ValidRole reports whether r names a role.
func ValidRole(r string) bool {
	switch store.Role(r) {
	case store.RoleAdmin, store.RoleOperator, store.RoleSubmitter, store.RoleViewer:
		return true
	}
	return false
}
