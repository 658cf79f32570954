package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
	"github.com/ytcaption/ytcaption/control-plane/internal/console"
	"github.com/ytcaption/ytcaption/control-plane/internal/dispatch"
	"github.com/ytcaption/ytcaption/control-plane/internal/httpapi"
	"github.com/ytcaption/ytcaption/control-plane/internal/ratelimit"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/internal/store/postgres"
	"github.com/ytcaption/ytcaption/control-plane/internal/store/sqlite"
	"github.com/ytcaption/ytcaption/control-plane/internal/sweep"
)

// Server is one running control-plane replica.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    store.Store
	ln       net.Listener
	debugLn  net.Listener // profiling endpoints (debug.go); nil when off
	url      string
	api      *httpapi.API
	disp     *dispatch.Dispatcher
	sweeper  *sweep.Sweeper
	bus      *dispatch.RedisBus
	redis    *redis.Client
	closers  []func() error
	adminKey string      // generated at first start; "" otherwise
	hc       hashicorp   // Consul, Vault and Nomad integrations (hashicorp.go)
	surface  surface     // metrics, tracing, webhooks (surface.go)
	keys     *keyCache   // API key lookups and revocation (keycache.go)
	agents   *agentCache // agent lookups and changes (agentcache.go)
}

// notifier is what wakes long-polls: the Redis bus across replicas, or the
// process-local hub.
type notifier interface{ Notify(context.Context) }

type hubNotifier struct{ hub *dispatch.Hub }

func (h hubNotifier) Notify(context.Context) { h.hub.Wake() }

// New opens everything the replica needs and starts listening; Run serves.
func New(ctx context.Context, cfg Config, log *slog.Logger) (_ *Server, err error) {
	cfg.defaults()
	s := &Server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	// With Vault configured, secrets come from there before anything uses them.
	if err = s.loadSecrets(ctx); err != nil {
		return nil, err
	}
	cfg = s.cfg
	if s.store, err = OpenStore(ctx, cfg.DatabaseURL, log); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.store.Close)

	if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	if cfg.DebugListen != "" {
		if s.debugLn, err = net.Listen("tcp", cfg.DebugListen); err != nil {
			return nil, fmt.Errorf("listen on %s for profiling: %w", cfg.DebugListen, err)
		}
	}
	tlsLn, err := cfg.TLS.listen(s.ln)
	if err != nil {
		return nil, err
	}
	s.ln = tlsLn
	s.url = strings.TrimRight(cfg.PublicURL, "/")
	if s.url == "" {
		scheme := "http://"
		if cfg.TLS.Enabled() {
			scheme = "https://"
		}
		s.url = scheme + s.ln.Addr().String()
	}
	if cfg.ReplicaName == "" {
		host, _ := os.Hostname()
		cfg.ReplicaName = host + "/" + s.ln.Addr().String()
		s.cfg.ReplicaName = cfg.ReplicaName
	}

	blobs, blobHandler, err := s.openBlobs(ctx)
	if err != nil {
		return nil, err
	}

	hub := dispatch.NewHub()
	var n notifier = hubNotifier{hub}
	var healthy func() bool
	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("parse redis url: %w", err)
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, 2*time.Second, 2*time.Second
		opt.Protocol = 2 // pub/sub on RESP2: no push-notification reads that ignore deadlines
		s.redis = redis.NewClient(opt)
		s.closers = append(s.closers, s.redis.Close)
		s.bus = dispatch.NewRedisBus(s.redis, cfg.RedisPrefix+"wake", hub, log)
		n, healthy = s.bus, s.bus.Healthy
	}
	s.disp = dispatch.New(s.store, hub, dispatch.Config{LeaseDuration: cfg.LeaseDuration, MaxWait: cfg.MaxLeaseWait,
		Poll: cfg.ReadyPoll, FallbackPoll: cfg.ReadyFallbackPoll}, time.Now, healthy)
	s.sweeper = sweep.New(s.store, n, sweep.Config{Interval: cfg.SweepInterval, Term: cfg.LeaderTerm, Policy: cfg.RetryPolicy,
		SampleInterval: cfg.FleetSampleInterval},
		cfg.ReplicaName, time.Now, log)

	if err := s.bootstrapAdmin(ctx); err != nil {
		return nil, err
	}
	ready := map[string]func(context.Context) error{"database": s.store.Ping, "blobs": blobs.Ping}
	degraded := map[string]func() string{}
	if s.bus != nil {
		degraded["wakeups"] = func() string {
			if s.bus.Healthy() {
				return ""
			}
			return "Redis unreachable; agents poll every second"
		}
	}
	fleetView, err := s.openFleet()
	if err != nil {
		return nil, err
	}
	keySpec := cfg.SessionKeys
	if keySpec == "" {
		keySpec = s.Secret("session_keys") // Vault, when configured
	}
	sessionKeys, err := console.LoadKeys(keySpec, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("console session keys: %w", err)
	}
	mediaOrigin, err := presignOrigin(ctx, blobs)
	if err != nil {
		return nil, err
	}
	con, err := console.New(console.Config{Keys: sessionKeys, MediaOrigins: []string{mediaOrigin}}, time.Now, log)
	if err != nil {
		return nil, err
	}
	if err := s.newSurface(ctx); err != nil {
		return nil, err
	}
	if err := s.instrument(blobs); err != nil {
		return nil, err
	}
	var rdb redis.UniversalClient
	if s.redis != nil {
		rdb = s.redis
	}
	s.keys = newKeyCache(s.store, rdb, cfg.RedisPrefix+"keys:revoked", time.Now, log)
	s.agents = newAgentCache(s.store, rdb, cfg.RedisPrefix+"agents:changed", time.Now, log)
	s.api = httpapi.New(httpapi.Config{
		AllowPrivateSources: cfg.AllowPrivateSources, SourceAllowList: cfg.SourceAllowList,
		KeyRate: cfg.KeyRate, TenantRate: cfg.TenantRate, MaxUnfinished: cfg.MaxUnfinished, MaxUploadBytes: cfg.MaxUploadBytes, MaxDuration: cfg.MaxDuration,
		MaxArtifactBytes: cfg.MaxArtifactBytes, LeaseDuration: cfg.LeaseDuration, HeartbeatInterval: cfg.HeartbeatInterval, MaxLeaseWait: cfg.MaxLeaseWait,
		RetryPolicy: cfg.RetryPolicy, BlobHandler: blobHandler, Ready: ready, Degraded: degraded,
		Fleet: fleetView, Surface: s.surfaceAPIConfig(),
		AgentTokenTTL: cfg.AgentTokenTTL, AgentClientCert: cfg.TLS.ClientCAFile != "",
	}, httpapi.Deps{
		Store: s.store, Keys: s.keys, Agents: s.agents, Blobs: blobs, Notifier: n, Now: time.Now,
		Dispatcher: s.disp, Observe: s.observeDeps(),
		NewID:   func() string { return uuid.Must(uuid.NewV7()).String() },
		Console: con, Limiter: s.rateLimiter(),
	}, log)
	return s, nil
}

