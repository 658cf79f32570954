package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func devCmd(io IO) *cobra.Command {
	var cfg embeddedConfig
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the control plane and in-process agents on embedded defaults (SQLite, local disk, no Redis)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			e, err := startEmbedded(ctx, cfg, newLogger(io, cfg.AdminKey))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nytcaption dev is running with %d agent(s); data in %s\n", cfg.Agents, cfg.DataDir)
			fmt.Fprintf(cmd.OutOrStdout(), "  API:       %s\n", e.url)
			fmt.Fprintf(cmd.OutOrStdout(), "  console:   %s/console/\n", e.url)
			fmt.Fprintf(cmd.OutOrStdout(), "  admin key: %s\n\n", e.adminKey)
			fmt.Fprintf(cmd.OutOrStdout(), "  export YTCAPTION_SERVER=%s YTCAPTION_API_KEY=%s\n", e.url, e.adminKey)
			fmt.Fprintf(cmd.OutOrStdout(), "  bin/ytcaption caption <url-or-file> --format srt\n\n")
			<-ctx.Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "stopping (finishing running tasks)...")
			return e.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "listen address")
	f.StringVar(&cfg.DataDir, "data", "./data", "data directory (SQLite database, blobs, dev admin key)")
	f.IntVar(&cfg.Agents, "agents", 2, "in-process agents")
	f.StringVar(&cfg.AdminKey, "api-key", "", "admin API key to use (default: one generated once and kept in the data directory)")
	f.StringVar(&cfg.Engine, "engine", "", "engine for the in-process agents (default: the best available)")
	return cmd
}
