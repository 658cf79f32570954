package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

func tenantsCmd(io IO) *cobra.Command {
	cmd := &cobra.Command{Use: "tenants", Short: "List tenants and set their shares"}
	clientFlags(cmd)
	var weight float64
	var maxRunning int
	share := &cobra.Command{
		Use:   "share TENANT",
		Short: "Set a tenant's fair share of the fleet",
		Long: "Ready work is shared across tenants in proportion to their weights (default 1);\n" +
			"--max-running caps the tenant's running tasks (0: no cap).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			sh, err := c.SetTenantShare(cmd.Context(), args[0], api.TenantShare{Weight: weight, MaxRunning: maxRunning})
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), sh)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: weight %g, max running %d\n", sh.Tenant, sh.Weight, sh.MaxRunning)
			return nil
		},
	}
	share.Flags().Float64Var(&weight, "weight", 1, "share relative to other tenants, in (0, 1000]")
	share.Flags().IntVar(&maxRunning, "max-running", 0, "cap on running tasks (0: none)")
	list := &cobra.Command{
		Use: "list", Short: "List tenants: share, usable keys, jobs by status", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			l, err := c.ListTenants(cmd.Context())
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), l)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-24s  %7s  %11s  %4s  %7s  %7s  %9s  %7s  %8s\n",
				"TENANT", "WEIGHT", "MAX RUNNING", "KEYS", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED")
			for _, t := range l.Tenants {
				fmt.Fprintf(w, "%-24s  %7g  %11d  %4d  %7d  %7d  %9d  %7d  %8d\n", t.Name, t.Weight, t.MaxRunning, t.Keys,
					t.Jobs["queued"], t.Jobs["running"], t.Jobs["succeeded"], t.Jobs["failed"], t.Jobs["canceled"])
			}
			return nil
		},
	}
	cmd.AddCommand(share, list)
	return cmd
}
