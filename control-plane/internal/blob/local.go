package blob

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// PathPrefix is the URL path under which Handler serves objects; presigned
// URLs are <base URL><PathPrefix><key>?method=…&expires=…&sig=….
const PathPrefix = "/v1/blobs/"

// DefaultMaxBodySize caps a PUT through Handler unless WithMaxBodySize says
// otherwise.
const DefaultMaxBodySize int64 = 2 << 30

// MinSecretLen is the shortest URL signing secret NewLocal accepts.
const MinSecretLen = 16

// tmpDir holds partial writes. Keys cannot name it: no key segment may start
// with ".".
const tmpDir = ".tmp"

// staleTemp is how old an orphaned partial write (left by a crash) must be
// before NewLocal removes it.
const staleTemp = time.Hour

// Local is a store in a directory on disk. Its presigned URLs point at the
// control plane itself, signed with HMAC-SHA256, and are served by Handler.
type Local struct {
	root    *os.Root
	secret  []byte
	clock   func() time.Time
	maxBody int64
	log     *slog.Logger
	base    atomic.Pointer[string]
	dirs    sync.RWMutex // see publish
}

// LocalOption adjusts a Local store.
type LocalOption func(*Local)

// WithMaxBodySize caps the body of a PUT through Handler (n > 0).
func WithMaxBodySize(n int64) LocalOption {
	return func(l *Local) {
		if n > 0 {
			l.maxBody = n
		}
	}
}

// WithLogger sets the logger for unexpected I/O errors in Handler.
func WithLogger(logger *slog.Logger) LocalOption {
	return func(l *Local) {
		if logger != nil {
			l.log = logger
		}
	}
}

// NewLocal opens (creating if needed) a store in dir. secret signs presigned
// URLs; baseURL (e.g. http://127.0.0.1:8080) is where Handler is reachable and
// may be empty until SetBaseURL is called; clock defaults to time.Now.
// Close releases the directory.
func NewLocal(dir string, secret []byte, baseURL string, clock func() time.Time, opts ...LocalOption) (*Local, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("blob: local: signing secret must be at least %d bytes", MinSecretLen)
	}
	if clock == nil {
		clock = time.Now
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("blob: local: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: local: %w", err)
	}
	l := &Local{
		root:    root,
		secret:  append([]byte(nil), secret...),
		clock:   clock,
		maxBody: DefaultMaxBodySize,
		log:     slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(l)
	}
	l.base.Store(new(string))
	if baseURL != "" {
		if err := l.SetBaseURL(baseURL); err != nil {
			_ = root.Close()
			return nil, err
		}
	}
	if err := root.MkdirAll(tmpDir, 0o750); err != nil {
		_ = root.Close()
		return nil, fmt.Errorf("blob: local: %w", err)
	}
	l.removeStaleTemps()
	return l, nil
}

// Close releases the store's directory handle.
func (l *Local) Close() error { return l.root.Close() }

// SetBaseURL sets the URL prefix of presigned URLs. It is safe to call while
// the store is in use: the server often learns its address after startup.
func (l *Local) SetBaseURL(baseURL string) error {
	u, err := url.Parse(baseURL)
	if err != nil {
		return fmt.Errorf("blob: local: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("blob: local: base URL %q: want http(s)://host[:port][/path]", baseURL)
	}
	s := strings.TrimRight(baseURL, "/")
	l.base.Store(&s)
	return nil
}

func (l *Local) removeStaleTemps() {
	entries, err := fs.ReadDir(l.root.FS(), tmpDir)
	if err != nil {
		return
	}
	cutoff := l.clock().Add(-staleTemp)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			_ = l.root.Remove(path.Join(tmpDir, e.Name()))
		}
	}
}

// Put stores size bytes from r under key (size -1: unknown). Readers see
// either the old object or the whole new one, never a partial write.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	_, err := l.write(ctx, key, r, size)
	return err
}

