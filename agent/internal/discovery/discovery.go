// Package discovery finds the control plane for an agent running on the
// HashiCorp stack. A Resolver follows the healthy replicas of a Consul
// service with blocking queries (cached between them, with jitter), picks
// one per agent so a fleet spreads over the replicas, and fails over when a
// replica turns unhealthy, leaves the catalog, or stops answering. Its
// Transport rewrites each request to the replica chosen at that moment, so
// the agent's API client keeps one placeholder base URL and its running
// tasks survive a replica going away. VaultSecret reads the enrollment token
// from Vault.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	consul "github.com/hashicorp/consul/api"
)

// Scheme marks a server address resolved through Consul: consul://SERVICE.
const Scheme = "consul://"

// Target is a parsed consul://SERVICE[?tag=T&dc=D&scheme=https] address.
type Target struct {
	Service    string
	Tag        string
	Datacenter string
	Scheme     string // of the replicas' URLs; default http
}

// IsConsul reports whether server is a consul:// address.
func IsConsul(server string) bool { return strings.HasPrefix(server, Scheme) }

// ParseTarget parses a consul:// address.
func ParseTarget(server string) (Target, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "consul" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return Target{}, fmt.Errorf("server %q: want consul://SERVICE[?tag=T&dc=D&scheme=https]", server)
	}
	t := Target{Service: u.Host, Tag: u.Query().Get("tag"), Datacenter: u.Query().Get("dc"), Scheme: u.Query().Get("scheme")}
	if t.Scheme == "" {
		t.Scheme = "http"
	}
	if t.Scheme != "http" && t.Scheme != "https" {
		return Target{}, fmt.Errorf("server %q: scheme must be http or https", server)
	}
	return t, nil
}

// PlaceholderURL is the base URL the agent's client uses; Transport
// replaces its host with a live replica on every request.
func (t Target) PlaceholderURL() string {
	return t.Scheme + "://" + t.Service + ".service.consul.invalid"
}

// Config configures a Resolver.
type Config struct {
	ConsulAddr string // default 127.0.0.1:8500
	Token      string // ACL token with service:read on the service and node:read
	Target     Target
	// WaitTime bounds one blocking query; default 5m (Consul's maximum
	// is 10m, and it adds up to WaitTime/16 of its own jitter).
	WaitTime time.Duration
	// MinInterval spaces consecutive queries so a fast-changing index does
	// not become a hot loop; default 1s, jittered.
	MinInterval time.Duration
	// Quarantine is how long a replica that failed a request is avoided.
	Quarantine time.Duration // default 30s
	HTTPClient *http.Client  // for Consul
	Rand       func() float64
	Now        func() time.Time
}

// Resolver tracks the healthy replicas of a service.
type Resolver struct {
	cfg Config
	c   *consul.Client
	log *slog.Logger

	mu        sync.Mutex
	endpoints []string             // host:port of passing instances, in catalog order
	current   string               // the replica this agent talks to
	bad       map[string]time.Time // quarantined until
	index     uint64
	ready     chan struct{} // closed after the first successful query
	readyOnce sync.Once
}

// New builds a resolver; call Run to start following the catalog.
func New(cfg Config, log *slog.Logger) (*Resolver, error) {
	if cfg.Target.Service == "" {
		return nil, errors.New("discovery: no service")
	}
	if cfg.ConsulAddr == "" {
		cfg.ConsulAddr = "127.0.0.1:8500"
	}
	if cfg.WaitTime <= 0 {
		cfg.WaitTime = 5 * time.Minute
	}
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = time.Second
	}
	if cfg.Quarantine <= 0 {
		cfg.Quarantine = 30 * time.Second
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		// Blocking queries hold the connection for up to WaitTime.
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	c, err := consul.NewClient(&consul.Config{Address: cfg.ConsulAddr, Token: cfg.Token,
		Datacenter: cfg.Target.Datacenter, HttpClient: hc})
	if err != nil {
		return nil, fmt.Errorf("consul client: %w", err)
	}
	return &Resolver{cfg: cfg, c: c, log: log, bad: map[string]time.Time{}, ready: make(chan struct{})}, nil
}

