package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/spf13/cobra"

	"github.com/ytcaption/ytcaption/control-plane/server"
)

// serverFlags binds the server configuration to flags whose defaults come
// from the YTCAPTION_* environment.
func serverFlags(cmd *cobra.Command, io IO, cfg *server.Config) {
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", env(io, "LISTEN", "127.0.0.1:8080"), "listen address (YTCAPTION_LISTEN)")
	f.StringVar(&cfg.PublicURL, "public-url", env(io, "PUBLIC_URL", ""), "base URL agents and clients use to reach this server (YTCAPTION_PUBLIC_URL)")
	f.StringVar(&cfg.DataDir, "data", env(io, "DATA_DIR", "data"), "directory for embedded defaults (YTCAPTION_DATA_DIR)")
	f.StringVar(&cfg.DatabaseURL, "database-url", env(io, "DATABASE_URL", ""), "postgres:// URL or SQLite path; default <data>/ytcaption.db (YTCAPTION_DATABASE_URL)")
	f.StringVar(&cfg.RedisURL, "redis-url", env(io, "REDIS_URL", ""), "redis:// URL for cross-replica wake-ups (YTCAPTION_REDIS_URL)")
	f.StringVar(&cfg.RedisPrefix, "redis-prefix", env(io, "REDIS_PREFIX", "ytcaption:"), "Redis key and channel prefix (YTCAPTION_REDIS_PREFIX)")
	f.StringVar(&cfg.S3.Endpoint, "s3-endpoint", env(io, "S3_ENDPOINT", ""), "S3/MinIO endpoint URL; empty stores artifacts on local disk (YTCAPTION_S3_ENDPOINT)")
	f.StringVar(&cfg.S3.Bucket, "s3-bucket", env(io, "S3_BUCKET", "ytcaption"), "bucket, created when missing (YTCAPTION_S3_BUCKET)")
	f.StringVar(&cfg.S3.AccessKey, "s3-access-key", env(io, "S3_ACCESS_KEY", ""), "S3 access key (YTCAPTION_S3_ACCESS_KEY)")
	f.StringVar(&cfg.S3.SecretKey, "s3-secret-key", env(io, "S3_SECRET_KEY", ""), "S3 secret key (YTCAPTION_S3_SECRET_KEY)")
	f.StringVar(&cfg.S3.Region, "s3-region", env(io, "S3_REGION", ""), "S3 region (YTCAPTION_S3_REGION)")
	f.StringVar(&cfg.AdminKey, "api-key", env(io, "ADMIN_KEY", ""), "an admin API key to accept, of tenant \"default\" (YTCAPTION_ADMIN_KEY)")
	f.BoolVar(&cfg.AllowPrivateSources, "allow-private-sources", envBool(io, "ALLOW_PRIVATE_SOURCES", false), "accept loopback and private source URLs (YTCAPTION_ALLOW_PRIVATE_SOURCES)")
	f.StringSliceVar(&cfg.SourceAllowList, "source-allow", splitList(env(io, "SOURCE_ALLOWLIST", "")),
		"non-public sources to accept anyway: CIDR, address or address:port, comma-separated (YTCAPTION_SOURCE_ALLOWLIST)")
	f.StringVar(&cfg.SessionKeys, "session-keys", env(io, "SESSION_KEYS", ""), "comma-separated console session signing keys; the first signs, all verify (YTCAPTION_SESSION_KEYS)")
	f.IntVar(&cfg.KeyRate, "rate-per-key", envInt(io, "RATE_PER_KEY", 0), "requests a second per API key, in Redis (0: no limit) (YTCAPTION_RATE_PER_KEY)")
	f.IntVar(&cfg.TenantRate, "rate-per-tenant", envInt(io, "RATE_PER_TENANT", 0), "requests a second per tenant (YTCAPTION_RATE_PER_TENANT)")
	f.IntVar(&cfg.MaxUnfinished, "max-unfinished-per-tenant", envInt(io, "MAX_UNFINISHED_PER_TENANT", 0), "queued+running jobs a tenant may have (0: no cap) (YTCAPTION_MAX_UNFINISHED_PER_TENANT)")
	f.DurationVar(&cfg.LeaseDuration, "lease-duration", envDuration(io, "LEASE_DURATION", 0), "task lease duration, extended by heartbeats (YTCAPTION_LEASE_DURATION)")
	f.DurationVar(&cfg.MaxDuration, "max-media-duration", envDuration(io, "MAX_MEDIA_DURATION", 0), "longest media accepted (YTCAPTION_MAX_MEDIA_DURATION)")
	f.Int64Var(&cfg.MaxUploadBytes, "max-upload-bytes", 0, "largest upload accepted")
	f.Int64Var(&cfg.MaxArtifactBytes, "max-artifact-bytes", int64(envInt(io, "MAX_ARTIFACT_BYTES", 0)),
		"largest model or tool `ytcaption artifacts push` accepts; default 5 GiB (YTCAPTION_MAX_ARTIFACT_BYTES)")
	f.StringVar(&cfg.Surface.OTLPEndpoint, "otlp-endpoint", env(io, "OTLP_ENDPOINT", io.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")),
		"export traces by OTLP/HTTP to this URL, e.g. http://otel-collector:4318 (YTCAPTION_OTLP_ENDPOINT)")
	f.StringVar(&cfg.TLS.CertFile, "tls-cert", env(io, "TLS_CERT", ""), "PEM certificate (chain) to serve HTTPS with (YTCAPTION_TLS_CERT)")
	f.StringVar(&cfg.TLS.KeyFile, "tls-key", env(io, "TLS_KEY", ""), "PEM private key of --tls-cert (YTCAPTION_TLS_KEY)")
	f.StringVar(&cfg.TLS.ClientCAFile, "tls-client-ca", env(io, "TLS_CLIENT_CA", ""),
		"PEM CA that signs agent client certificates; the agent protocol then requires one (YTCAPTION_TLS_CLIENT_CA)")
	f.DurationVar(&cfg.AgentTokenTTL, "agent-token-ttl", envDuration(io, "AGENT_TOKEN_TTL", 0), "lifetime of agent tokens, renewed by agents at half of it; default 24h (YTCAPTION_AGENT_TOKEN_TTL)")
	f.DurationVar(&cfg.FleetSampleInterval, "fleet-sample-interval", envDuration(io, "FLEET_SAMPLE_INTERVAL", 0), "how often the fleet's busy and total slots are sampled for statistics; default 10s (YTCAPTION_FLEET_SAMPLE_INTERVAL)")
	f.StringVar(&cfg.DebugListen, "debug-listen", env(io, "DEBUG_LISTEN", ""), "serve Go profiling endpoints (/debug/pprof/) on this loopback or private address; off when empty (YTCAPTION_DEBUG_LISTEN)")
	hashicorpFlags(cmd, io, cfg)
}

// hashicorpFlags binds the Consul, Vault and Nomad integrations; each is
// off while its address is empty. Tokens are read from the environment
// only, so they never show in a process listing.
func hashicorpFlags(cmd *cobra.Command, io IO, cfg *server.Config) {
	f := cmd.Flags()
	f.StringVar(&cfg.Consul.Addr, "consul-addr", env(io, "CONSUL_ADDR", ""), "Consul agent address; registers this replica as service \"ytcaption\" (YTCAPTION_CONSUL_ADDR)")
	cfg.Consul.Token = env(io, "CONSUL_TOKEN", io.Getenv("CONSUL_HTTP_TOKEN"))
	f.StringVar(&cfg.Consul.ServiceAddr, "consul-service-addr", env(io, "CONSUL_SERVICE_ADDR", ""), "address to register in Consul; default the listen host (YTCAPTION_CONSUL_SERVICE_ADDR)")
	f.StringVar(&cfg.Vault.Addr, "vault-addr", env(io, "VAULT_ADDR", ""), "Vault address; secrets are read from KV v2 (YTCAPTION_VAULT_ADDR)")
	f.StringVar(&cfg.Vault.KV, "vault-kv", env(io, "VAULT_KV", "secret/ytcaption"), "KV v2 <mount>/<path> of the secrets (YTCAPTION_VAULT_KV)")
	f.StringVar(&cfg.Vault.Namespace, "vault-namespace", env(io, "VAULT_NAMESPACE", ""), "Vault namespace (YTCAPTION_VAULT_NAMESPACE)")
	cfg.Vault.Token = io.Getenv("VAULT_TOKEN")
	cfg.Vault.RoleID = env(io, "VAULT_ROLE_ID", "")
	cfg.Vault.SecretID = env(io, "VAULT_SECRET_ID", "")
	f.StringVar(&cfg.Vault.AppRoleMount, "vault-approle-mount", env(io, "VAULT_APPROLE_MOUNT", "approle"), "AppRole auth mount (YTCAPTION_VAULT_APPROLE_MOUNT)")
	f.StringVar(&cfg.Vault.JWTFile, "vault-jwt-file", env(io, "VAULT_JWT_FILE", ""), "Nomad workload identity file for JWT login (YTCAPTION_VAULT_JWT_FILE)")
	f.StringVar(&cfg.Vault.JWTRole, "vault-jwt-role", env(io, "VAULT_JWT_ROLE", "ytcaption-control-plane"), "JWT auth role (YTCAPTION_VAULT_JWT_ROLE)")
	f.StringVar(&cfg.Vault.JWTMount, "vault-jwt-mount", env(io, "VAULT_JWT_MOUNT", "jwt-nomad"), "JWT auth mount (YTCAPTION_VAULT_JWT_MOUNT)")
	f.DurationVar(&cfg.Vault.RefreshInterval, "vault-refresh", envDuration(io, "VAULT_REFRESH", 0), "how often to check the secret for a new version; default 1m (YTCAPTION_VAULT_REFRESH)")
	f.StringVar(&cfg.Nomad.Addr, "nomad-addr", env(io, "NOMAD_ADDR", ""), "Nomad address; enables /v1/fleet and the autoscaler (YTCAPTION_NOMAD_ADDR)")
	cfg.Nomad.Token = env(io, "NOMAD_TOKEN", io.Getenv("NOMAD_TOKEN")) // NOMAD_TOKEN: a Nomad task's workload identity
	f.StringVar(&cfg.Nomad.Region, "nomad-region", env(io, "NOMAD_REGION", ""), "Nomad region (YTCAPTION_NOMAD_REGION)")
	f.StringVar(&cfg.Nomad.Namespace, "nomad-namespace", env(io, "NOMAD_NAMESPACE", ""), "Nomad namespace of the agent jobs (YTCAPTION_NOMAD_NAMESPACE)")
	f.StringVar(&cfg.Nomad.AgentJob, "autoscale-job", env(io, "AUTOSCALE_JOB", "ytcaption-agent-cpu"), "Nomad job whose group the autoscaler sizes (YTCAPTION_AUTOSCALE_JOB)")
	f.StringVar(&cfg.Nomad.AgentGroup, "autoscale-group", env(io, "AUTOSCALE_GROUP", "agent"), "task group the autoscaler sizes (YTCAPTION_AUTOSCALE_GROUP)")
	f.IntVar(&cfg.Nomad.ScaleMin, "autoscale-min", envInt(io, "AUTOSCALE_MIN", 1), "fewest agents (YTCAPTION_AUTOSCALE_MIN)")
	f.IntVar(&cfg.Nomad.ScaleMax, "autoscale-max", envInt(io, "AUTOSCALE_MAX", 0), "most agents; 0 turns the autoscaler off (YTCAPTION_AUTOSCALE_MAX)")
	f.DurationVar(&cfg.Nomad.ScaleInterval, "autoscale-interval", envDuration(io, "AUTOSCALE_INTERVAL", 0), "autoscaler evaluation period; default 15s (YTCAPTION_AUTOSCALE_INTERVAL)")
}

func envInt(io IO, name string, def int) int {
	if n, err := strconv.Atoi(env(io, name, "")); err == nil {
		return n
	}
	return def
}

func serverCmd(io IO) *cobra.Command {
	var cfg server.Config
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a control-plane replica",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(io, cfg.AdminKey, cfg.S3.SecretKey)
			tuneGC(io, memlimit.FromCgroup, log)
			return server.Run(cmd.Context(), cfg, log)
		},
	}
	serverFlags(cmd, io, &cfg)
	return cmd
}

func migrateCmd(io IO) *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := server.OpenStore(cmd.Context(), dsn, newLogger(io))
			if err != nil {
				return err
			}
			defer st.Close()
			fmt.Fprintln(cmd.OutOrStdout(), "migrations applied")
			return nil
		},
	}
	cmd.Flags().StringVar(&dsn, "database-url", env(io, "DATABASE_URL", "data/ytcaption.db"), "postgres:// URL or SQLite path (YTCAPTION_DATABASE_URL)")
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
