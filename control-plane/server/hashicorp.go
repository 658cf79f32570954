package server

import (
	"context"
	"sync"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/fleet"
	"github.com/ytcaption/ytcaption/control-plane/internal/httpapi"
	"github.com/ytcaption/ytcaption/control-plane/internal/secrets"
	"github.com/ytcaption/ytcaption/internal/buildinfo"
)

// ConsulConfig turns on Consul registration when Addr is set.
type ConsulConfig struct {
	Addr        string // YTCAPTION_CONSUL_ADDR, e.g. 127.0.0.1:8500
	Token       string // ACL token with service:write on "ytcaption"
	Datacenter  string
	ServiceAddr string   // address to advertise; default the listen host (Nomad: NOMAD_IP_http)
	Tags        []string // extra tags; "version=<v>" is always added
}

// VaultConfig turns on reading secrets from Vault KV v2 when Addr is set.
type VaultConfig struct {
	Addr         string // YTCAPTION_VAULT_ADDR
	Namespace    string
	KV           string // default secret/ytcaption
	Token        string // VAULT_TOKEN
	RoleID       string // AppRole: YTCAPTION_VAULT_ROLE_ID
	SecretID     string // AppRole: YTCAPTION_VAULT_SECRET_ID
	AppRoleMount string
	JWTFile      string // Nomad workload identity file
	JWTRole      string
	JWTMount     string
	// RefreshInterval is how often the secret is checked for a new version.
	RefreshInterval time.Duration // default 1m
}

// NomadConfig turns on the Nomad fleet view (and, with ScaleMax > 0, the
// autoscaler) when Addr is set.
type NomadConfig struct {
	Addr      string // YTCAPTION_NOMAD_ADDR
	Token     string
	Region    string
	Namespace string
	// The CPU agent job group the autoscaler sizes.
	AgentJob      string // default ytcaption-agent-cpu
	AgentGroup    string // default agent
	ScaleMin      int
	ScaleMax      int // 0 disables the autoscaler
	ScaleInterval time.Duration
}

// hashicorp is the running state of the integrations.
type hashicorp struct {
	vault        *secrets.Client
	vaultVersion int
	mu           sync.Mutex // guards values, replaced on rotation
	values       secrets.Values
	registrar    *fleet.Registrar
	stopRegister context.CancelFunc
	registerDone chan struct{}
	autoscaler   *fleet.Autoscaler
	view         *fleet.View
}

// loadSecrets reads the configuration's secrets from Vault, before anything
// that needs them is opened. Values found there replace flags and the
// environment; keys are the YTCAPTION_* names in lower case without prefix.
func (s *Server) loadSecrets(ctx context.Context) error {
	v := s.cfg.Vault
	if v.Addr == "" {
		return nil
	}
	c, err := secrets.New(ctx, secrets.Config{Addr: v.Addr, Namespace: v.Namespace, KV: v.KV, Token: v.Token,
		RoleID: v.RoleID, SecretID: v.SecretID, AppRoleMount: v.AppRoleMount, JWTFile: v.JWTFile, JWTRole: v.JWTRole,
		JWTMount: v.JWTMount}, s.log)
	if err != nil {
		return err
	}
	vals, version, err := c.Read(ctx)
	if err != nil {
		return err
	}
	applySecrets(&s.cfg, vals)
	s.hc.vault, s.hc.vaultVersion, s.hc.values = c, version, vals
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	s.log.Info("configuration secrets read from vault", "kv", v.KV, "version", version, "keys", keys)
	return nil
}

// applySecrets copies the known keys into cfg.
func applySecrets(cfg *Config, v secrets.Values) {
	set := func(dst *string, key string) {
		if x := v[key]; x != "" {
			*dst = x
		}
	}
	set(&cfg.DatabaseURL, "database_url")
	set(&cfg.RedisURL, "redis_url")
	set(&cfg.S3.Endpoint, "s3_endpoint")
	set(&cfg.S3.Bucket, "s3_bucket")
	set(&cfg.S3.AccessKey, "s3_access_key")
	set(&cfg.S3.SecretKey, "s3_secret_key")
	set(&cfg.S3.Region, "s3_region")
	set(&cfg.AdminKey, "admin_key")
}

// Secret returns a value read from Vault at start ("" without Vault), for
// settings other parts of the server take from there (e.g. signing keys).
func (s *Server) Secret(key string) string {
	s.hc.mu.Lock()
	defer s.hc.mu.Unlock()
	return s.hc.values[key]
}

