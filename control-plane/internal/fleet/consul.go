// Package fleet connects the control plane to the HashiCorp stack: it
// registers each replica as a Consul service (so agents can find healthy
// replicas), reads the fleet's Nomad nodes and joins them to agents, drains
// Nomad nodes, and runs the autoscaler that sizes the CPU agent job's group
// from the queue through Nomad's scaling API.
package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	consul "github.com/hashicorp/consul/api"
)

// ServiceName is the Consul service every control-plane replica registers.
const ServiceName = "ytcaption"

// ConsulConfig says how to reach the local Consul agent.
type ConsulConfig struct {
	Addr       string // host:port or URL, e.g. 127.0.0.1:8500
	Token      string // ACL token; needs service:write on the service
	Datacenter string
	HTTPClient *http.Client
}

// NewConsulClient builds a Consul API client from explicit settings only
// (the CONSUL_HTTP_* environment is not consulted).
func NewConsulClient(cfg ConsulConfig) (*consul.Client, error) {
	c, err := consul.NewClient(&consul.Config{Address: cfg.Addr, Token: cfg.Token, Datacenter: cfg.Datacenter,
		HttpClient: cfg.HTTPClient})
	if err != nil {
		return nil, fmt.Errorf("consul client: %w", err)
	}
	return c, nil
}

// Registration describes one replica's entry in the Consul catalog.
type Registration struct {
	ID      string // unique per replica
	Name    string // default ServiceName
	Address string // "" lets Consul use the node's address
	Port    int
	Version string
	Tags    []string
	// CheckURL is polled by the Consul agent; normally http://<addr>:<port>/readyz.
	CheckURL      string
	CheckInterval time.Duration // default 5s
	CheckTimeout  time.Duration // default 2s
	// DeregisterAfter removes a replica that stays critical this long (a
	// crashed process never deregisters itself). Default 5m.
	DeregisterAfter time.Duration
}

// NewRegistration derives a replica's registration from the address it
// listens on (host:port). advertise, if set, is the address other machines
// reach it at (Nomad's NOMAD_IP_<label>), which a wildcard listen lacks.
func NewRegistration(replica, listen, advertise, version string, tags []string) (Registration, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return Registration{}, fmt.Errorf("listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return Registration{}, fmt.Errorf("listen port %q: %w", portStr, err)
	}
	addr := advertise
	if addr == "" && host != "" && host != "0.0.0.0" && host != "::" {
		addr = host
	}
	checkHost := addr
	if checkHost == "" {
		checkHost = "127.0.0.1" // the Consul agent runs on the replica's machine
	}
	if version == "" {
		version = "dev"
	}
	return Registration{
		ID:       ServiceName + "-" + serviceIDPart(replica),
		Name:     ServiceName,
		Address:  addr,
		Port:     port,
		Version:  version,
		Tags:     append([]string{"version=" + version}, tags...),
		CheckURL: "http://" + net.JoinHostPort(checkHost, portStr) + "/readyz",
	}, nil
}

// serviceIDPart keeps what Consul allows in a service id and URL path.
func serviceIDPart(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// Registrar registers and deregisters one replica.
type Registrar struct {
	c   *consul.Client
	reg Registration
	log *slog.Logger
}

// NewRegistrar returns a registrar for reg through the agent in cfg.
func NewRegistrar(cfg ConsulConfig, reg Registration, log *slog.Logger) (*Registrar, error) {
	c, err := NewConsulClient(cfg)
	if err != nil {
		return nil, err
	}
	if reg.Name == "" {
		reg.Name = ServiceName
	}
	if reg.CheckInterval <= 0 {
		reg.CheckInterval = 5 * time.Second
	}
	if reg.CheckTimeout <= 0 {
		reg.CheckTimeout = 2 * time.Second
	}
	if reg.DeregisterAfter <= 0 {
		reg.DeregisterAfter = 5 * time.Minute
	}
	return &Registrar{c: c, reg: reg, log: log}, nil
}

// payload is the PUT /v1/agent/service/register body.
func (r *Registrar) payload() *consul.AgentServiceRegistration {
	return &consul.AgentServiceRegistration{
		ID:      r.reg.ID,
		Name:    r.reg.Name,
		Tags:    r.reg.Tags,
		Address: r.reg.Address,
		Port:    r.reg.Port,
		Meta:    map[string]string{"version": r.reg.Version},
		Check: &consul.AgentServiceCheck{
			CheckID:                        r.reg.ID + ":readyz",
			Name:                           "ytcaption readiness",
			HTTP:                           r.reg.CheckURL,
			Method:                         http.MethodGet,
			Interval:                       r.reg.CheckInterval.String(),
			Timeout:                        r.reg.CheckTimeout.String(),
			DeregisterCriticalServiceAfter: r.reg.DeregisterAfter.String(),
		},
	}
}

// Register adds the replica to the catalog (idempotent: registering again
// replaces the entry).
func (r *Registrar) Register(ctx context.Context) error {
	opts := consul.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
	if err := r.c.Agent().ServiceRegisterOpts(r.payload(), opts); err != nil {
		return fmt.Errorf("register %s in consul: %w", r.reg.ID, err)
	}
	r.log.Info("registered in consul", "service", r.reg.Name, "id", r.reg.ID, "check", r.reg.CheckURL)
	return nil
}

// Deregister removes the replica from the catalog.
func (r *Registrar) Deregister(ctx context.Context) error {
	q := (&consul.QueryOptions{}).WithContext(ctx)
	if err := r.c.Agent().ServiceDeregisterOpts(r.reg.ID, q); err != nil {
		return fmt.Errorf("deregister %s from consul: %w", r.reg.ID, err)
	}
	r.log.Info("deregistered from consul", "id", r.reg.ID)
	return nil
}
