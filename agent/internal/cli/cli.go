// Package cli is the ytcaption-agent command line: run (the agent), doctor
// (what this machine can do) and install (a systemd unit and its config).
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ytcaption/ytcaption/agent/worker"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/buildinfo"
	"github.com/ytcaption/ytcaption/internal/redact"
)

// Main runs the agent CLI and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := &cobra.Command{
		Use:           "ytcaption-agent",
		Short:         "A ytcaption worker: leases captioning tasks and runs them",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetContext(ctx)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.AddCommand(runCmd(stderr, getenv), doctorCmd(getenv), installCmd(getenv), buildinfo.Command())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "ytcaption-agent:", err)
		return 1
	}
	return 0
}

func env(getenv func(string) string, name, def string) string {
	if v := getenv("YTCAPTION_AGENT_" + name); v != "" {
		return v
	}
	return def
}

// bindConfig binds the agent configuration to flags (defaults from the
// YTCAPTION_AGENT_* environment).
func bindConfig(cmd *cobra.Command, getenv func(string) string, cfg *worker.Config, labels, roles *string) {
	f := cmd.Flags()
	conc, _ := strconv.Atoi(env(getenv, "CONCURRENCY", "1"))
	f.StringVar(&cfg.Server, "server", env(getenv, "SERVER", ""), "control-plane URL (YTCAPTION_AGENT_SERVER)")
	f.StringVar(&cfg.Token, "token", env(getenv, "TOKEN", ""), "enrollment token from `ytcaption agents enroll`, or an agent token (YTCAPTION_AGENT_TOKEN)")
	f.StringVar(&cfg.Name, "name", env(getenv, "NAME", ""), "agent name; default the hostname")
	f.StringVar(&cfg.StateDir, "state-dir", env(getenv, "STATE_DIR", defaultStateDir()), "where the agent credential is kept")
	f.StringVar(&cfg.WorkDir, "work-dir", env(getenv, "WORK_DIR", ""), "temporary media files; default $TMPDIR/ytcaption-agent")
	f.IntVar(&cfg.Concurrency, "concurrency", conc, "tasks run at once")
	f.StringVar(labels, "labels", env(getenv, "LABELS", ""), "labels k=v,... that tasks may require")
	f.StringVar(roles, "roles", env(getenv, "ROLES", api.RolePrepare+","+api.RoleTranscribe),
		"what this agent does: prepare (fetch and split media), transcribe (speech recognition), or both (YTCAPTION_AGENT_ROLES)")
	f.StringVar(&cfg.Engine, "engine", env(getenv, "ENGINE", ""), "default engine: pocketsphinx, whisper-cpp or openai (default: the best available)")
	f.IntVar(&cfg.MaxDownloads, "max-downloads", 0, "downloads at once across tasks (0: --concurrency)")
	f.IntVar(&cfg.MaxTranscribes, "max-transcribes", 0, "transcriptions at once across tasks (0: one per GPU, or --concurrency without GPUs)")
	f.DurationVar(&cfg.Grace, "grace", 60*time.Second, "on SIGTERM, how long running tasks may finish before they are handed back")
	f.BoolVar(&cfg.AllowPrivateSources, "allow-private-sources", env(getenv, "ALLOW_PRIVATE_SOURCES", "") == "true",
		"let downloads reach loopback and private addresses (YTCAPTION_AGENT_ALLOW_PRIVATE_SOURCES)")
	f.StringSliceVar(&cfg.AllowTargets, "allow-target", nil, "egress exceptions: CIDR, address, or address:port (repeatable)")
	f.StringVar(&cfg.YTDLPBinary, "yt-dlp", env(getenv, "YTDLP", ""), "yt-dlp binary")
	cacheSize, _ := strconv.ParseInt(env(getenv, "ARTIFACT_CACHE_SIZE", "0"), 10, 64)
	f.Int64Var(&cfg.ArtifactCacheSize, "artifact-cache-size", cacheSize, "bytes of pushed models and tools kept, fetched before leasing (0: none fetched; YTCAPTION_AGENT_ARTIFACT_CACHE_SIZE)")
	f.StringVar(&cfg.ArtifactDir, "artifact-dir", env(getenv, "ARTIFACT_DIR", ""), "artifact cache directory; default <state-dir>/artifacts")
	f.StringVar(&cfg.Cookies, "cookies", env(getenv, "COOKIES", ""), "Netscape cookies file for yt-dlp")
	f.StringVar(&cfg.Proxy, "proxy", env(getenv, "PROXY", ""), "proxy URL for downloads")
	f.StringVar(&cfg.FFmpeg, "ffmpeg", env(getenv, "FFMPEG", ""), "ffmpeg binary")
	f.StringVar(&cfg.FFprobe, "ffprobe", env(getenv, "FFPROBE", ""), "ffprobe binary")
	f.StringVar(&cfg.SphinxModelDir, "sphinx-model-dir", env(getenv, "SPHINX_MODEL_DIR", ""), "pocketsphinx model directory")
	f.StringVar(&cfg.WhisperBinary, "whisper-cli", env(getenv, "WHISPER_CLI", ""), "whisper.cpp whisper-cli binary")
	f.StringVar(&cfg.WhisperModel, "whisper-model", env(getenv, "WHISPER_MODEL", ""), "whisper.cpp ggml model file")
	f.StringVar(&cfg.OpenAIURL, "openai-url", env(getenv, "OPENAI_URL", ""), "OpenAI-compatible transcription server")
	f.StringVar(&cfg.OpenAIKey, "openai-key", env(getenv, "OPENAI_KEY", ""), "API key for --openai-url")
	f.StringVar(&cfg.OpenAIModel, "openai-model", env(getenv, "OPENAI_MODEL", ""), "model name for --openai-url")
	f.StringVar(&cfg.CACert, "ca-cert", env(getenv, "CA_CERT", ""), "PEM CA certificate to trust for the control plane, besides the system roots (YTCAPTION_AGENT_CA_CERT)")
	f.StringVar(&cfg.ClientCert, "client-cert", env(getenv, "CLIENT_CERT", ""), "PEM client certificate presented to the control plane (YTCAPTION_AGENT_CLIENT_CERT)")
	f.StringVar(&cfg.ClientKey, "client-key", env(getenv, "CLIENT_KEY", ""), "PEM private key of --client-cert (YTCAPTION_AGENT_CLIENT_KEY)")
	f.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", env(getenv, "OTLP_ENDPOINT", getenv("OTEL_EXPORTER_OTLP_ENDPOINT")),
		"export task and stage spans by OTLP/HTTP to this URL, e.g. http://otel-collector:4318 (YTCAPTION_AGENT_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT)")
	bindHashicorp(cmd, getenv, cfg)
	bindConfigFile(cmd)
}

