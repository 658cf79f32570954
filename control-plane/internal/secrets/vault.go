// Package secrets reads the control plane's (and an agent's) secrets from a
// Vault KV v2 path. It logs in with a token, AppRole or a Nomad workload
// identity (JWT auth), keeps the token alive with Vault's LifetimeWatcher,
// logs in again when renewal ends, and notices when the secret is rotated.
// Secret values are held in memory only: never written to disk or logged.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// DefaultKV is where the control plane's secrets live unless configured.
const DefaultKV = "secret/ytcaption"

// Config says where Vault is and how to authenticate. The first method that
// is configured wins: AppRole, then JWT (workload identity), then Token.
type Config struct {
	Addr      string
	Namespace string
	// KV is "<kv v2 mount>/<path>", e.g. "secret/ytcaption".
	KV string

	Token string // a Vault token (VAULT_TOKEN)

	RoleID       string // AppRole
	SecretID     string
	AppRoleMount string // default "approle"

	// JWT is a workload identity token; JWTFile is read at each login so a
	// token Nomad rotates on disk is picked up.
	JWT      string
	JWTFile  string
	JWTRole  string
	JWTMount string // default "jwt-nomad"

	HTTPClient *http.Client
}

// Values are the key/value pairs of one version of the secret.
type Values map[string]string

// Client is an authenticated Vault client bound to one KV v2 secret.
type Client struct {
	cfg   Config
	vc    *vault.Client
	log   *slog.Logger
	mount string
	path  string

	mu     sync.Mutex
	auth   *vault.Secret // last login or token lookup; drives renewal
	method string
}

// SplitKV splits "mount/path/to/secret" into its mount and path.
func SplitKV(kv string) (mount, path string, err error) {
	kv = strings.Trim(kv, "/")
	mount, path, ok := strings.Cut(kv, "/")
	if !ok || mount == "" || path == "" {
		return "", "", fmt.Errorf("vault kv path %q: want <mount>/<path>", kv)
	}
	return mount, path, nil
}

// New builds a client and logs in.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Client, error) {
	if cfg.Addr == "" {
		return nil, errors.New("vault address is empty")
	}
	if cfg.KV == "" {
		cfg.KV = DefaultKV
	}
	if cfg.AppRoleMount == "" {
		cfg.AppRoleMount = "approle"
	}
	if cfg.JWTMount == "" {
		cfg.JWTMount = "jwt-nomad"
	}
	mount, path, err := SplitKV(cfg.KV)
	if err != nil {
		return nil, err
	}
	vcfg := vault.DefaultConfig()
	if vcfg.Error != nil {
		return nil, fmt.Errorf("vault config: %w", vcfg.Error)
	}
	vcfg.Address = cfg.Addr
	if cfg.HTTPClient != nil {
		vcfg.HttpClient = cfg.HTTPClient
	}
	vc, err := vault.NewClient(vcfg)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	// NewClient picks VAULT_TOKEN up from the environment; only the
	// configured credential is used.
	vc.ClearToken()
	if cfg.Namespace != "" {
		vc.SetNamespace(cfg.Namespace)
	}
	c := &Client{cfg: cfg, vc: vc, log: log, mount: mount, path: path}
	if err := c.login(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Method is the auth method in use: "approle", "jwt" or "token".
func (c *Client) Method() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.method
}

// login authenticates with the configured method and keeps the resulting
// auth secret for renewal.
func (c *Client) login(ctx context.Context) error {
	var (
		sec    *vault.Secret
		method string
		err    error
	)
	switch {
	case c.cfg.RoleID != "":
		method = "approle"
		sec, err = c.vc.Logical().WriteWithContext(ctx, "auth/"+c.cfg.AppRoleMount+"/login",
			map[string]any{"role_id": c.cfg.RoleID, "secret_id": c.cfg.SecretID})
	case c.cfg.JWT != "" || c.cfg.JWTFile != "":
		method = "jwt"
		jwt := c.cfg.JWT
		if c.cfg.JWTFile != "" {
			b, rerr := os.ReadFile(c.cfg.JWTFile)
			if rerr != nil {
				return fmt.Errorf("read workload identity: %w", rerr)
			}
			jwt = strings.TrimSpace(string(b))
		}
		sec, err = c.vc.Logical().WriteWithContext(ctx, "auth/"+c.cfg.JWTMount+"/login",
			map[string]any{"role": c.cfg.JWTRole, "jwt": jwt})
	case c.cfg.Token != "":
		method = "token"
		c.vc.SetToken(c.cfg.Token)
		sec, err = c.vc.Auth().Token().LookupSelfWithContext(ctx)
		if err == nil {
			sec, err = tokenAuth(c.cfg.Token, sec)
		}
	default:
		return errors.New("no vault credential: set VAULT_TOKEN, an AppRole, or a workload identity")
	}
	if err != nil {
		return fmt.Errorf("vault %s login: %w", method, err)
	}
	if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
		return fmt.Errorf("vault %s login: no token in the reply", method)
	}
	c.vc.SetToken(sec.Auth.ClientToken)
	c.mu.Lock()
	c.auth, c.method = sec, method
	c.mu.Unlock()
	c.log.Info("logged in to vault", "method", method, "ttl", time.Duration(sec.Auth.LeaseDuration)*time.Second,
		"renewable", sec.Auth.Renewable)
	return nil
}

