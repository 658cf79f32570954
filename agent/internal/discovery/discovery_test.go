package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fakeConsul serves GET /v1/health/service/:name the way Consul documents
// it: ?passing filters to instances whose checks pass, ?index=N&wait=D makes
// it a blocking query that returns when the index moves past N or the wait
// ends, and X-Consul-Index carries the index of the reply.
type fakeConsul struct {
	mu        sync.Mutex
	cond      *sync.Cond
	index     uint64
	instances []instance
	seen      []uint64 // index parameter of each query
	tokens    []string
}

type instance struct {
	addr    string
	port    int
	passing bool
}

func newFakeConsul(t *testing.T) (*fakeConsul, *httptest.Server) {
	t.Helper()
	f := &fakeConsul{index: 10}
	f.cond = sync.NewCond(&f.mu)
	srv := httptest.NewServer(f)
	t.Cleanup(func() {
		f.set(0, nil) // wake blocked queries so Close does not wait
		srv.CloseClientConnections()
		srv.Close()
	})
	return f, srv
}

// set replaces the instances and moves the index to idx (0: index+1).
func (f *fakeConsul) set(idx uint64, in []instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if idx == 0 {
		idx = f.index + 1
	}
	f.index, f.instances = idx, in
	f.cond.Broadcast()
}

func (f *fakeConsul) queries() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint64(nil), f.seen...)
}

