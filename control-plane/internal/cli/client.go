package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// client builds an API client from YTCAPTION_SERVER and YTCAPTION_API_KEY
// (overridable by --server and --api-key), trusting YTCAPTION_CA_CERT.
func client(cmd *cobra.Command, io IO) (*api.Client, error) {
	srv, _ := cmd.Flags().GetString("server")
	key, _ := cmd.Flags().GetString("api-key")
	if srv == "" {
		srv = env(io, "SERVER", "")
	}
	if key == "" {
		key = env(io, "API_KEY", "")
	}
	if srv == "" {
		return nil, errors.New("no server: set YTCAPTION_SERVER (and YTCAPTION_API_KEY) or pass --server")
	}
	hc, err := httpClient(io)
	if err != nil {
		return nil, err
	}
	return api.NewClient(srv, key, hc), nil
}

func clientFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().String("server", "", "control-plane URL (default $YTCAPTION_SERVER)")
	cmd.PersistentFlags().String("api-key", "", "API key (default $YTCAPTION_API_KEY)")
	cmd.PersistentFlags().Bool("json", false, "print JSON")
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func wantJSON(cmd *cobra.Command) bool {
	b, _ := cmd.Flags().GetBool("json")
	return b
}

func jobsCmd(io IO) *cobra.Command {
	cmd := &cobra.Command{Use: "jobs", Short: "List, inspect, cancel and retry jobs"}
	clientFlags(cmd)
	var status, cursor, output, getOutput string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List jobs, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			l, err := c.ListJobs(cmd.Context(), api.JobStatus(status), limit, cursor)
			if err != nil {
				return err
			}
			if wantJSON(cmd) || output == "json" {
				return printJSON(cmd.OutOrStdout(), l)
			}
			if output != "" && output != "table" {
				return fmt.Errorf("invalid argument %q for -o: want table or json", output)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-36s  %-9s  %-10s  %5s  %-20s  %s\n", "ID", "STATUS", "STAGE", "PROG", "CREATED", "SOURCE")
			for _, j := range l.Jobs {
				src := j.Source.URL
				if src == "" {
					src = "upload:" + j.Source.Filename
				}
				fmt.Fprintf(w, "%-36s  %-9s  %-10s  %4.0f%%  %-20s  %s\n", j.ID, j.Status, j.Stage, j.Progress*100,
					j.CreatedAt.Local().Format(time.DateTime), src)
			}
			if l.NextCursor != "" {
				fmt.Fprintf(w, "more: --cursor %s\n", l.NextCursor)
			}
			return nil
		},
	}
	list.Flags().StringVar(&status, "status", "", "queued, running, succeeded, failed or canceled")
	list.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	list.Flags().IntVar(&limit, "limit", 20, "page size")
	list.Flags().StringVar(&cursor, "cursor", "", "page cursor from a previous list")

	one := func(use, short string, do func(c *api.Client, cmd *cobra.Command, id string) (api.Job, error)) *cobra.Command {
		return &cobra.Command{
			Use: use + " JOB_ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := client(cmd, io)
				if err != nil {
					return err
				}
				j, err := do(c, cmd, args[0])
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), j)
			},
		}
	}
	get := &cobra.Command{
		Use: "get JOB_ID", Short: "Show a job and its tasks", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			j, err := c.GetJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if getOutput != "json" && getOutput != "table" {
				return fmt.Errorf("invalid argument %q for -o: want json or table", getOutput)
			}
			tl, err := c.JobTasks(cmd.Context(), j.ID)
			if err != nil {
				return err
			}
			if getOutput == "table" && !wantJSON(cmd) {
				printJob(cmd.OutOrStdout(), j, tl.Tasks)
				return nil
			}
			// The job as the API shows it, with its tasks.
			return printJSON(cmd.OutOrStdout(), struct {
				api.Job
				Tasks []api.TaskInfo `json:"tasks"`
			}{j, tl.Tasks})
		},
	}
	get.Flags().StringVarP(&getOutput, "output", "o", "json", "json (the job with its tasks) or table")
	cmd.AddCommand(list, get,
		one("cancel", "Cancel a job", func(c *api.Client, cmd *cobra.Command, id string) (api.Job, error) {
			return c.CancelJob(cmd.Context(), id)
		}),
		one("retry", "Retry a failed or canceled job", func(c *api.Client, cmd *cobra.Command, id string) (api.Job, error) {
			return c.RetryJob(cmd.Context(), id)
		}),
	)
	return cmd
}

// printJob shows a job for people: its summary, then one line per task.
func printJob(w io.Writer, j api.Job, tasks []api.TaskInfo) {
	src := j.Source.URL
	if src == "" {
		src = "upload:" + j.Source.Filename
	}
	status := string(j.Status)
	if j.Stage != "" && !j.Status.Final() {
		status += " (" + j.Stage + ")"
	}
	fmt.Fprintf(w, "ID        %s\n", j.ID)
	fmt.Fprintf(w, "STATUS    %s  %.0f%%\n", status, j.Progress*100)
	fmt.Fprintf(w, "SOURCE    %s\n", src)
	fmt.Fprintf(w, "CREATED   %s\n", j.CreatedAt.Local().Format(time.DateTime))
	if j.Chunks != nil {
		fmt.Fprintf(w, "CHUNKS    %d/%d done (%gs each)\n", j.Chunks.Done, j.Chunks.Total, j.ChunkSeconds)
	}
	if j.Error != nil {
		fmt.Fprintf(w, "ERROR     %s: %s\n", j.Error.Code, j.Error.Message)
	}
	if j.Result != nil {
		fmt.Fprintf(w, "RESULT    %s, %.1fs, %d segments, %d words\n", j.Result.Language, j.Result.Duration, j.Result.Segments, j.Result.Words)
	}
	if len(tasks) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%-10s  %-9s  %-20s  %-28s  %8s  %s\n", "KIND", "STATUS", "CHUNK", "AGENT", "ATTEMPTS", "TIME")
	for _, t := range tasks {
		agent := t.AgentID
		if agent == "" {
			agent = "-"
		}
		fmt.Fprintf(w, "%-10s  %-9s  %-20s  %-28s  %8d  %s\n", t.Kind, t.Status, chunkSpan(t.Chunk), agent, t.Attempts, taskTime(t))
	}
}