// rateLimiter shares request budgets across replicas through Redis; without
// Redis there are no rate limits.
func (s *Server) rateLimiter() httpapi.RateLimiter {
	if s.redis == nil {
		return nil
	}
	return ratelimit.NewRedis(s.redis, s.cfg.RedisPrefix)
}

// presignOrigin is the origin presigned GET URLs point at (the S3
// endpoint, or this replica's public URL on the local store), which the
// console's player loads job media from. It signs a URL to see, so it
// matches whatever style (path or virtual host) the store uses.
func presignOrigin(ctx context.Context, b blobStore) (string, error) {
	p, err := b.PresignGet(ctx, "probe/origin", time.Minute)
	if err != nil {
		return "", fmt.Errorf("presign probe: %w", err)
	}
	u, err := url.Parse(p.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("presigned URL %q has no origin", p.URL)
	}
	return u.Scheme + "://" + u.Host, nil
}

type blobStore interface {
	httpapi.Blobs
	Ping(context.Context) error
}

func (s *Server) openBlobs(ctx context.Context) (blobStore, http.Handler, error) {
	if s.cfg.S3.Endpoint != "" {
		b, err := blob.NewS3(ctx, blob.S3Config{Endpoint: s.cfg.S3.Endpoint, Bucket: s.cfg.S3.Bucket,
			AccessKey: s.cfg.S3.AccessKey, SecretKey: s.cfg.S3.SecretKey, Region: s.cfg.S3.Region}, s.log)
		if err != nil {
			return nil, nil, fmt.Errorf("open S3 store: %w", err)
		}
		return blob.NewBreaker(b, 5, 10*time.Second, 10*time.Second, s.log), nil, nil
	}
	secret, err := loadOrCreateSecret(filepath.Join(s.cfg.DataDir, "blob-signing.key"))
	if err != nil {
		return nil, nil, err
	}
	l, err := blob.NewLocal(filepath.Join(s.cfg.DataDir, "blobs"), secret, s.url, time.Now, blob.WithLogger(s.log),
		blob.WithMaxBodySize(max(s.cfg.MaxUploadBytes, 2<<30, cmp.Or(s.cfg.MaxArtifactBytes, httpapi.MaxArtifactSize))))
	if err != nil {
		return nil, nil, fmt.Errorf("open local blob store: %w", err)
	}
	s.closers = append(s.closers, l.Close)
	return l, l.Handler(), nil
}

