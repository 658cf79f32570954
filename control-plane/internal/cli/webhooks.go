package cli

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

func webhooksCmd(io IO) *cobra.Command {
	cmd := &cobra.Command{Use: "webhooks", Short: "Webhook signing secrets, endpoints and deliveries"}
	clientFlags(cmd)
	var tenant string
	var rotate bool
	secret := &cobra.Command{
		Use: "secret", Short: "Print a tenant's current webhook signing secret (alone on stdout)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			path, method := api.PathWebhookSecret, http.MethodGet
			if rotate {
				path, method = path+"/rotate", http.MethodPost
			}
			if tenant != "" {
				path += "?tenant=" + url.QueryEscape(tenant)
			}
			var s api.WebhookSecret
			if err := c.Do(cmd.Context(), method, path, nil, &s, nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), s.Secret)
			return nil
		},
	}
	secret.Flags().StringVar(&tenant, "tenant", "", "tenant (default: the API key's own)")
	secret.Flags().BoolVar(&rotate, "rotate", false, "start signing with a new secret (the previous one keeps signing until the next rotation)")

	var jobID, status string
	list := &cobra.Command{
		Use: "deliveries", Short: "List webhook deliveries and their attempts", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			q := url.Values{}
			if jobID != "" {
				q.Set("job_id", jobID)
			}
			if status != "" {
				q.Set("status", status)
			}
			var l api.WebhookDeliveryList
			if err := c.Do(cmd.Context(), http.MethodGet, api.PathWebhookDeliveries+"?"+q.Encode(), nil, &l, nil); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), l)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-28s  %-14s  %-9s  %8s  %s\n", "ID", "EVENT", "STATUS", "ATTEMPTS", "URL")
			for _, d := range l.Deliveries {
				fmt.Fprintf(w, "%-28s  %-14s  %-9s  %8d  %s\n", d.ID, d.EventType, d.Status, d.Attempts, d.URL)
			}
			return nil
		},
	}
	list.Flags().StringVar(&jobID, "job", "", "only this job's deliveries")
	list.Flags().StringVar(&status, "status", "", "pending, delivered or failed")
	redeliver := &cobra.Command{
		Use: "redeliver DELIVERY_ID", Short: "Send a delivery again", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			var d api.WebhookDelivery
			if err := c.Do(cmd.Context(), http.MethodPost, api.PathWebhookDeliveries+"/"+url.PathEscape(args[0])+"/redeliver", nil, &d, nil); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), d)
		},
	}
	cmd.AddCommand(secret, list, redeliver)
	return cmd
}

// Exit codes of the ytcaption command (documented in docs/api.md).
const (
	ExitOK        = 0
	ExitError     = 1 // any other failure
	ExitUsage     = 2 // bad command line
	ExitJobFailed = 3 // the job finished failed or canceled
	ExitAuth      = 4 // the server refused the credential (401/403)
)

// jobFailedError is a job that ended without captions.
type jobFailedError struct{ msg string }

func (e *jobFailedError) Error() string { return e.msg }

// exitCode maps a command's error to the process exit code.
func exitCode(err error) int {
	var se *api.StatusError
	var jf *jobFailedError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &jf):
		return ExitJobFailed
	case errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden):
		return ExitAuth
	case isUsageError(err):
		return ExitUsage
	}
	return ExitError
}

func isUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least",
		"flag needs an argument", "invalid argument", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