func (f *fakeConsul) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/health/service/ytcaption" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	want, _ := strconv.ParseUint(q.Get("index"), 10, 64)
	wait, _ := time.ParseDuration(q.Get("wait"))
	f.mu.Lock()
	f.seen = append(f.seen, want)
	f.tokens = append(f.tokens, r.Header.Get("X-Consul-Token"))
	if want > 0 && f.index == want && wait > 0 {
		timer := time.AfterFunc(wait, func() { f.mu.Lock(); f.cond.Broadcast(); f.mu.Unlock() })
		for f.index == want && r.Context().Err() == nil {
			f.cond.Wait()
			if !timer.Stop() { // fired: the wait is over
				break
			}
			timer.Reset(wait)
		}
	}
	idx, ins := f.index, f.instances
	f.mu.Unlock()
	var out []map[string]any
	for _, in := range ins {
		if q.Has("passing") && !in.passing {
			continue
		}
		out = append(out, map[string]any{
			"Node":    map[string]any{"Node": "n", "Address": "127.0.0.1"},
			"Service": map[string]any{"ID": "ytcaption-" + strconv.Itoa(in.port), "Service": "ytcaption", "Address": in.addr, "Port": in.port},
			"Checks":  []any{},
		})
	}
	w.Header().Set("X-Consul-Index", strconv.FormatUint(idx, 10))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func TestParseTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Target
		wantErr bool
	}{
		{in: "consul://ytcaption", want: Target{Service: "ytcaption", Scheme: "http"}},
		{in: "consul://ytcaption?tag=blue&dc=eu1&scheme=https", want: Target{Service: "ytcaption", Tag: "blue", Datacenter: "eu1", Scheme: "https"}},
		{in: "consul://", wantErr: true},
		{in: "http://ytcaption", wantErr: true},
		{in: "consul://ytcaption/path", wantErr: true},
		{in: "consul://ytcaption?scheme=ftp", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("ParseTarget(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

func TestNextIndex(t *testing.T) {
	t.Parallel()
	tests := []struct{ prev, got, want uint64 }{
		{0, 0, 1},    // never below 1
		{0, 7, 7},    // first query
		{7, 7, 7},    // wait timed out, nothing changed
		{7, 9, 9},    // change
		{9, 3, 0},    // went backwards: reset
		{12, 12, 12}, // unchanged
	}
	for _, tt := range tests {
		if got := nextIndex(tt.prev, tt.got); got != tt.want {
			t.Errorf("nextIndex(%d, %d) = %d, want %d", tt.prev, tt.got, got, tt.want)
		}
	}
}

func newResolver(t *testing.T, consulURL string, rnd func() float64) *Resolver {
	t.Helper()
	tgt, _ := ParseTarget("consul://ytcaption")
	r, err := New(Config{ConsulAddr: consulURL, Token: "agent-read", Target: tgt, WaitTime: 2 * time.Second,
		MinInterval: 5 * time.Millisecond, Rand: rnd}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestResolverFollowsCatalog(t *testing.T) {
	t.Parallel()
	f, srv := newFakeConsul(t)
	f.set(0, []instance{{"10.0.0.1", 8080, true}, {"10.0.0.2", 8080, false}, {"", 9090, true}})
	r := newResolver(t, srv.URL, func() float64 { return 0 })

	cur, err := r.Current(context.Background())
	if err != nil || cur != "10.0.0.1:8080" {
		t.Fatalf("current %q %v", cur, err)
	}
	// The empty service address falls back to the node's; critical instances are left out.
	if eps := r.Endpoints(); strings.Join(eps, ",") != "10.0.0.1:8080,127.0.0.1:9090" {
		t.Fatalf("endpoints %v", eps)
	}
	// The chosen replica turns critical: the next Current fails over.
	f.set(0, []instance{{"10.0.0.1", 8080, false}, {"", 9090, true}})
	waitFor(t, "failover", func() bool { c, _ := r.Current(context.Background()); return c == "127.0.0.1:9090" })

	// The index goes backwards (Consul restored from a snapshot): the
	// resolver must reset to 0 rather than block on an index that will
	// not come back.
	f.set(3, []instance{{"10.0.0.3", 8080, true}})
	waitFor(t, "reset", func() bool { return strings.Join(r.Endpoints(), ",") == "10.0.0.3:8080" })
	waitFor(t, "query with index 0", func() bool {
		qs := f.queries()
		for i := 1; i < len(qs); i++ {
			if qs[i] == 0 {
				return true
			}
		}
		return false
	})
	// Blocking queries were used (index > 0 sent) and carried the ACL token.
	qs := f.queries()
	if len(qs) < 2 || qs[1] == 0 {
		t.Fatalf("queries %v", qs)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tok := range f.tokens {
		if tok != "agent-read" {
			t.Fatalf("token %q", tok)
		}
	}
}

func TestResolverSpreadsAndQuarantines(t *testing.T) {
	t.Parallel()
	f, srv := newFakeConsul(t)
	f.set(0, []instance{{"10.0.0.1", 1, true}, {"10.0.0.2", 2, true}, {"10.0.0.3", 3, true}})
	// Different agents draw different random numbers and so different replicas.
	picked := map[string]bool{}
	for _, x := range []float64{0.1, 0.5, 0.9} {
		r := newResolver(t, srv.URL, func() float64 { return x })
		c, err := r.Current(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		picked[c] = true
	}
	if len(picked) != 3 {
		t.Fatalf("agents did not spread: %v", picked)
	}
	r := newResolver(t, srv.URL, func() float64 { return 0 })
	a, _ := r.Current(context.Background())
	r.Fail(a)
	b, _ := r.Current(context.Background())
	r.Fail(b)
	c, _ := r.Current(context.Background())
	if a == b || b == c || a == c {
		t.Fatalf("quarantined replica chosen again: %s %s %s", a, b, c)
	}
	r.Fail(c)
	if d, err := r.Current(context.Background()); err != nil || d == "" {
		t.Fatalf("all quarantined: want some replica, got %q %v", d, err)
	}
}

func TestCurrentWaitsForConsul(t *testing.T) {
	t.Parallel()
	tgt, _ := ParseTarget("consul://ytcaption")
	r, err := New(Config{ConsulAddr: "127.0.0.1:1", Target: tgt}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.Current(ctx); err == nil {
		t.Fatal("no error without an answer from consul")
	}
}

// replica is a stand-in control plane that answers the agent protocol's
// heartbeat; it can be stopped like a replica that goes away.
func replica(t *testing.T, name string, hits *atomic.Int64) (*httptest.Server, instance) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Replica", name)
		_ = json.NewEncoder(w).Encode(api.HeartbeatResponse{})
	}))
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return srv, instance{host, p, true}
}

func TestTransportFailsOverWithoutDroppingWork(t *testing.T) {
	t.Parallel()
	f, consulSrv := newFakeConsul(t)
	var hitsA, hitsB atomic.Int64
	a, insA := replica(t, "a", &hitsA)
	_, insB := replica(t, "b", &hitsB)
	f.set(0, []instance{insA, insB})
	r := newResolver(t, consulSrv.URL, func() float64 { return 0 }) // sticks to a first

	tgt, _ := ParseTarget("consul://ytcaption")
	hc := &http.Client{Transport: NewTransport(r, tgt, nil)}
	client := api.NewClient(tgt.PlaceholderURL(), "yta_x_y", hc)
	ctx := context.Background()
	beat := func() error {
		_, err := client.Heartbeat(ctx, "task-1", api.HeartbeatRequest{Token: 1, Stage: "transcribe", Progress: 0.5})
		return err
	}
	if err := beat(); err != nil {
		t.Fatal(err)
	}
	if hitsA.Load() != 1 {
		t.Fatalf("first heartbeat not on replica a")
	}
	// Replica a stops without deregistering (a crash): the very next
	// heartbeat must still succeed, on b, so the running task is kept.
	a.Close()
	for i := range 5 {
		if err := beat(); err != nil {
			t.Fatalf("heartbeat %d after replica a stopped: %v", i, err)
		}
	}
	if hitsB.Load() != 5 {
		t.Fatalf("replica b got %d heartbeats", hitsB.Load())
	}
}

func TestTransportRetriesOnlySafeRequests(t *testing.T) {
	t.Parallel()
	// A server that accepts the request and then drops the connection:
	// the request may have been handled, so only idempotent ones retry.
	var hits atomic.Int64
	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		hj, _ := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		_ = c.Close()
	}))
	defer drop.Close()
	host, port, _ := net.SplitHostPort(drop.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	f, consulSrv := newFakeConsul(t)
	f.set(0, []instance{{host, p, true}})
	r := newResolver(t, consulSrv.URL, func() float64 { return 0 })
	tgt, _ := ParseTarget("consul://ytcaption")
	tr := NewTransport(r, tgt, &http.Transport{DisableKeepAlives: true})
	tests := []struct {
		method string
		header string
		want   int64
	}{
		{http.MethodPost, "", 1},
		{http.MethodPost, "key-1", 3},
		{http.MethodGet, "", 3},
	}
	for _, tt := range tests {
		hits.Store(0)
		req, _ := http.NewRequest(tt.method, tgt.PlaceholderURL()+"/v1/agent/lease", strings.NewReader("{}"))
		if tt.header != "" {
			req.Header.Set("Idempotency-Key", tt.header)
		}
		if _, err := tr.RoundTrip(req); err == nil {
			t.Fatalf("%s: no error", tt.method)
		}
		if hits.Load() != tt.want {
			t.Errorf("%s key=%q: %d attempts, want %d", tt.method, tt.header, hits.Load(), tt.want)
		}
	}
}

func TestTransportPassesOtherHostsThrough(t *testing.T) {
	t.Parallel()
	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "stored")
	}))
	defer s3.Close()
	tgt, _ := ParseTarget("consul://ytcaption")
	tgt2, _ := New(Config{ConsulAddr: "127.0.0.1:1", Target: tgt}, quietLog()) // never resolves
	hc := &http.Client{Transport: NewTransport(tgt2, tgt, nil)}
	req, _ := http.NewRequest(http.MethodPut, s3.URL+"/bucket/key?X-Amz-Signature=x", strings.NewReader("data"))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "stored" {
		t.Fatalf("body %q", b)
	}
}
