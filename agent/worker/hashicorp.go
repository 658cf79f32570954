package worker

import (
	"context"
	"net/http"
	"sync"

	"github.com/ytcaption/ytcaption/agent/internal/discovery"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// VaultConfig points an agent at its enrollment token in Vault KV v2 (key
// "enrollment_token"); used when Config.Token is empty.
type VaultConfig = discovery.VaultConfig

// consulState is the agent's view of the control plane through Consul.
type consulState struct {
	resolver *discovery.Resolver
	once     sync.Once
	stop     context.CancelFunc
	done     chan struct{}
}

// setupDiscovery makes a consul://SERVICE server usable: the API client gets
// a placeholder base URL and a transport that sends every request to the
// healthy replica chosen at that moment.
func (w *Worker) setupDiscovery() error {
	w.base = w.cfg.Server
	if !discovery.IsConsul(w.cfg.Server) {
		return nil
	}
	t, err := discovery.ParseTarget(w.cfg.Server)
	if err != nil {
		return err
	}
	r, err := discovery.New(discovery.Config{ConsulAddr: w.cfg.ConsulAddr, Token: w.cfg.ConsulToken, Target: t}, w.log)
	if err != nil {
		return err
	}
	hc := &http.Client{}
	if w.cfg.HTTPClient != nil {
		cp := *w.cfg.HTTPClient
		hc = &cp
	}
	hc.Transport = discovery.NewTransport(r, t, hc.Transport)
	w.cfg.HTTPClient = hc
	w.base = t.PlaceholderURL()
	w.consul = &consulState{resolver: r}
	return nil
}

// startDiscovery follows the catalog until stopDiscovery; it outlives the
// run context so a graceful stop can still report finished tasks.
func (w *Worker) startDiscovery(ctx context.Context) {
	c := w.consul
	if c == nil {
		return
	}
	c.once.Do(func() {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c.stop, c.done = cancel, make(chan struct{})
		go func() { defer close(c.done); c.resolver.Run(rctx) }()
	})
}

func (w *Worker) stopDiscovery() {
	if c := w.consul; c != nil && c.stop != nil {
		c.stop()
		<-c.done
	}
}

// enrollmentToken reads the enrollment token from Vault when none was given.
func (w *Worker) enrollmentToken(ctx context.Context) error {
	if w.cfg.Token != "" || w.cfg.Vault.Addr == "" {
		return nil
	}
	tok, err := discovery.VaultSecret(ctx, w.cfg.Vault, "enrollment_token")
	if err != nil {
		return err
	}
	w.cfg.Token = tok
	w.log.Info("enrollment token read from vault", "kv", w.cfg.Vault.KV)
	return nil
}

// nomadLabels adds the Nomad node and allocation an agent runs in to its
// labels, so the control plane can join agents to Nomad nodes.
func nomadLabels(cfg *Config) {
	if cfg.NomadNodeID == "" && cfg.NomadAllocID == "" {
		return
	}
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	if cfg.NomadNodeID != "" {
		cfg.Labels[api.LabelNomadNode] = cfg.NomadNodeID
	}
	if cfg.NomadAllocID != "" {
		cfg.Labels[api.LabelNomadAlloc] = cfg.NomadAllocID
	}
}
