package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ytcaption/ytcaption/control-plane/internal/backup"
)

// stateFlags binds the database and blob store settings a backup reads or
// a restore writes, with the server's flag names and environment.
func stateFlags(cmd *cobra.Command, io IO, cfg *backup.Config, dataDir *string) {
	f := cmd.Flags()
	f.StringVar(dataDir, "data", env(io, "DATA_DIR", "data"), "the server's data directory: SQLite default and local blobs (YTCAPTION_DATA_DIR)")
	f.StringVar(&cfg.DatabaseURL, "database-url", env(io, "DATABASE_URL", ""), "postgres:// URL or SQLite path; default <data>/ytcaption.db (YTCAPTION_DATABASE_URL)")
	f.StringVar(&cfg.S3.Endpoint, "s3-endpoint", env(io, "S3_ENDPOINT", ""), "S3/MinIO endpoint URL; empty: the blobs under <data>/blobs (YTCAPTION_S3_ENDPOINT)")
	f.StringVar(&cfg.S3.Bucket, "s3-bucket", env(io, "S3_BUCKET", "ytcaption"), "bucket (YTCAPTION_S3_BUCKET)")
	f.StringVar(&cfg.S3.AccessKey, "s3-access-key", env(io, "S3_ACCESS_KEY", ""), "S3 access key (YTCAPTION_S3_ACCESS_KEY)")
	f.StringVar(&cfg.S3.SecretKey, "s3-secret-key", env(io, "S3_SECRET_KEY", ""), "S3 secret key (YTCAPTION_S3_SECRET_KEY)")
	f.StringVar(&cfg.S3.Region, "s3-region", env(io, "S3_REGION", ""), "S3 region (YTCAPTION_S3_REGION)")
	f.IntVar(&cfg.Parallel, "parallel", backup.DefaultParallel, "objects copied at once")
	f.StringVar(&cfg.PGBin, "pg-bin", env(io, "PG_BIN", ""), "directory of pg_dump and pg_restore; default PATH, then /usr/lib/postgresql/<server major>/bin (YTCAPTION_PG_BIN)")
}

// withDefaults fills what the server would derive from its data directory.
func withDefaults(cfg backup.Config, dataDir string) backup.Config {
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = filepath.Join(dataDir, "ytcaption.db")
	}
	if cfg.S3.Endpoint == "" {
		cfg.BlobDir = filepath.Join(dataDir, "blobs")
	}
	return cfg
}

func backupCmd(io IO) *cobra.Command {
	var cfg backup.Config
	var dataDir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "backup DIR",
		Short: "Back up the database (a consistent snapshot) and then every blob into DIR, with a manifest of checksums",
		Long: `Back up the control plane while it runs: a consistent database snapshot
(pg_dump's custom format, or SQLite's VACUUM INTO) first, then every object of
the blob store, streamed, with its content type and metadata. DIR must be
missing or empty; manifest.json is written last. The backup holds API key
hashes, webhook signing secrets and agent enrollment tokens: keep it
encrypted and access-controlled like the database itself.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			m, err := backup.Backup(cmd.Context(), withDefaults(cfg, dataDir), args[0], newLogger(io, cfg.S3.SecretKey))
			if err != nil {
				return err
			}
			warnMissing(cmd, m)
			if asJSON {
				return printJSON(cmd.OutOrStdout(), m)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backed up %s database (schema %d, %d bytes) and %d objects (%d bytes) to %s in %s\n",
				m.Database.Backend, m.Database.SchemaVersion, m.Database.Size, m.Objects.Count, m.Objects.Bytes, args[0],
				time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	stateFlags(cmd, io, &cfg, &dataDir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the manifest as JSON")

	verify := &cobra.Command{
		Use:   "verify DIR",
		Short: "Check a backup against its manifest: the database snapshot and every object's checksum",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := backup.Verify(cmd.Context(), args[0], backup.DefaultParallel)
			if err != nil {
				return err
			}
			warnMissing(cmd, m)
			if asJSON {
				return printJSON(cmd.OutOrStdout(), m)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %s database (schema %d) and %d objects (%d bytes), taken %s by ytcaption %s\n",
				m.Database.Backend, m.Database.SchemaVersion, m.Objects.Count, m.Objects.Bytes,
				m.CreatedAt.Format(time.RFC3339), m.Version)
			return nil
		},
	}
	verify.Flags().BoolVar(&asJSON, "json", false, "print the manifest as JSON")
	cmd.AddCommand(verify)
	return cmd
}

func restoreCmd(io IO) *cobra.Command {
	var cfg backup.Config
	var dataDir string
	var opts backup.RestoreOptions
	cmd := &cobra.Command{
		Use:   "restore DIR",
		Short: "Restore a backup into an empty database and blob store (stop the servers first)",
		Long: `Restore the backup in DIR into the configured database and blob store.
The manifest, the snapshot's checksum and the schema level are checked, and
both targets must be empty (--force replaces the database and overwrites
objects), before anything is written. A PostgreSQL target database must
exist (createdb); a missing bucket or data directory is created. Start the
servers afterwards: they apply any newer migrations as usual.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			m, err := backup.Restore(cmd.Context(), withDefaults(cfg, dataDir), args[0], opts, newLogger(io, cfg.S3.SecretKey))
			if err != nil {
				return err
			}
			warnMissing(cmd, m)
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s database (schema %d) and %d objects (%d bytes) from %s in %s\n",
				m.Database.Backend, m.Database.SchemaVersion, m.Objects.Count, m.Objects.Bytes, args[0],
				time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	stateFlags(cmd, io, &cfg, &dataDir)
	cmd.Flags().BoolVar(&opts.Force, "force", false, "restore into a database or blob store that holds data, replacing it")
	return cmd
}

// warnMissing tells, on stderr, of objects the database refers to that the
// backup lacks: jobs whose captions or uploads will be missing after a
// restore.
func warnMissing(cmd *cobra.Command, m backup.Manifest) {
	if m.Objects.MissingCount == 0 {
		return
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "warning: %d of the %d objects the database refers to were missing from the blob store at backup time, e.g. %s\n",
		m.Objects.MissingCount, m.Objects.Referenced, strings.Join(m.Objects.Missing[:min(3, len(m.Objects.Missing))], ", "))
}