// chunkSpan shows a chunk as its index and span ("#2 04:00.0-06:01.3").
func chunkSpan(c *api.Chunk) string {
	if c == nil {
		return "-"
	}
	return fmt.Sprintf("#%d %s-%s", c.Index, clock(c.Start), clock(c.End))
}

func clock(sec float64) string {
	m := int(sec) / 60
	return fmt.Sprintf("%02d:%04.1f", m, sec-float64(m*60))
}

// taskTime is how long a finished task's last attempt took.
func taskTime(t api.TaskInfo) string {
	if t.StartedAt == nil || t.FinishedAt == nil {
		return "-"
	}
	return t.FinishedAt.Sub(*t.StartedAt).Round(100 * time.Millisecond).String()
}

func agentsCmd(io IO) *cobra.Command {
	cmd := &cobra.Command{Use: "agents", Short: "List, enroll, drain and resume agents"}
	clientFlags(cmd)
	list := &cobra.Command{
		Use: "list", Short: "List the fleet", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			l, err := c.ListAgents(cmd.Context())
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), l)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-32s  %-20s  %-8s  %5s  %-20s  %s\n", "ID", "NAME", "STATE", "TASKS", "LAST SEEN", "ENGINES")
			for _, a := range l.Agents {
				var engines []string
				for _, e := range a.Capabilities.Engines {
					engines = append(engines, e.Name)
				}
				fmt.Fprintf(w, "%-32s  %-20s  %-8s  %2d/%-2d  %-20s  %s\n", a.ID, a.Name, a.State, a.ActiveTasks,
					a.Capabilities.Slots, a.LastSeenAt.Local().Format(time.DateTime), strings.Join(engines, ","))
			}
			return nil
		},
	}
	var labels string
	var ttl time.Duration
	var maxUses int
	enroll := &cobra.Command{
		Use: "enroll", Short: "Create an agent enrollment token (printed alone on stdout)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			l, err := api.ParseLabels(labels)
			if err != nil {
				return err
			}
			e, err := c.CreateEnrollment(cmd.Context(), api.EnrollmentRequest{Labels: l, TTLSeconds: ttl.Seconds(), MaxUses: maxUses})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), e.Token)
			return nil
		},
	}
	enroll.Flags().StringVar(&labels, "labels", "", "labels given to agents enrolled with it, k=v,...")
	enroll.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token can be used")
	enroll.Flags().IntVar(&maxUses, "max-uses", 0, "how many agents may enroll with it (0: unlimited)")
	action := func(name, short string) *cobra.Command {
		return &cobra.Command{
			Use: name + " AGENT_ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := client(cmd, io)
				if err != nil {
					return err
				}
				a, err := c.AgentAction(cmd.Context(), args[0], name)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), a)
			},
		}
	}
	cmd.AddCommand(list, enroll, enrollmentsCmd(io),
		action("drain", "Stop an agent from leasing while it finishes what it holds"),
		action("resume", "Let a drained agent lease again"),
		action("revoke", "Cut an agent off and requeue its tasks"))
	return cmd
}

func keysCmd(io IO) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Create, list and revoke API keys"}
	clientFlags(cmd)
	var tenant, role, name string
	var ttl time.Duration
	create := &cobra.Command{
		Use: "create", Short: "Create an API key (printed alone on stdout)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			req := api.KeyRequest{Tenant: tenant, Role: role, Name: name}
			if ttl > 0 {
				exp := time.Now().Add(ttl)
				req.ExpiresAt = &exp
			}
			k, err := c.CreateKey(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), k.Secret)
			return nil
		},
	}
	create.Flags().StringVar(&tenant, "tenant", "default", "tenant (created if new)")
	create.Flags().StringVar(&role, "role", "submitter", "admin, operator, submitter or viewer")
	create.Flags().StringVar(&name, "name", "", "a note on what the key is for")
	create.Flags().DurationVar(&ttl, "ttl", 0, "expire the key after this long (0: never)")
	var listTenant string
	list := &cobra.Command{
		Use: "list", Short: "List API keys", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			l, err := c.ListKeys(cmd.Context(), listTenant)
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), l)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-40s  %-16s  %-9s  %-8s  %s\n", "ID", "TENANT", "ROLE", "STATE", "NAME")
			for _, k := range l.Keys {
				state := "active"
				if k.RevokedAt != nil {
					state = "revoked"
				} else if k.ExpiresAt != nil && k.ExpiresAt.Before(time.Now()) {
					state = "expired"
				}
				fmt.Fprintf(w, "%-40s  %-16s  %-9s  %-8s  %s\n", k.ID, k.Tenant, k.Role, state, k.Name)
			}
			return nil
		},
	}
	list.Flags().StringVar(&listTenant, "tenant", "", "only this tenant's keys")
	revoke := &cobra.Command{
		Use: "revoke KEY_ID", Short: "Revoke an API key", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd, io)
			if err != nil {
				return err
			}
			return c.RevokeKey(cmd.Context(), args[0])
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