// tokenAuth turns a token lookup into the auth secret the LifetimeWatcher
// renews (renew-self).
func tokenAuth(token string, lookup *vault.Secret) (*vault.Secret, error) {
	if lookup == nil {
		return nil, errors.New("empty token lookup")
	}
	ttl, err := lookup.TokenTTL()
	if err != nil {
		return nil, fmt.Errorf("token ttl: %w", err)
	}
	renewable, err := lookup.TokenIsRenewable()
	if err != nil {
		return nil, fmt.Errorf("token renewable: %w", err)
	}
	return &vault.Secret{Auth: &vault.SecretAuth{ClientToken: token, Renewable: renewable,
		LeaseDuration: int(ttl / time.Second)}}, nil
}

// Read returns the latest version of the secret and its version number.
func (c *Client) Read(ctx context.Context) (Values, int, error) {
	s, err := c.vc.KVv2(c.mount).Get(ctx, c.path)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s/%s: %w", c.mount, c.path, err)
	}
	out := make(Values, len(s.Data))
	for k, v := range s.Data {
		switch t := v.(type) {
		case string:
			out[k] = t
		case nil:
		default:
			out[k] = fmt.Sprint(t)
		}
	}
	version := 0
	if s.VersionMetadata != nil {
		version = s.VersionMetadata.Version
	}
	return out, version, nil
}

// KeepAlive renews the token until ctx ends; when renewal stops (max TTL
// reached, token revoked) it logs in again, with backoff while Vault is away.
// A static token that cannot be renewed is left alone.
func (c *Client) KeepAlive(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		c.mu.Lock()
		sec, method := c.auth, c.method
		c.mu.Unlock()
		if method == "token" && (sec == nil || !sec.Auth.Renewable) {
			c.log.Debug("vault token is not renewable; not renewing")
			return
		}
		err := c.watch(ctx, sec)
		if ctx.Err() != nil {
			return
		}
		c.log.Info("vault token renewal ended; logging in again", "reason", errString(err))
		if method == "token" {
			c.log.Warn("static vault token can no longer be renewed; supply a new one or use AppRole")
			return
		}
		if err := c.login(ctx); err != nil {
			c.log.Warn("vault login failed", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Minute)
			continue
		}
		backoff = time.Second
	}
}

// watch runs one LifetimeWatcher over sec until it is done.
func (c *Client) watch(ctx context.Context, sec *vault.Secret) error {
	if sec == nil || !sec.Auth.Renewable {
		// Nothing to renew: sleep until the token is about to expire.
		ttl := time.Duration(0)
		if sec != nil {
			ttl = time.Duration(sec.Auth.LeaseDuration) * time.Second
		}
		wait := max(ttl*4/5, 5*time.Second)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		return errors.New("token not renewable")
	}
	w, err := c.vc.NewLifetimeWatcher(&vault.LifetimeWatcherInput{Secret: sec})
	if err != nil {
		return fmt.Errorf("lifetime watcher: %w", err)
	}
	go w.Start()
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-w.DoneCh():
			return err
		case r := <-w.RenewCh():
			ttl := 0
			if r.Secret != nil && r.Secret.Auth != nil {
				ttl = r.Secret.Auth.LeaseDuration
			}
			c.log.Debug("vault token renewed", "ttl", time.Duration(ttl)*time.Second)
			// A renewal granting less than the login did means the max TTL
			// is near: a method that can log in does so now, before the
			// token lapses, instead of waiting for the watcher to give up.
			if ttl < sec.Auth.LeaseDuration && c.Method() != "token" {
				return errors.New("token nearing its max TTL")
			}
		}
	}
}

// Watch polls the secret every interval and calls onChange with each new
// version (not the one already seen at start, given as since).
func (c *Client) Watch(ctx context.Context, interval time.Duration, since int, onChange func(Values, int)) {
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		vals, version, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("vault secret poll failed", "err", err)
			}
			continue
		}
		if version != since {
			c.log.Info("vault secret rotated", "path", c.mount+"/"+c.path, "version", version)
			since = version
			onChange(vals, version)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "renewal period over"
	}
	return err.Error()
}
