package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ytcaption/ytcaption/agent/internal/config"
	"github.com/ytcaption/ytcaption/agent/worker"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Doctor statuses: fail means the agent cannot work (doctor exits 1).
const (
	statusOK   = "ok"
	statusWarn = "warn"
	statusFail = "fail"
)

// ytdlpStaleAfter is when a yt-dlp release is too old to trust: YouTube
// changes often enough to break releases within weeks.
const ytdlpStaleAfter = 60 * 24 * time.Hour

// doctorCheck is one line of doctor's report; its JSON shape is stable.
type doctorCheck struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"` // what a person must do next; "" when nothing
}

type doctorReport struct {
	OK     bool          `json:"ok"`
	Checks []doctorCheck `json:"checks"`
}

func (r *doctorReport) add(name, status, detail, fix string) {
	r.Checks = append(r.Checks, doctorCheck{Name: name, Status: status, Detail: detail, Fix: fix})
}

func doctorCmd(getenv func(string) string) *cobra.Command {
	var cfg worker.Config
	var labels, roles, output string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check what the agent needs here (tools, engines, the control plane, its credential) and say what to do next",
		Long: "doctor reads the same flags, YTCAPTION_AGENT_* variables and configuration file as run. " +
			"It exits 1 when the agent cannot work (a missing ffmpeg, no speech engine, an unreachable control plane, " +
			"a refused credential) and 0 otherwise, warnings included.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("-o %q: want text or json", output)
			}
			var rep doctorReport
			path, err := applyConfigFile(cmd, getenv)
			switch {
			case err != nil:
				rep.add("config", statusFail, err.Error(), "fix the file at the positions given (file:line:col); see docs/deployment.md for every attribute")
			case path == "":
				rep.add("config", statusOK, "no configuration file: flags and YTCAPTION_AGENT_* variables only", "")
			default:
				rep.add("config", statusOK, path, "")
			}
			// Bad labels or roles stop run: they are failures here too.
			rs, err := api.ParseRoles(roles)
			if err != nil {
				rep.add("roles", statusFail, err.Error(), "set roles to prepare, transcribe or both")
			}
			if _, err := api.ParseLabels(labels); err != nil {
				rep.add("labels", statusFail, err.Error(), `set labels as k=v pairs, in the file: labels = { zone = "eu-1" }`)
			}
			d := doctor{cfg: cfg, roles: rs, configPath: path, now: time.Now()}
			d.run(cmd.Context(), &rep)
			rep.OK = !slices.ContainsFunc(rep.Checks, func(c doctorCheck) bool { return c.Status == statusFail })
			w := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printReport(w, rep)
			}
			if !rep.OK {
				return errors.New("this agent cannot work yet: fix the failed checks")
			}
			return nil
		},
	}
	bindConfig(cmd, getenv, &cfg, &labels, &roles)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func printReport(w io.Writer, rep doctorReport) {
	warn := false
	for _, c := range rep.Checks {
		mark := map[string]string{statusOK: "ok  ", statusWarn: "warn", statusFail: "FAIL"}[c.Status]
		fmt.Fprintf(w, "[%s] %-20s %s\n", mark, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "       next: %s\n", c.Fix)
		}
		warn = warn || c.Status == statusWarn
	}
	switch {
	case !rep.OK:
	case warn:
		fmt.Fprintln(w, "ready, with warnings")
	default:
		fmt.Fprintln(w, "ready")
	}
}

// doctor checks one configuration.
type doctor struct {
	cfg        worker.Config
	roles      []string
	configPath string
	now        time.Time
}

func (d doctor) run(ctx context.Context, rep *doctorReport) {
	d.tools(ctx, rep)
	d.engines(ctx, rep)
	d.fetchable(rep, d.artifacts(ctx, rep, d.server(ctx, rep)))
}

// where says where a person sets attr (to example, if given): the file in
// use, or the default one, or the flag.
func (d doctor) where(attr, example string) string {
	p := or(d.configPath, config.DefaultPath)
	set := attr
	if example != "" {
		set += " = " + example
	}
	return fmt.Sprintf("set %s in %s (or --%s)", set, p, flagName(attr))
}

