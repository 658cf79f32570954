package artifact_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/artifact"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// blobServer serves objects by path, as presigned URLs do, and counts GETs.
type blobServer struct {
	*httptest.Server
	mu   sync.Mutex
	objs map[string][]byte
	gets int
}

func newBlobServer(t *testing.T) *blobServer {
	b := &blobServer{objs: map[string][]byte{}}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.gets++
		o, ok := b.objs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(o)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *blobServer) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gets
}

// put serves served under name and returns the listing of an artifact
// whose declared bytes are declared.
func (b *blobServer) put(kind, name, version string, declared, served []byte) api.AgentArtifact {
	b.mu.Lock()
	defer b.mu.Unlock()
	sum := sha256.Sum256(declared)
	p := "/" + kind + "/" + name + "/" + version
	b.objs[p] = served
	return api.AgentArtifact{
		Artifact: api.Artifact{ID: "art_" + name + version, Kind: kind, Name: name, Version: version,
			SHA256: hex.EncodeToString(sum[:]), Size: int64(len(declared))},
		Download: api.Presigned{Method: http.MethodGet, URL: b.URL + p, Key: p},
	}
}

// clock is a fake time that moves a second per reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func open(t *testing.T, dir string, max int64) *artifact.Cache {
	t.Helper()
	c, err := artifact.New(dir, max, nil, slog.New(slog.DiscardHandler), (&clock{t: time.Unix(1e9, 0)}).now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEnsure: an artifact is fetched once, verified, placed under its kind
// and name (tools executable), listed, and survives a restart.
func TestEnsure(t *testing.T) {
	t.Parallel()
	srv := newBlobServer(t)
	dir := t.TempDir()
	c := open(t, dir, 1<<20)
	model := bytes.Repeat([]byte("weights"), 1000)
	m := srv.put(api.ArtifactModel, "ggml-base.en.bin", "v1", model, model)
	tool := []byte("#!/bin/sh\necho 2030.01.01\n")
	tl := srv.put(api.ArtifactTool, "yt-dlp", "2030.01.01", tool, tool)
	ctx := context.Background()
	if err := c.Sync(ctx, []api.AgentArtifact{m, tl}); err != nil {
		t.Fatal(err)
	}
	p, err := c.Ensure(ctx, m)
	if err != nil || p != filepath.Join(c.ModelDir(), "ggml-base.en.bin") {
		t.Fatalf("Ensure = %q, %v", p, err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, model) {
		t.Fatal("cached model differs from the pushed bytes")
	}
	if srv.count() != 2 {
		t.Fatalf("%d downloads, want 2 (a cached artifact is not fetched again)", srv.count())
	}
	tp, err := c.Ensure(ctx, tl)
	if fi, serr := os.Stat(tp); err != nil || serr != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Fatalf("tool %q: %v %v, want an executable", tp, err, serr)
	}
	if got := c.Models(); !reflect.DeepEqual(got, []string{"ggml-base.en.bin"}) {
		t.Fatalf("Models = %v", got)
	}
	again := open(t, dir, 1<<20)
	if got := again.Entries(); len(got) != 2 || got[0].Name != "ggml-base.en.bin" || got[1].Name != "yt-dlp" {
		t.Fatalf("after reopening: %+v", got)
	}
	if _, err := again.Ensure(ctx, m); err != nil || srv.count() != 2 {
		t.Fatalf("reopened cache fetched again: %v, %d downloads", err, srv.count())
	}
}

// TestHashMismatch: bytes other than the listed ones are refused and
// leave nothing behind; a listing bigger than the cache is not fetched.
func TestHashMismatch(t *testing.T) {
	t.Parallel()
	srv := newBlobServer(t)
	dir := t.TempDir()
	c := open(t, dir, 1<<20)
	ctx := context.Background()
	good := []byte("the real model")
	for name, served := range map[string][]byte{"tampered": []byte("the fake model"), "short": good[:4], "long": append(bytes.Clone(good), '!')} {
		a := srv.put(api.ArtifactModel, name, "v1", good, served)
		if _, err := c.Ensure(ctx, a); !errors.Is(err, artifact.ErrHashMismatch) {
			t.Errorf("%s: %v, want ErrHashMismatch", name, err)
		}
		if _, err := os.Stat(filepath.Join(c.ModelDir(), name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: refused download left in the cache: %v", name, err)
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, ".tmp")); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
	if len(c.Entries()) != 0 {
		t.Fatalf("entries: %+v", c.Entries())
	}
	big := srv.put(api.ArtifactModel, "big", "v1", make([]byte, 2<<20), nil)
	n := srv.count()
	if _, err := c.Ensure(ctx, big); !errors.Is(err, artifact.ErrTooLarge) || srv.count() != n {
		t.Fatalf("too large: %v, %d downloads", err, srv.count()-n)
	}
}

// TestEviction: room is made by evicting the least recently used
// artifacts; a new version replaces the old one's bytes.
func TestEviction(t *testing.T) {
	t.Parallel()
	srv := newBlobServer(t)
	c := open(t, t.TempDir(), 100)
	ctx := context.Background()
	obj := func(s string) []byte { return bytes.Repeat([]byte(s), 40) }
	a := srv.put(api.ArtifactModel, "a", "v1", obj("a"), obj("a"))
	b := srv.put(api.ArtifactModel, "b", "v1", obj("b"), obj("b"))
	cc := srv.put(api.ArtifactModel, "c", "v1", obj("c"), obj("c"))
	for _, x := range []api.AgentArtifact{a, b, a, cc} { // a used after b: b is the oldest
		if _, err := c.Ensure(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Models(); !reflect.DeepEqual(got, []string{"a", "c"}) {
		t.Fatalf("Models = %v, want b evicted", got)
	}
	if _, err := os.Stat(filepath.Join(c.ModelDir(), "b")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("evicted file still there: %v", err)
	}
	a2 := srv.put(api.ArtifactModel, "a", "v2", obj("A"), obj("A"))
	p, err := c.Ensure(ctx, a2)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, obj("A")) {
		t.Fatal("new version did not replace the old bytes")
	}
	if es := c.Entries(); len(es) != 2 || es[0].Version != "v2" || es[1].Name != "c" {
		t.Fatalf("entries = %+v, want a v2 and c", es)
	}
}
