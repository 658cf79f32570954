package discovery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	vault "github.com/hashicorp/vault/api"
)

// VaultConfig says where an agent's secrets are and how to log in: AppRole
// if RoleID is set, else a Nomad workload identity (JWTFile), else Token.
type VaultConfig struct {
	Addr         string
	Namespace    string
	KV           string // "<kv v2 mount>/<path>"; default secret/ytcaption-agent
	Token        string
	RoleID       string
	SecretID     string
	AppRoleMount string // default approle
	JWTFile      string // e.g. ${NOMAD_SECRETS_DIR}/nomad_vault_default.jwt
	JWTRole      string
	JWTMount     string // default jwt-nomad
	HTTPClient   *http.Client
}

// VaultSecret logs in and reads one key of a KV v2 secret (the agent reads
// "enrollment_token" once, at start). The value is returned, never logged.
func VaultSecret(ctx context.Context, cfg VaultConfig, key string) (string, error) {
	if cfg.KV == "" {
		cfg.KV = "secret/ytcaption-agent"
	}
	mount, path, ok := strings.Cut(strings.Trim(cfg.KV, "/"), "/")
	if !ok || mount == "" || path == "" {
		return "", fmt.Errorf("vault kv path %q: want <mount>/<path>", cfg.KV)
	}
	vcfg := vault.DefaultConfig()
	vcfg.Address = cfg.Addr
	if cfg.HTTPClient != nil {
		vcfg.HttpClient = cfg.HTTPClient
	}
	vc, err := vault.NewClient(vcfg)
	if err != nil {
		return "", fmt.Errorf("vault client: %w", err)
	}
	vc.ClearToken()
	if cfg.Namespace != "" {
		vc.SetNamespace(cfg.Namespace)
	}
	var login *vault.Secret
	switch {
	case cfg.RoleID != "":
		login, err = vc.Logical().WriteWithContext(ctx, "auth/"+or(cfg.AppRoleMount, "approle")+"/login",
			map[string]any{"role_id": cfg.RoleID, "secret_id": cfg.SecretID})
	case cfg.JWTFile != "":
		b, rerr := os.ReadFile(cfg.JWTFile)
		if rerr != nil {
			return "", fmt.Errorf("read workload identity: %w", rerr)
		}
		login, err = vc.Logical().WriteWithContext(ctx, "auth/"+or(cfg.JWTMount, "jwt-nomad")+"/login",
			map[string]any{"role": cfg.JWTRole, "jwt": strings.TrimSpace(string(b))})
	case cfg.Token != "":
		vc.SetToken(cfg.Token)
	default:
		return "", errors.New("no vault credential: set VAULT_TOKEN, an AppRole, or a workload identity")
	}
	if err != nil {
		return "", fmt.Errorf("vault login: %w", err)
	}
	if login != nil {
		if login.Auth == nil || login.Auth.ClientToken == "" {
			return "", errors.New("vault login: no token in the reply")
		}
		vc.SetToken(login.Auth.ClientToken)
	}
	s, err := vc.KVv2(mount).Get(ctx, path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", cfg.KV, err)
	}
	v, _ := s.Data[key].(string)
	if v == "" {
		return "", fmt.Errorf("vault secret %s has no %q", cfg.KV, key)
	}
	return v, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
