package console

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MinKeyLen is the shortest signing key accepted, in bytes: HS256 wants at
// least as many key bytes as the hash has.
const MinKeyLen = 32

// KeyFile is where a generated signing key is kept, under the data dir.
const KeyFile = "console-session.key"

// LoadKeys returns the session signing keys. spec is the value of
// YTCAPTION_SESSION_KEYS: comma-separated keys, the first signs new sessions
// and all verify, so a key is rotated by putting the new one first and
// dropping the old one once its sessions have expired. When spec is empty a
// random key is generated once and kept in dataDir, which suits a single
// embedded replica; replicas that share traffic must share spec.
func LoadKeys(spec, dataDir string) ([][]byte, error) {
	var keys [][]byte
	for k := range strings.SplitSeq(spec, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("session key %d is %d bytes; at least %d are required", len(keys)+1, len(k), MinKeyLen)
		}
		keys = append(keys, []byte(k))
	}
	if len(keys) > 0 {
		return keys, nil
	}
	if dataDir == "" {
		return nil, errors.New("no session keys configured and no data dir to keep a generated one")
	}
	k, err := loadOrCreateKey(filepath.Join(dataDir, KeyFile))
	if err != nil {
		return nil, err
	}
	return [][]byte{k}, nil
}

func loadOrCreateKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		if k := strings.TrimSpace(string(b)); len(k) >= MinKeyLen {
			return []byte(k), nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read session key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	b := make([]byte, 48)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	// Kept as text so it can be copied into YTCAPTION_SESSION_KEYS as is.
	k := base64.RawURLEncoding.EncodeToString(b)
	if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write session key: %w", err)
	}
	return []byte(k), nil
}
