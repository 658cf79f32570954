// Package artifact keeps the models and tools operators pushed to the
// control plane (GET /v1/agent/artifacts) in a local cache: each is
// fetched through its presigned URL into a temporary file, its SHA-256
// and size verified, and renamed into place, so a torn or tampered
// download is never used. The cache holds at most a configured number of
// bytes and evicts the least recently used artifacts to make room.
//
// Layout: <dir>/<kind>/<name> (so <dir>/model holds ggml-*.bin files a
// whisper.cpp engine can scan), <dir>/index.json records what each file is,
// and <dir>/.tmp holds downloads in progress.
package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// ErrTooLarge reports an artifact bigger than the whole cache.
var ErrTooLarge = errors.New("artifact larger than the cache")

// ErrHashMismatch reports a download whose bytes are not the listed ones.
var ErrHashMismatch = errors.New("artifact download does not match its SHA-256 and size")

// Entry is one cached artifact.
type Entry struct {
	Kind     string    `json:"kind"`
	Name     string    `json:"name"`
	Version  string    `json:"version"`
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	LastUsed time.Time `json:"last_used"`
}

// Cache is a size-limited directory of verified artifacts. Its methods are
// safe for concurrent use; downloads are serialized.
type Cache struct {
	dir   string
	max   int64
	http  *http.Client
	log   *slog.Logger
	now   func() time.Time
	mu    sync.Mutex
	index map[string]Entry // by kind/name
}

// New opens (creating if needed) a cache in dir holding at most maxBytes
// (> 0). Downloads in progress when an earlier process stopped are removed,
// and index entries whose file is gone are dropped.
func New(dir string, maxBytes int64, hc *http.Client, log *slog.Logger, now func() time.Time) (*Cache, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("artifact cache: size limit must be positive, got %d", maxBytes)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	if now == nil {
		now = time.Now
	}
	if err := os.RemoveAll(filepath.Join(dir, ".tmp")); err != nil {
		return nil, fmt.Errorf("artifact cache: %w", err)
	}
	for _, d := range []string{".tmp", api.ArtifactModel, api.ArtifactTool} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			return nil, fmt.Errorf("artifact cache: %w", err)
		}
	}
	c := &Cache{dir: dir, max: maxBytes, http: hc, log: log, now: now, index: map[string]Entry{}}
	b, err := os.ReadFile(c.indexPath())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("artifact cache: %w", err)
	}
	var es []Entry
	if len(b) > 0 {
		if err := json.Unmarshal(b, &es); err != nil {
			// A damaged index only costs downloads: start empty.
			log.Warn("artifact cache index unreadable; starting empty", "err", err)
		}
	}
	c.index = present(dir, es)
	return c, nil
}