// write streams r to a temporary file, syncs it and renames it over key. It
// returns the hex SHA-256 of what was written.
func (l *Local) write(ctx context.Context, key string, r io.Reader, size int64) (string, error) {
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(tmpDir, hex.EncodeToString(rnd[:]))
	f, err := l.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return "", fmt.Errorf("blob: local: put %s: %w", key, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = f.Close()
			_ = l.root.Remove(tmp)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, r})
	if err != nil {
		return "", fmt.Errorf("blob: local: put %s: %w", key, err)
	}
	if size >= 0 && n != size {
		return "", fmt.Errorf("blob: local: put %s: read %d bytes, want %d: %w", key, n, size, ErrSizeMismatch)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("blob: local: put %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("blob: local: put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("blob: local: put %s: %w", key, err)
	}
	name := filepath.FromSlash(key)
	dir := filepath.Dir(name)
	if err := l.publish(tmp, name, dir); err != nil {
		return "", fmt.Errorf("blob: local: put %s: %w", key, err)
	}
	renamed = true
	l.syncDir(dir)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// publish moves a finished temporary file into place. It holds dirs shared
// so that Delete, which prunes empty directories under the exclusive lock,
// cannot remove the directory between MkdirAll and Rename.
func (l *Local) publish(tmp, name, dir string) error {
	l.dirs.RLock()
	defer l.dirs.RUnlock()
	if dir != "." {
		if err := l.root.MkdirAll(dir, 0o750); err != nil {
			return err
		}
	}
	return l.root.Rename(tmp, name)
}

// syncDir makes a rename durable. Failure only weakens durability across a
// power loss, so it is not reported.
func (l *Local) syncDir(dir string) {
	d, err := l.root.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// Get opens the object under key; a missing object is ErrNotFound.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	f, _, err := l.open(key)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (l *Local) open(key string) (*os.File, fs.FileInfo, error) {
	if err := CheckKey(key); err != nil {
		return nil, nil, err
	}
	f, err := l.root.Open(filepath.FromSlash(key))
	if err != nil {
		if isNotFound(err) {
			return nil, nil, fmt.Errorf("blob: local: get %s: %w", key, ErrNotFound)
		}
		return nil, nil, fmt.Errorf("blob: local: get %s: %w", key, err)
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("blob: local: get %s: %w", key, err)
	}
	if !info.Mode().IsRegular() {
		// A key that is a prefix of other keys is a directory here, not an
		// object.
		_ = f.Close()
		return nil, nil, fmt.Errorf("blob: local: get %s: %w", key, ErrNotFound)
	}
	return f, info, nil
}

func isNotFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Delete removes the object under key and the directories it leaves empty;
// deleting a missing object is not an error.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	name := filepath.FromSlash(key)
	info, err := l.root.Lstat(name)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("blob: local: delete %s: %w", key, err)
	}
	if info.IsDir() {
		return nil // not an object
	}
	if err := l.root.Remove(name); err != nil && !isNotFound(err) {
		return fmt.Errorf("blob: local: delete %s: %w", key, err)
	}
	// Remove fails on a directory that is not empty, which ends the walk.
	l.dirs.Lock()
	defer l.dirs.Unlock()
	for d := filepath.Dir(name); d != "."; d = filepath.Dir(d) {
		if l.root.Remove(d) != nil {
			break
		}
	}
	return nil
}

// Ping checks that the directory is still there and writable.
func (l *Local) Ping(ctx context.Context) error {
	info, err := l.root.Stat(tmpDir)
	if err != nil {
		return fmt.Errorf("blob: local: ping: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("blob: local: ping: %s is not a directory", tmpDir)
	}
	return nil
}

// PresignPut returns a URL on Handler that accepts one HTTP PUT of the body.
func (l *Local) PresignPut(ctx context.Context, key string, ttl time.Duration) (api.Presigned, error) {
	return l.presign(http.MethodPut, key, ttl)
}

// PresignGet returns a URL on Handler that serves the object with HTTP GET.
func (l *Local) PresignGet(ctx context.Context, key string, ttl time.Duration) (api.Presigned, error) {
	return l.presign(http.MethodGet, key, ttl)
}

func (l *Local) presign(method, key string, ttl time.Duration) (api.Presigned, error) {
	if err := CheckKey(key); err != nil {
		return api.Presigned{}, err
	}
	if err := checkTTL(ttl); err != nil {
		return api.Presigned{}, err
	}
	base := *l.base.Load()
	if base == "" {
		return api.Presigned{}, errors.New("blob: local: presign: base URL not set")
	}
	// Round up so the URL lives at least ttl.
	exp := l.clock().Add(ttl + time.Second - 1).Unix()
	q := url.Values{
		"method":  {method},
		"expires": {strconv.FormatInt(exp, 10)},
		"sig":     {l.sign(method, key, exp)},
	}
	return api.Presigned{
		Method:  method,
		URL:     base + PathPrefix + escapeKey(key) + "?" + q.Encode(),
		Key:     key,
		Expires: time.Unix(exp, 0).UTC(),
	}, nil
}

func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// sign is the hex HMAC-SHA256 of method, key and expiry. Keys cannot contain
// a newline, so the message is unambiguous.
func (l *Local) sign(method, key string, expires int64) string {
	m := hmac.New(sha256.New, l.secret)
	_, _ = io.WriteString(m, "ytcaption-blob-v1\n"+method+"\n"+key+"\n"+strconv.FormatInt(expires, 10))
	return hex.EncodeToString(m.Sum(nil))
}

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