// Run follows the service's healthy instances until ctx ends. The last good
// list stays in use while Consul cannot be reached.
func (r *Resolver) Run(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		err := r.query(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := r.jitter(r.cfg.MinInterval)
		if err != nil {
			r.log.Warn("consul query failed; keeping the last known replicas", "service", r.cfg.Target.Service,
				"err", err, "retry_in", backoff)
			wait = r.jitter(backoff)
			backoff = min(backoff*2, time.Minute)
		} else {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// jitter spreads d over [d/2, 3d/2) so agents do not query in lockstep.
func (r *Resolver) jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(r.cfg.Rand()*float64(d))
}

// query runs one blocking query and applies its result.
func (r *Resolver) query(ctx context.Context) error {
	r.mu.Lock()
	index := r.index
	r.mu.Unlock()
	q := (&consul.QueryOptions{WaitIndex: index, WaitTime: r.cfg.WaitTime}).WithContext(ctx)
	entries, meta, err := r.c.Health().Service(r.cfg.Target.Service, r.cfg.Target.Tag, true, q)
	if err != nil {
		return fmt.Errorf("health of %s: %w", r.cfg.Target.Service, err)
	}
	eps := make([]string, 0, len(entries))
	for _, e := range entries {
		addr := e.Service.Address
		if addr == "" && e.Node != nil {
			addr = e.Node.Address
		}
		if addr == "" || e.Service.Port == 0 {
			continue
		}
		eps = append(eps, net.JoinHostPort(addr, strconv.Itoa(e.Service.Port)))
	}
	r.apply(eps, meta.LastIndex, index)
	return nil
}

// nextIndex applies Consul's rules for the index of the next blocking
// query: an index that went backwards (a server restore, or a catalog that
// was rebuilt) is reset to 0, and the index is never below 1.
func nextIndex(prev, got uint64) uint64 {
	if got < prev {
		return 0
	}
	return max(got, 1)
}

func (r *Resolver) apply(eps []string, got, prev uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.index = nextIndex(prev, got)
	changed := strings.Join(eps, ",") != strings.Join(r.endpoints, ",")
	r.endpoints = eps
	if r.current != "" && !contains(eps, r.current) {
		r.log.Info("replica left the healthy set; failing over", "replica", r.current)
		r.current = ""
	}
	if changed {
		r.log.Debug("healthy replicas", "service", r.cfg.Target.Service, "replicas", eps, "index", r.index)
	}
	r.readyOnce.Do(func() { close(r.ready) })
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Endpoints are the healthy replicas (host:port) as last seen.
func (r *Resolver) Endpoints() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.endpoints...)
}

// ErrNoReplica means Consul lists no healthy replica of the service.
var ErrNoReplica = errors.New("no healthy control-plane replica")

// Current returns the replica to use now, waiting (up to ctx) for the first
// answer from Consul. The choice is sticky: it changes only when the replica
// leaves the healthy set or failed a request (Fail). A new choice is random
// among the healthy replicas not in quarantine, which spreads a fleet of
// agents over the replicas.
func (r *Resolver) Current(ctx context.Context) (string, error) {
	select {
	case <-r.ready:
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for consul: %w", ctx.Err())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current != "" {
		return r.current, nil
	}
	now := r.cfg.Now()
	var ok []string
	for _, e := range r.endpoints {
		if until, q := r.bad[e]; !q || now.After(until) {
			ok = append(ok, e)
		}
	}
	if len(ok) == 0 {
		// Everything is quarantined: trying a suspect replica beats giving up.
		ok = r.endpoints
	}
	if len(ok) == 0 {
		return "", fmt.Errorf("%w: service %q", ErrNoReplica, r.cfg.Target.Service)
	}
	r.current = ok[int(r.cfg.Rand()*float64(len(ok)))%len(ok)]
	return r.current, nil
}

// Fail quarantines a replica after a failed request; the next Current
// picks another one.
func (r *Resolver) Fail(endpoint string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bad[endpoint] = r.cfg.Now().Add(r.cfg.Quarantine)
	if r.current == endpoint {
		r.current = ""
		r.log.Warn("control-plane replica failed; failing over", "replica", endpoint)
	}
}
