// Package cli is the ytcaption command line: the control-plane server, the
// embedded dev stack, migrations, and the user and operator commands that
// talk to a server through control-plane/api.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ytcaption/ytcaption/internal/buildinfo"
	"github.com/ytcaption/ytcaption/internal/redact"
)

// IO bundles the process's streams and environment, so commands are testable.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// New returns the root command.
func New(ctx context.Context, io IO) *cobra.Command {
	root := &cobra.Command{
		Use:           "ytcaption",
		Short:         "Timed captions for any video, at fleet scale",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetContext(ctx)
	root.SetIn(io.Stdin)
	root.SetOut(io.Stdout)
	root.SetErr(io.Stderr)
	root.AddCommand(
		serverCmd(io),
		devCmd(io),
		captionCmd(io),
		migrateCmd(io),
		buildinfo.Command(),
		jobsCmd(io),
		agentsCmd(io),
		keysCmd(io),
		tenantsCmd(io),
		auditCmd(io),
		webhooksCmd(io),
		artifactsCmd(io),
		backupCmd(io),
		restoreCmd(io),
	)
	return root
}

// Main runs the CLI and returns the process exit code.
func Main(ctx context.Context, args []string, io IO) int {
	root := New(ctx, io)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(io.Stderr, "ytcaption:", err)
		return exitCode(err)
	}
	return 0
}

// env reads YTCAPTION_<name> with a default.
func env(io IO, name, def string) string {
	if v := io.Getenv("YTCAPTION_" + name); v != "" {
		return v
	}
	return def
}

func envBool(io IO, name string, def bool) bool {
	if v := io.Getenv("YTCAPTION_" + name); v != "" {
		b, err := strconv.ParseBool(v)
		if err == nil {
			return b
		}
	}
	return def
}

func envDuration(io IO, name string, def time.Duration) time.Duration {
	if v := io.Getenv("YTCAPTION_" + name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// newLogger returns a text logger at the level named by YTCAPTION_LOG_LEVEL.
// Every logger redacts secrets: the known patterns, and the given values
// (configured keys and passwords that follow no pattern).
func newLogger(io IO, secrets ...string) *slog.Logger { return newLoggerAt(io, "info", secrets...) }

// newLoggerAt is newLogger with another default level.
func newLoggerAt(io IO, level string, secrets ...string) *slog.Logger {
	lvl := slog.LevelInfo
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(env(io, "LOG_LEVEL", level))))
	var h slog.Handler = slog.NewTextHandler(io.Stderr, &slog.HandlerOptions{Level: lvl})
	if env(io, "LOG_FORMAT", "text") == "json" {
		h = slog.NewJSONHandler(io.Stderr, &slog.HandlerOptions{Level: lvl})
	}
	return slog.New(redact.NewHandler(h, redact.NewRedactor(secrets...)))
}

// StdIO is the real process's IO.
func StdIO() IO {
	return IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}