// present keeps the entries of es whose file in dir has their size.
func present(dir string, es []Entry) map[string]Entry {
	c := Cache{dir: dir, index: map[string]Entry{}}
	for _, e := range es {
		if fi, err := os.Stat(c.path(e.Kind, e.Name)); err == nil && fi.Size() == e.Size {
			c.index[key(e.Kind, e.Name)] = e
		}
	}
	return c.index
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func key(kind, name string) string { return kind + "/" + name }

func (c *Cache) indexPath() string { return filepath.Join(c.dir, "index.json") }

func (c *Cache) path(kind, name string) string { return filepath.Join(c.dir, kind, name) }

// ModelDir is the directory holding cached models.
func (c *Cache) ModelDir() string { return filepath.Join(c.dir, api.ArtifactModel) }

// Ensure returns the path of a's bytes in the cache, fetching them first
// when the cache does not hold a's SHA-256 (a newer version replaces the
// older one of the same kind and name).
func (c *Cache) Ensure(ctx context.Context, a api.AgentArtifact) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, p := key(a.Kind, a.Name), c.path(a.Kind, a.Name)
	if e, ok := c.index[k]; ok && e.SHA256 == a.SHA256 && exists(p) {
		e.LastUsed = c.now()
		c.index[k] = e
		return p, c.saveIndex()
	}
	if a.Size > c.max {
		return "", fmt.Errorf("%s %s (%d bytes, cache %d bytes): %w", a.Kind, a.Name, a.Size, c.max, ErrTooLarge)
	}
	if a.Name == "" || a.Name != filepath.Base(a.Name) || a.Name[0] == '.' ||
		(a.Kind != api.ArtifactModel && a.Kind != api.ArtifactTool) {
		return "", fmt.Errorf("artifact cache: refusing %s %q", a.Kind, a.Name)
	}
	tmp, err := c.download(ctx, a)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	delete(c.index, k) // the older version's bytes are replaced below
	if err := c.evict(a.Size); err != nil {
		return "", err
	}
	mode := os.FileMode(0o644)
	if a.Kind == api.ArtifactTool {
		mode = 0o755
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return "", fmt.Errorf("artifact cache: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("artifact cache: %w", err)
	}
	c.index[k] = Entry{Kind: a.Kind, Name: a.Name, Version: a.Version, SHA256: a.SHA256, Size: a.Size, LastUsed: c.now()}
	c.log.Info("artifact fetched", "kind", a.Kind, "name", a.Name, "version", a.Version, "bytes", a.Size)
	return p, c.saveIndex()
}

// download fetches a into a temporary file and verifies it.
func (c *Cache) download(ctx context.Context, a api.AgentArtifact) (string, error) {
	method := a.Download.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Download.URL, nil)
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", a.Name, err)
	}
	for k, v := range a.Download.Headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", a.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetch %s: HTTP %d", a.Name, resp.StatusCode)
	}
	f, err := os.CreateTemp(filepath.Join(c.dir, ".tmp"), "fetch-*")
	if err != nil {
		return "", fmt.Errorf("artifact cache: %w", err)
	}
	h := sha256.New()
	// One byte more than listed reveals an object bigger than announced.
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, a.Size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && (n != a.Size || hex.EncodeToString(h.Sum(nil)) != a.SHA256) {
		err = fmt.Errorf("%s %s: got %d bytes with SHA-256 %s: %w", a.Kind, a.Name, n, hex.EncodeToString(h.Sum(nil)), ErrHashMismatch)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("fetch %s: %w", a.Name, err)
	}
	return f.Name(), nil
}

// evict removes least recently used entries until need more bytes fit.
func (c *Cache) evict(need int64) error {
	es := make([]Entry, 0, len(c.index))
	var used int64
	for _, e := range c.index {
		es = append(es, e)
		used += e.Size
	}
	sort.Slice(es, func(i, j int) bool { return es[i].LastUsed.Before(es[j].LastUsed) })
	for _, e := range es {
		if used+need <= c.max {
			break
		}
		// A process still reading an evicted file keeps it until it closes it.
		if err := os.Remove(c.path(e.Kind, e.Name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("artifact cache: evict: %w", err)
		}
		delete(c.index, key(e.Kind, e.Name))
		used -= e.Size
		c.log.Info("artifact evicted", "kind", e.Kind, "name", e.Name, "version", e.Version, "bytes", e.Size)
	}
	return nil
}

func (c *Cache) saveIndex() error {
	es := c.entries()
	b, err := json.MarshalIndent(es, "", "  ")
	if err != nil {
		return fmt.Errorf("artifact cache: %w", err)
	}
	tmp := c.indexPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return fmt.Errorf("artifact cache: %w", err)
	}
	if err := os.Rename(tmp, c.indexPath()); err != nil {
		return fmt.Errorf("artifact cache: %w", err)
	}
	return nil
}

func (c *Cache) entries() []Entry {
	es := make([]Entry, 0, len(c.index))
	for _, e := range c.index {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return key(es[i].Kind, es[i].Name) < key(es[j].Kind, es[j].Name) })
	return es
}

// Entries lists what the cache holds, by kind and name.
func (c *Cache) Entries() []Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries()
}

// Models lists the names of the cached models.
func (c *Cache) Models() []string {
	var out []string
	for _, e := range c.Entries() {
		if e.Kind == api.ArtifactModel {
			out = append(out, e.Name)
		}
	}
	return out
}

// Sync fetches every artifact of l the cache does not hold, in order; an
// artifact that fails (too large, bad download) is logged and skipped so
// the others still arrive. It returns the failures joined.
func (c *Cache) Sync(ctx context.Context, l []api.AgentArtifact) error {
	var errs []error
	for _, a := range l {
		if _, err := c.Ensure(ctx, a); err != nil {
			c.log.Warn("artifact not cached", "kind", a.Kind, "name", a.Name, "version", a.Version, "err", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
