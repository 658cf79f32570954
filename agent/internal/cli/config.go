package cli

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ytcaption/ytcaption/agent/internal/config"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/tracing"
)

// noEnv lists the flags no YTCAPTION_AGENT_* variable sets; envName maps
// the rest whose variable is not the flag's name upper-cased.
var (
	noEnv   = map[string]bool{"max-downloads": true, "max-transcribes": true, "grace": true, "allow-target": true}
	envName = map[string]string{"yt-dlp": "YTDLP"}
)

// bindConfigFile adds --config.
func bindConfigFile(cmd *cobra.Command) {
	cmd.Flags().String("config", "", "HCL configuration file; flags and YTCAPTION_AGENT_* variables override it "+
		"(YTCAPTION_AGENT_CONFIG; default "+config.DefaultPath+" if it exists)")
}

// configPath is the file to read: --config (even "", which reads none),
// YTCAPTION_AGENT_CONFIG, or the default file if it exists.
func configPath(cmd *cobra.Command, getenv func(string) string) string {
	if f := cmd.Flags().Lookup("config"); f.Changed {
		return f.Value.String()
	}
	if p := getenv("YTCAPTION_AGENT_CONFIG"); p != "" {
		return p
	}
	if _, err := os.Stat(config.DefaultPath); err == nil {
		return config.DefaultPath
	}
	return ""
}

// applyConfigFile sets, from the configuration file, every flag that
// neither the command line nor the environment set: flag > environment >
// file > default. It returns the file read ("" for none).
func applyConfigFile(cmd *cobra.Command, getenv func(string) string) (string, error) {
	path := configPath(cmd, getenv)
	if path == "" {
		return "", nil
	}
	schema, err := configSchema(cmd.Flags())
	if err != nil {
		return path, err
	}
	settings, err := config.Load(path, schema)
	if err != nil {
		return path, err
	}
	for _, s := range settings {
		f := cmd.Flags().Lookup(flagName(s.Name))
		if f.Changed || (!noEnv[f.Name] && getenv(envVar(f.Name)) != "") {
			continue
		}
		if err := f.Value.Set(s.Value); err != nil {
			return path, fmt.Errorf("%s: %s: %w", config.Pos(s.Range), s.Name, err)
		}
	}
	return path, nil
}

func flagName(attr string) string { return strings.ReplaceAll(attr, "_", "-") }

func envVar(flag string) string {
	if n, ok := envName[flag]; ok {
		return "YTCAPTION_AGENT_" + n
	}
	return "YTCAPTION_AGENT_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// configSchema derives the file's attributes from the command's flags, so
// every flag has its attribute: kinds from the flag types, checks for the
// values a flag's type does not catch.
func configSchema(fs *pflag.FlagSet) (map[string]config.Attr, error) {
	schema := map[string]config.Attr{}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "config" || f.Name == "output" || f.Hidden {
			return
		}
		a := config.Attr{}
		switch f.Value.Type() {
		case "string":
			a.Kind = config.String
		case "int":
			a.Kind = config.Int
		case "int64":
			a.Kind = config.Int64
		case "bool":
			a.Kind = config.Bool
		case "duration":
			a.Kind = config.Duration
		case "stringSlice":
			a.Kind = config.List
		default:
			errs = append(errs, fmt.Errorf("flag --%s: type %s has no configuration kind", f.Name, f.Value.Type()))
			return
		}
		switch f.Name {
		case "labels":
			a.Kind, a.Check = config.Map, func(s string) error { _, err := api.ParseLabels(s); return err }
		case "roles":
			a.Kind, a.Check = config.List, func(s string) error { _, err := api.ParseRoles(s); return err }
		case "concurrency":
			a.Check = func(s string) error {
				if n, _ := strconv.Atoi(s); n < 1 {
					return errors.New("must be at least 1")
				}
				return nil
			}
		case "server":
			a.Check = checkServer
		case "otlp-endpoint":
			a.Check = func(s string) error { _, err := tracing.TracesURL(s); return err }
		}
		schema[strings.ReplaceAll(f.Name, "-", "_")] = a
	})
	return schema, errors.Join(errs...)
}

// checkServer accepts what the agent can reach: http(s)://host or
// consul://SERVICE.
func checkServer(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "consul":
		return fmt.Errorf("%q: want http://, https:// or consul://", s)
	case u.Host == "":
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}
