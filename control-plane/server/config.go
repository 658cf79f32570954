// Package server wires the control plane together: it opens the store (and
// migrates it), the blob store, Redis, builds the dispatcher, the sweeper and
// the HTTP API, serves until its context ends, and shuts down gracefully.
package server

import (
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// Config is the control plane's configuration. Zero values take defaults.
type Config struct {
	Listen    string // host:port; default 127.0.0.1:8080
	PublicURL string // how agents and clients reach this replica; default http://<listen address>
	DataDir   string // embedded defaults live here; default ./data
	// DatabaseURL is postgres://… or a SQLite file path; default <DataDir>/ytcaption.db.
	DatabaseURL string
	RedisURL    string // optional; enables cross-replica wake-ups
	RedisPrefix string // key and channel prefix; default "ytcaption:"
	S3          S3Config
	// AdminKey is accepted as an admin key of tenant "default". Without it a
	// key is generated on first start and printed once.
	AdminKey            string
	AllowPrivateSources bool
	SourceAllowList     []string // exceptions to the private-source rule
	// KeyRate and TenantRate limit requests a second (needs RedisURL);
	// MaxUnfinished caps a tenant's queued and running jobs.
	KeyRate, TenantRate, MaxUnfinished int
	// SessionKeys signs console sessions (YTCAPTION_SESSION_KEYS): comma-
	// separated keys of 32+ bytes, the first signs and all verify. Empty: a
	// key generated once and kept in DataDir (one replica only). With Vault,
	// the KV key session_keys is used when this is empty.
	SessionKeys string
	ReplicaName string // default hostname:port
	// DebugListen serves /debug/pprof/ on this host:port (off when empty).
	DebugListen string
	// TLS serves HTTPS (and optionally demands agent client certificates);
	// PublicURL then defaults to https://<listen address>.
	TLS TLSConfig
	// AgentTokenTTL is the lifetime of agent tokens; agents renew them at
	// half of it. Default 24 h.
	AgentTokenTTL time.Duration

	LeaseDuration     time.Duration
	HeartbeatInterval time.Duration
	MaxLeaseWait      time.Duration
	RetryPolicy       job.RetryPolicy
	MaxUploadBytes    int64
	MaxDuration       time.Duration
	ShutdownTimeout   time.Duration
	SweepInterval     time.Duration
	LeaderTerm        time.Duration
	// FleetSampleInterval is how often the leader samples the fleet's load
	// for the statistics; default 10 s.
	FleetSampleInterval time.Duration
	// MaxArtifactBytes caps a pushed model or tool (default 5 GiB); the
	// local blob store accepts PUTs of this size, streamed to disk.
	MaxArtifactBytes int64

	// ReadyPoll and ReadyFallbackPoll are how often waiting long-polls look
	// for ready work that came without a wake-up (dispatch.Config.Poll and
	// FallbackPoll); the dispatcher's defaults when zero.
	ReadyPoll, ReadyFallbackPoll time.Duration

	Surface SurfaceConfig // tracing, OpenAI endpoint, webhooks (surface.go)

	// HashiCorp stack integrations (hashicorp.go); each is off while its Addr is empty.
	Consul ConsulConfig
	Vault  VaultConfig
	Nomad  NomadConfig
}

// S3Config selects S3/MinIO for artifacts; empty Endpoint means local disk.
type S3Config struct {
	Endpoint  string
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = c.DataDir + "/ytcaption.db"
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = "ytcaption:"
	}
	if c.S3.Bucket == "" {
		c.S3.Bucket = "ytcaption"
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = 30 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = c.LeaseDuration / 3
	}
	if c.MaxLeaseWait <= 0 {
		c.MaxLeaseWait = 30 * time.Second
	}
	if c.RetryPolicy.MaxAttempts == 0 {
		c.RetryPolicy = job.DefaultRetryPolicy()
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 20 * time.Second
	}
}
