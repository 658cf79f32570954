package cli

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// auditCmd reads the audit log of operator actions.
func auditCmd(io IO) *cobra.Command {
	var q api.AuditQuery
	var output string
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log of operator actions, newest first (admin)",
		Long: "Every key, tenant, agent, enrollment, job and webhook change made through the API or\n" +
			"the console, refused attempts included, and console logins. --action takes an action\n" +
			"(keys.create) or a prefix ending at a dot (keys).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			if output != "table" && output != "json" {
				return fmt.Errorf("invalid argument %q for -o: want table or json", output)
			}
			if since > 0 {
				q.Since = time.Now().Add(-since)
			}
			l, err := c.Audit(cmd.Context(), q)
			if err != nil {
				return err
			}
			if wantJSON(cmd) || output == "json" {
				return printJSON(cmd.OutOrStdout(), l)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-19s  %-24s  %-36s  %-6s  %-7s  %-26s  %-16s  %s\n",
				"AT", "ACTION", "TARGET", "STATUS", "VIA", "KEY", "TENANT", "FROM")
			for _, e := range l.Entries {
				fmt.Fprintf(w, "%-19s  %-24s  %-36s  %-6s  %-7s  %-26s  %-16s  %s\n",
					e.At.Local().Format(time.DateTime), e.Action, cmp.Or(e.Target, "-"), strconv.Itoa(e.Status), e.Via,
					cmp.Or(e.KeyID, "-"), cmp.Or(e.Tenant, "-"), e.RemoteAddr)
			}
			if l.NextCursor != "" {
				fmt.Fprintf(w, "more: --cursor %s\n", l.NextCursor)
			}
			return nil
		},
	}
	clientFlags(cmd)
	f := cmd.Flags()
	f.IntVar(&q.Limit, "limit", 50, "page size (1-1000)")
	f.StringVar(&q.Cursor, "cursor", "", "page cursor from a previous listing")
	f.StringVar(&q.Action, "action", "", "only this action, or actions under this prefix (keys)")
	f.StringVar(&q.Tenant, "tenant", "", "only actors of this tenant")
	f.StringVar(&q.KeyID, "key-id", "", "only this actor key")
	f.DurationVar(&since, "since", 0, "only entries this recent (e.g. 24h)")
	f.StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

// enrollmentsCmd lists and revokes agent enrollment tokens.
func enrollmentsCmd(io IO) *cobra.Command {
	cmd := &cobra.Command{Use: "enrollments", Short: "List and revoke agent enrollment tokens"}
	list := &cobra.Command{
		Use: "list", Short: "List enrollment tokens, newest first (never the tokens themselves)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			l, err := c.ListEnrollments(cmd.Context())
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), l)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-40s  %-8s  %-9s  %-20s  %-20s  %s\n", "ID", "STATE", "USES", "CREATED", "EXPIRES", "LABELS")
			for _, e := range l.Enrollments {
				uses, expires := strconv.Itoa(e.Uses), "never"
				if e.MaxUses > 0 {
					uses += "/" + strconv.Itoa(e.MaxUses)
				}
				if e.ExpiresAt != nil {
					expires = e.ExpiresAt.Local().Format(time.DateTime)
				}
				fmt.Fprintf(w, "%-40s  %-8s  %-9s  %-20s  %-20s  %s\n", e.ID, e.State, uses,
					e.CreatedAt.Local().Format(time.DateTime), expires, labelList(e.Labels))
			}
			return nil
		},
	}
	revoke := &cobra.Command{
		Use: "revoke ENROLLMENT_ID", Short: "Revoke an enrollment token (enrolled agents keep their credentials)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			e, err := c.RevokeEnrollment(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), e)
		},
	}
	cmd.AddCommand(list, revoke)
	return cmd
}

func labelList(l map[string]string) string {
	var out []string
	for k, v := range l {
		out = append(out, k+"="+v)
	}
	if len(out) == 0 {
		return "-"
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