func (d doctor) tools(ctx context.Context, rep *doctorReport) {
	for _, t := range []struct{ name, bin, arg string }{
		{"yt-dlp", d.cfg.YTDLPBinary, "--version"},
		{"ffmpeg", d.cfg.FFmpeg, "-version"},
		{"ffprobe", d.cfg.FFprobe, "-version"},
	} {
		bin := or(t.bin, t.name)
		path, err := exec.LookPath(bin)
		if err != nil {
			status, fix := statusFail, "install it: `sudo apt install ffmpeg`"
			if t.name == "yt-dlp" {
				// Uploads and direct media links work without it.
				status, fix = statusWarn, ytdlpFix
			}
			if t.bin != "" {
				fix += ", or " + d.where(strings.ReplaceAll(t.name, "-", "_"), "") + " to where it is"
			}
			rep.add(t.name, status, fmt.Sprintf("%s not found", bin), fix)
			continue
		}
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := exec.CommandContext(tctx, path, t.arg).CombinedOutput()
		cancel()
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		if err != nil {
			rep.add(t.name, statusFail, fmt.Sprintf("%s %s: %v %s", path, t.arg, err, line), "reinstall it, or point the agent at a working one: "+d.where(strings.ReplaceAll(t.name, "-", "_"), ""))
			continue
		}
		rep.add(t.name, statusOK, path+"  "+line, "")
		if t.name == "yt-dlp" {
			d.ytdlpAge(rep, line)
		}
	}
}

const ytdlpFix = "push a recent release to the control plane for every agent: `ytcaption artifacts push ./yt-dlp --name yt-dlp --kind tool`, " +
	"or install one here: `pip install -U yt-dlp` (Debian's package is too old for YouTube)"

// ytdlpAge warns about an old yt-dlp; its versions are release dates
// (2023.03.04, nightlies 2025.01.15.232714).
func (d doctor) ytdlpAge(rep *doctorReport, version string) {
	released, ok := ytdlpDate(version)
	if !ok {
		return
	}
	age := d.now.Sub(released)
	if age < ytdlpStaleAfter {
		return
	}
	days := int(age.Hours() / 24)
	rep.add("yt-dlp age", statusWarn, fmt.Sprintf("yt-dlp %s is %d days old: sites such as YouTube break old releases", version, days), ytdlpFix)
}

func ytdlpDate(version string) (time.Time, bool) {
	if len(version) < len("2006.01.02") {
		return time.Time{}, false
	}
	t, err := time.Parse("2006.01.02", version[:len("2006.01.02")])
	return t, err == nil
}

func (d doctor) engines(ctx context.Context, rep *doctorReport) {
	transcribes := len(d.roles) == 0 || slices.Contains(d.roles, api.RoleTranscribe)
	usable := map[string]bool{}
	for _, c := range worker.Doctor(ctx, d.cfg).Checks {
		name, isEngine := strings.CutPrefix(c.Name, "engine ")
		switch {
		case c.Name == "gpu":
			rep.add("gpu", statusOK, c.Detail, "")
		case !isEngine:
			// Tools: checked above, with their fixes.
		case c.OK:
			usable[name] = true
			rep.add(c.Name, statusOK, c.Detail, "")
		default:
			rep.add(c.Name, statusWarn, c.Detail, d.engineFix(name, c.Detail))
		}
	}
	switch {
	case !transcribes:
	case len(usable) == 0:
		rep.add("engines", statusFail, "no speech engine can run here",
			"install one: `sudo apt install pocketsphinx pocketsphinx-en-us` (CPU), or whisper.cpp's whisper-cli with a model (see the whisper-cpp line)")
	case d.cfg.Engine != "" && !usable[d.cfg.Engine]:
		rep.add("engines", statusFail, fmt.Sprintf("the default engine %q cannot run here", d.cfg.Engine),
			"make it work (see its line above), or "+d.where("engine", "")+" to one that runs here")
	}
}