// bindHashicorp binds Consul discovery (--server consul://SERVICE), the
// enrollment token from Vault, and the Nomad placement an agent reports.
// Tokens come from the environment only.
func bindHashicorp(cmd *cobra.Command, getenv func(string) string, cfg *worker.Config) {
	f := cmd.Flags()
	f.StringVar(&cfg.ConsulAddr, "consul-addr", env(getenv, "CONSUL_ADDR", or(getenv("CONSUL_HTTP_ADDR"), "127.0.0.1:8500")), "Consul agent for --server consul://SERVICE (YTCAPTION_AGENT_CONSUL_ADDR)")
	cfg.ConsulToken = env(getenv, "CONSUL_TOKEN", getenv("CONSUL_HTTP_TOKEN"))
	f.StringVar(&cfg.Vault.Addr, "vault-addr", env(getenv, "VAULT_ADDR", ""), "Vault address; without --token the enrollment token is read from Vault (YTCAPTION_AGENT_VAULT_ADDR)")
	f.StringVar(&cfg.Vault.KV, "vault-kv", env(getenv, "VAULT_KV", "secret/ytcaption-agent"), "KV v2 <mount>/<path> holding enrollment_token (YTCAPTION_AGENT_VAULT_KV)")
	cfg.Vault.Token = getenv("VAULT_TOKEN")
	cfg.Vault.RoleID = env(getenv, "VAULT_ROLE_ID", "")
	cfg.Vault.SecretID = env(getenv, "VAULT_SECRET_ID", "")
	f.StringVar(&cfg.Vault.JWTFile, "vault-jwt-file", env(getenv, "VAULT_JWT_FILE", ""), "Nomad workload identity file for Vault JWT login (YTCAPTION_AGENT_VAULT_JWT_FILE)")
	f.StringVar(&cfg.Vault.JWTRole, "vault-jwt-role", env(getenv, "VAULT_JWT_ROLE", "ytcaption-agent"), "Vault JWT auth role (YTCAPTION_AGENT_VAULT_JWT_ROLE)")
	cfg.NomadAllocID = getenv("NOMAD_ALLOC_ID")
	cfg.NomadNodeID = env(getenv, "NOMAD_NODE_ID", "")
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func defaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/ytcaption-agent"
	}
	if d, err := os.UserConfigDir(); err == nil {
		return d + "/ytcaption-agent"
	}
	return ""
}

// newLogger redacts secrets (token patterns, presigned URL signatures, and
// the given values) from everything the agent logs.
func newLogger(w io.Writer, getenv func(string) string, secrets ...string) *slog.Logger {
	lvl := slog.LevelInfo
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(env(getenv, "LOG_LEVEL", "info"))))
	return slog.New(redact.NewHandler(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}), redact.NewRedactor(secrets...)))
}

func runCmd(stderr io.Writer, getenv func(string) string) *cobra.Command {
	var cfg worker.Config
	var labels, roles string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the agent until SIGTERM (finish or hand back running tasks; a second SIGTERM stops at once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := applyConfigFile(cmd, getenv)
			if err != nil {
				return err
			}
			if cfg.Labels, err = api.ParseLabels(labels); err != nil {
				return err
			}
			if cfg.Roles, err = api.ParseRoles(roles); err != nil {
				return err
			}
			log := newLogger(stderr, getenv, cfg.Token, cfg.OpenAIKey)
			// The first signal starts a graceful stop, the second makes it immediate.
			ctx, stop := context.WithCancel(context.WithoutCancel(cmd.Context()))
			defer stop()
			w, err := worker.New(ctx, cfg, log)
			if err != nil {
				return err
			}
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
			defer signal.Stop(sigs)
			go func() {
				select {
				case s := <-sigs:
					log.Info("signal received: finishing running tasks (send again to stop now)", "signal", s.String())
					stop()
				case <-ctx.Done():
					return
				}
				if s, ok := <-sigs; ok {
					log.Warn("second signal: handing back running tasks now", "signal", s.String())
					w.Kill()
				}
			}()
			log.Info("agent starting", "config", path, "server", cfg.Server, "concurrency", cfg.Concurrency, "roles", cfg.Roles, "engines", w.Capabilities().Engines)
			return w.Run(ctx)
		},
	}
	bindConfig(cmd, getenv, &cfg, &labels, &roles)
	return cmd
}
