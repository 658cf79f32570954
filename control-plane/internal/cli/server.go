package cli

import (
	"fmt"

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
	f.DurationVar(&cfg.LeaseDuration, "lease-duration", envDuration(io, "LEASE_DURATION", 0), "task lease duration, extended by heartbeats (YTCAPTION_LEASE_DURATION)")
	f.DurationVar(&cfg.MaxDuration, "max-media-duration", envDuration(io, "MAX_MEDIA_DURATION", 0), "longest media accepted (YTCAPTION_MAX_MEDIA_DURATION)")
	f.Int64Var(&cfg.MaxUploadBytes, "max-upload-bytes", 0, "largest upload accepted")
}

func serverCmd(io IO) *cobra.Command {
	var cfg server.Config
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a control-plane replica",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return server.Run(cmd.Context(), cfg, newLogger(io))
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