func (d doctor) engineFix(name, detail string) string {
	model := strings.Contains(detail, "model")
	switch {
	case name == "pocketsphinx" && model:
		return "install the English model: `sudo apt install pocketsphinx-en-us`, or " + d.where("sphinx_model_dir", "")
	case name == "pocketsphinx":
		return "install it: `sudo apt install pocketsphinx pocketsphinx-en-us`"
	case name == "whisper-cpp" && model:
		return "push model ggml-base.en.bin once for the fleet: `ytcaption artifacts push ggml-base.en.bin --name ggml-base.en.bin --kind model`, " +
			"or download it here and " + d.where("whisper_model", "")
	case name == "whisper-cpp":
		return "build or install whisper.cpp's whisper-cli (https://github.com/ggerganov/whisper.cpp), then " + d.where("whisper_cli", "")
	default:
		return "check " + d.where("openai_url", "") + " and openai_key"
	}
}

// server checks the control plane the agent would use, and that it
// accepts the agent's credential; it returns a client with that credential,
// nil when there is none to check.
func (d doctor) server(ctx context.Context, rep *doctorReport) *api.Client {
	srv := d.cfg.Server
	switch {
	case srv == "":
		rep.add("server", statusFail, "no control plane configured", d.where("server", `"https://…"`)+" or YTCAPTION_AGENT_SERVER")
		return nil
	case strings.HasPrefix(srv, "consul://"):
		rep.add("server", statusWarn, srv+": found through Consul when the agent starts; not checked here", "")
		return nil
	}
	hc, err := worker.ControlPlaneClient(d.cfg)
	if err != nil {
		rep.add("server", statusFail, err.Error(), "fix ca_cert, client_cert and client_key")
		return nil
	}
	base := strings.TrimRight(srv, "/")
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := healthz(cctx, hc, base); err != nil {
		rep.add("server", statusFail, fmt.Sprintf("%s unreachable: %v", srv, err),
			fmt.Sprintf("check the address and that the control plane runs and is reachable from here: `curl %s/healthz`", base))
		return nil
	}
	rep.add("server", statusOK, srv, "")

	enroll := "enroll: run `ytcaption agents enroll` with an admin key, then " + d.where("token", `"yte_…"`) + " or YTCAPTION_AGENT_TOKEN"
	token, saved := worker.SavedToken(d.cfg)
	switch {
	case saved:
	case strings.HasPrefix(d.cfg.Token, "yta_"):
		token = d.cfg.Token
	case strings.HasPrefix(d.cfg.Token, "yte_"):
		rep.add("credential", statusOK, "enrollment token set: the agent registers when it starts (not checked here: that would use it up)", "")
		return nil
	case d.cfg.Token != "":
		rep.add("credential", statusFail, "the token is neither an enrollment token (yte_…) nor an agent token (yta_…)", enroll)
		return nil
	case d.cfg.Vault.Addr != "":
		rep.add("credential", statusOK, "enrollment token read from Vault when the agent starts (not checked here)", "")
		return nil
	default:
		rep.add("credential", statusFail, "no token", enroll)
		return nil
	}
	// A heartbeat with an impossible progress: the server checks the
	// credential first (401), then refuses the request (400) before it
	// touches any task, so the probe changes nothing.
	client := api.NewClient(base, token, hc)
	_, err = client.Heartbeat(cctx, "doctor-probe", api.HeartbeatRequest{Progress: 2})
	var se *api.StatusError
	switch {
	case errors.As(err, &se) && se.Status == http.StatusUnauthorized:
		fix := enroll
		if saved {
			fix = "enroll again: the saved credential in " + d.cfg.StateDir + "/credential.json was refused; remove it and " + enroll
		}
		rep.add("credential", statusFail, "the control plane refused the agent's credential: "+se.Err.Message, fix)
	case errors.As(err, &se) && se.Status == http.StatusBadRequest:
		what := "agent token accepted"
		if saved {
			what = "saved agent credential accepted"
		}
		rep.add("credential", statusOK, what, "")
		return client
	default:
		rep.add("credential", statusWarn, fmt.Sprintf("could not check the credential: %v", err), "")
	}
	return nil
}

func healthz(ctx context.Context, hc *http.Client, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /healthz: HTTP %d", resp.StatusCode)
	}
	return nil
}