// openFleet connects to Nomad; it returns nil (no fleet routes) without it.
func (s *Server) openFleet() (httpapi.Fleet, error) {
	n := s.cfg.Nomad
	if n.Addr == "" {
		return nil, nil
	}
	nc, err := fleet.NewNomad(fleet.NomadConfig{Addr: n.Addr, Token: n.Token, Region: n.Region, Namespace: n.Namespace})
	if err != nil {
		return nil, err
	}
	s.hc.view = &fleet.View{Nomad: nc, Agents: s.store}
	if n.ScaleMax > 0 {
		p := fleet.DefaultPolicy()
		p.Min, p.Max = n.ScaleMin, n.ScaleMax
		job, group := n.AgentJob, n.AgentGroup
		if job == "" {
			job = "ytcaption-agent-cpu"
		}
		if group == "" {
			group = "agent"
		}
		s.hc.autoscaler, err = fleet.NewAutoscaler(fleet.AutoscalerConfig{Job: job, Group: group, Policy: p,
			Interval: n.ScaleInterval, Holder: s.cfg.ReplicaName}, fleet.StoreQueue{Jobs: s.store}, nc, s.store, time.Now, s.log)
		if err != nil {
			return nil, err
		}
		s.hc.view.Autoscaler = s.hc.autoscaler
	}
	return s.hc.view, nil
}

// startHashicorp runs once the replica serves: it registers in Consul (in
// the background, retrying while Consul is away) and starts token renewal,
// secret rotation pickup and the autoscaler.
func (s *Server) startHashicorp(ctx context.Context, wg *sync.WaitGroup) {
	if c := s.cfg.Consul; c.Addr != "" {
		if err := s.startRegistration(ctx); err != nil {
			s.log.Error("consul registration not started", "err", err)
		}
	}
	if v := s.hc.vault; v != nil {
		wg.Go(func() { v.KeepAlive(ctx) })
		wg.Go(func() { v.Watch(ctx, s.cfg.Vault.RefreshInterval, s.hc.vaultVersion, s.secretsRotated) })
	}
	if a := s.hc.autoscaler; a != nil {
		wg.Go(func() { a.Run(ctx) })
	}
}

func (s *Server) startRegistration(ctx context.Context) error {
	c := s.cfg.Consul
	reg, err := fleet.NewRegistration(s.cfg.ReplicaName, s.ln.Addr().String(), c.ServiceAddr, buildinfo.Version(), c.Tags)
	if err != nil {
		return err
	}
	r, err := fleet.NewRegistrar(fleet.ConsulConfig{Addr: c.Addr, Token: c.Token, Datacenter: c.Datacenter}, reg, s.log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	s.hc.registrar, s.hc.stopRegister, s.hc.registerDone = r, cancel, done
	go func() {
		defer close(done)
		for backoff := time.Second; ; backoff = min(backoff*2, 30*time.Second) {
			err := r.Register(ctx)
			if err == nil || ctx.Err() != nil {
				return
			}
			s.log.Warn("consul registration failed; retrying", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
	}()
	return nil
}

// secretsRotated applies what can change safely without a restart: a new
// admin key is accepted at once (the old one stays valid until revoked).
// Connection settings need a restart, which a Nomad template change
// triggers anyway.
func (s *Server) secretsRotated(vals secrets.Values, version int) {
	s.hc.mu.Lock()
	prev := s.hc.values
	s.hc.values = vals
	s.hc.mu.Unlock()
	if k := vals["admin_key"]; k != "" && k != prev["admin_key"] {
		s.cfg.AdminKey = k
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.bootstrapAdmin(ctx); err != nil {
			s.log.Warn("rotated admin key not applied", "err", err)
		} else {
			s.log.Info("rotated admin key accepted", "version", version)
		}
	}
	for _, k := range []string{"database_url", "redis_url", "s3_endpoint", "s3_bucket", "s3_access_key", "s3_secret_key"} {
		if vals[k] != prev[k] {
			s.log.Warn("vault secret changed; restart the replica to use it", "key", k, "version", version)
		}
	}
}

// stopHashicorp leaves the Consul catalog first, so agents move to other
// replicas while this one finishes its requests.
func (s *Server) stopHashicorp() {
	if s.hc.registrar == nil {
		return
	}
	s.hc.stopRegister()
	<-s.hc.registerDone
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.hc.registrar.Deregister(ctx); err != nil {
		s.log.Warn("consul deregistration failed; the check will fail and remove it", "err", err)
	}
	s.hc.registrar = nil
}