// loadOrCreateSecret keeps the local blob signing key across restarts, so
// presigned URLs handed out before a restart stay valid.
func loadOrCreateSecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return b, nil
}

// OpenStore opens (and migrates) the store named by a database URL:
// postgres:// or postgresql:// for PostgreSQL, anything else is a SQLite path.
func OpenStore(ctx context.Context, dsn string, log *slog.Logger) (store.Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		pg, err := postgres.Open(ctx, dsn, log)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		if err := pg.Migrate(ctx); err != nil {
			pg.Close()
			return nil, fmt.Errorf("migrate postgres: %w", err)
		}
		return pg, nil
	}
	path := strings.TrimPrefix(dsn, "sqlite://")
	if dir := filepath.Dir(strings.TrimPrefix(path, "file:")); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database dir: %w", err)
		}
	}
	sq, err := sqlite.Open(ctx, dsn, log)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	if err := sq.Migrate(ctx); err != nil {
		sq.Close()
		return nil, fmt.Errorf("migrate sqlite: %w", err)
	}
	return sq, nil
}

// bootstrapAdmin makes sure an admin key exists: the configured one, or a
// generated one on first start (kept in AdminKey for the caller to print once).
func (s *Server) bootstrapAdmin(ctx context.Context) error {
	if s.cfg.AdminKey != "" {
		cred, ok := auth.ParseKey(s.cfg.AdminKey)
		if !ok {
			return errors.New("admin key must be 8 to 256 characters")
		}
		if _, err := s.store.GetAPIKey(ctx, cred.ID); err == nil {
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("look up admin key: %w", err)
		}
		return s.store.CreateAPIKey(ctx, store.APIKey{ID: cred.ID, Tenant: "default", Role: store.RoleAdmin,
			Name: "configured admin key", Hash: cred.Hash(), CreatedAt: time.Now()})
	}
	keys, err := s.store.ListAPIKeys(ctx, "")
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	for _, k := range keys {
		if k.Role == store.RoleAdmin && k.RevokedAt == nil {
			return nil
		}
	}
	cred := auth.New(auth.PrefixKey)
	if err := s.store.CreateAPIKey(ctx, store.APIKey{ID: cred.ID, Tenant: "default", Role: store.RoleAdmin,
		Name: "bootstrap admin key", Hash: cred.Hash(), CreatedAt: time.Now()}); err != nil {
		return fmt.Errorf("create admin key: %w", err)
	}
	s.adminKey = cred.Token()
	return nil
}

// URL is the base URL of this replica.
func (s *Server) URL() string { return s.url }

// GeneratedAdminKey is the admin key created at this start, if one was.
func (s *Server) GeneratedAdminKey() string { return s.adminKey }

// Store exposes the store to in-process tooling: the integration tests check
// which backend a configuration opened.
func (s *Server) Store() store.Store { return s.store }

// Run serves until ctx ends, then shuts down gracefully: long-polls are
// released, in-flight requests finish (up to ShutdownTimeout), the sweeper
// hands over leadership, and connections are closed.
func (s *Server) Run(ctx context.Context) error {
	app := s.api.App()
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	if s.bus != nil {
		wg.Go(func() { s.bus.Run(bg) })
	}
	wg.Go(func() { s.sweeper.Run(bg) })
	wg.Go(func() { s.keys.Run(bg) })
	wg.Go(func() { s.agents.Run(bg) })
	wg.Go(func() { s.surface.sender.Run(bg) })
	if s.debugLn != nil {
		wg.Go(func() { s.serveDebug(bg, s.debugLn) })
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- app.Listener(s.ln) }()
	s.log.Info("control plane serving", "url", s.url, "replica", s.cfg.ReplicaName)
	s.startHashicorp(bg, &wg)

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("serve: %w", err)
	}
	s.log.Info("control plane shutting down")
	s.stopHashicorp()
	s.disp.Close()
	if shutErr := app.ShutdownWithTimeout(s.cfg.ShutdownTimeout); shutErr != nil && err == nil {
		err = fmt.Errorf("shutdown: %w", shutErr)
	}
	stopBG()
	wg.Wait()
	s.close()
	return err
}

func (s *Server) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil && !errors.Is(err, io.EOF) {
			s.log.Debug("close", "err", err)
		}
	}
	s.closers = nil
	if s.ln != nil {
		_ = s.ln.Close()
	}
	if s.debugLn != nil {
		_ = s.debugLn.Close()
	}
}

// Run is New followed by Run.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	s, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	if k := s.GeneratedAdminKey(); k != "" {
		fmt.Fprintf(os.Stderr, "\nAdmin API key (shown once, keep it): %s\n\n", k)
	}
	return s.Run(ctx)
}
