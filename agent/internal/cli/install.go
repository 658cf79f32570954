package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// unitTemplate is the systemd unit. DynamicUser gives the agent its own
// unprivileged user and a private state directory for its credential.
const unitTemplate = `[Unit]
Description=ytcaption agent (captioning worker)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart={{.Bin}} run
EnvironmentFile={{.EnvFile}}
DynamicUser=yes
StateDirectory=ytcaption-agent
CacheDirectory=ytcaption-agent
Environment=YTCAPTION_AGENT_STATE_DIR=/var/lib/ytcaption-agent
Environment=YTCAPTION_AGENT_WORK_DIR=/var/cache/ytcaption-agent
# SIGTERM: finish or hand back running tasks within the grace period. Only
# the agent gets it (mixed): its ffmpeg and speech engine must keep working.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec={{.StopTimeout}}
Restart=on-failure
RestartSec=5s
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
`

func installCmd(getenv func(string) string) *cobra.Command {
	var root, bin, server, token, labels, roles, engine, caCert, clientCert, clientKey string
	var concurrency int
	var grace time.Duration
	var enable bool
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install a systemd unit and its configuration for this agent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if server == "" || token == "" {
				return fmt.Errorf("--server and --token are required")
			}
			if _, err := api.ParseLabels(labels); err != nil {
				return err
			}
			if roles != "" {
				if _, err := api.ParseRoles(roles); err != nil {
					return err
				}
			}
			if bin == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("find own binary: %w", err)
				}
				bin = exe
			}
			envFile := "/etc/ytcaption/agent.env"
			vars := map[string]string{
				"YTCAPTION_AGENT_SERVER": server, "YTCAPTION_AGENT_TOKEN": token,
				"YTCAPTION_AGENT_CONCURRENCY": fmt.Sprint(concurrency), "YTCAPTION_AGENT_LABELS": labels,
				"YTCAPTION_AGENT_ROLES":  roles,
				"YTCAPTION_AGENT_ENGINE": engine, "YTCAPTION_AGENT_CA_CERT": caCert,
				"YTCAPTION_AGENT_CLIENT_CERT": clientCert, "YTCAPTION_AGENT_CLIENT_KEY": clientKey,
			}
			var env strings.Builder
			keys := make([]string, 0, len(vars))
			for k := range vars {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if vars[k] != "" {
					fmt.Fprintf(&env, "%s=%s\n", k, vars[k])
				}
			}
			if err := writeFile(filepath.Join(root, envFile), []byte(env.String()), 0o600); err != nil {
				return err
			}
			var unit strings.Builder
			t := template.Must(template.New("unit").Parse(unitTemplate))
			if err := t.Execute(&unit, map[string]string{
				"Bin": bin, "EnvFile": envFile, "StopTimeout": fmt.Sprintf("%ds", int((grace + 30*time.Second).Seconds())),
			}); err != nil {
				return err
			}
			unitPath := filepath.Join(root, "/etc/systemd/system/ytcaption-agent.service")
			if err := writeFile(unitPath, []byte(unit.String()), 0o644); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "wrote %s and %s\n", unitPath, filepath.Join(root, envFile))
			if !enable {
				fmt.Fprintln(out, "start it with: systemctl daemon-reload && systemctl enable --now ytcaption-agent")
				return nil
			}
			for _, args := range [][]string{{"daemon-reload"}, {"enable", "--now", "ytcaption-agent"}} {
				if b, err := exec.CommandContext(cmd.Context(), "systemctl", args...).CombinedOutput(); err != nil {
					return fmt.Errorf("systemctl %s: %v: %s", strings.Join(args, " "), err, b)
				}
			}
			fmt.Fprintln(out, "ytcaption-agent enabled and started")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&root, "root", "/", "install under this root directory (packaging, tests)")
	f.StringVar(&bin, "bin", "", "path of the ytcaption-agent binary; default this binary")
	f.StringVar(&server, "server", env(getenv, "SERVER", ""), "control-plane URL or consul://SERVICE")
	f.StringVar(&token, "token", env(getenv, "TOKEN", ""), "enrollment token")
	f.IntVar(&concurrency, "concurrency", 1, "tasks run at once")
	f.StringVar(&labels, "labels", "", "labels k=v,...")
	f.StringVar(&roles, "roles", "", "prepare, transcribe, or both (default both)")
	f.StringVar(&engine, "engine", "", "default engine")
	f.DurationVar(&grace, "grace", 60*time.Second, "shutdown grace period (the unit's stop timeout adds 30 s)")
	f.StringVar(&caCert, "ca-cert", "", "PEM CA certificate to trust for the control plane")
	f.StringVar(&clientCert, "client-cert", "", "PEM client certificate for mutual TLS")
	f.StringVar(&clientKey, "client-key", "", "PEM private key of --client-cert")
	f.BoolVar(&enable, "enable", false, "run systemctl daemon-reload and enable --now")
	return cmd
}

func writeFile(path string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, b, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Chmod(path, mode)
}
