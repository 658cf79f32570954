// Package packaging builds the ytcaption-agent and ytcaption (control plane)
// packages, .deb and .rpm, with the nfpm library: the binary stamped with the
// version from git, a hardened systemd unit that runs as the ytcaption system
// user, a default configuration file kept across upgrades, and maintainer
// scripts that create the user but never enable or start an unconfigured
// service. The files it packs live in packaging/files.
package packaging

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	"github.com/goreleaser/nfpm/v2/rpm"
)

// versionVar is the link-time variable `version` commands print.
const versionVar = "github.com/ytcaption/ytcaption/internal/buildinfo.version"

// Options say what Build makes.
type Options struct {
	RepoDir string   // module root: binaries are built here and packaging/files is read from it
	OutDir  string   // where the packages are written
	Version string   // package and binary version; empty asks git (GitVersion)
	Arch    string   // GOARCH; default amd64
	Formats []string // "deb", "rpm"; default both
	Log     *slog.Logger
}

// spec is one package.
type spec struct {
	name, description string
	bin, mainPkg      string // installed as /usr/bin/<bin>, built from ./<mainPkg>
	unit              string // packaging/files/<dir>/<unit>
	config            string // installed path of the config file
	configSrc         string // packaging/files/<dir>/<configSrc>
	home              string // the ytcaption user's home if useradd creates it
	purge             []string
	depends           []string
	recommends        []string
	dir               string // under packaging/files
}

var specs = []spec{{
	name:        "ytcaption-agent",
	description: "ytcaption agent: leases captioning tasks from a ytcaption control plane and runs them",
	bin:         "ytcaption-agent", mainPkg: "agent/cmd/ytcaption-agent",
	unit:   "ytcaption-agent.service",
	config: "/etc/ytcaption/agent.hcl", configSrc: "agent.hcl",
	home: "/var/lib/ytcaption-agent",
	// A purge deletes the agent's credential and work files; it can re-enroll.
	purge:      []string{"/var/lib/ytcaption-agent", "/var/cache/ytcaption-agent"},
	depends:    []string{"ffmpeg"},
	recommends: []string{"yt-dlp", "pocketsphinx", "pocketsphinx-en-us"},
	dir:        "agent",
}, {
	name:        "ytcaption",
	description: "ytcaption control plane: captioning jobs API, console and CLI",
	bin:         "ytcaption", mainPkg: "control-plane/cmd/ytcaption",
	unit:   "ytcaption.service",
	config: "/etc/ytcaption/ytcaption.env", configSrc: "ytcaption.env",
	home: "/var/lib/ytcaption",
	// No purge list: /var/lib/ytcaption may hold the only copy of the database.
	dir: "control-plane",
}}

// Build compiles both binaries with the version and writes the packages to
// o.OutDir, returning their paths.
func Build(ctx context.Context, o Options) ([]string, error) {
	if o.Arch == "" {
		o.Arch = "amd64"
	}
	if len(o.Formats) == 0 {
		o.Formats = []string{"deb", "rpm"}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Version == "" {
		v, err := GitVersion(ctx, o.RepoDir)
		if err != nil {
			return nil, err
		}
		o.Version = v
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	work, err := os.MkdirTemp("", "ytcaption-package-")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(work)

	var out []string
	for _, s := range specs {
		dir := filepath.Join(work, s.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		if err := buildBinary(ctx, o, s, filepath.Join(dir, s.bin)); err != nil {
			return nil, err
		}
		scripts, err := renderScripts(o.RepoDir, s, dir)
		if err != nil {
			return nil, err
		}
		for _, format := range o.Formats {
			p, err := writePackage(o, s, dir, scripts, format)
			if err != nil {
				return nil, err
			}
			o.Log.Info("package written", "path", p)
			out = append(out, p)
		}
	}
	return out, nil
}

// GitVersion is the package version of the tree at dir (see PackageVersion).
func GitVersion(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", "describe", "--tags", "--always", "--dirty")
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git describe: %w", err)
	}
	return PackageVersion(strings.TrimSpace(string(b))), nil
}

var tagVersion = regexp.MustCompile(`^v?([0-9]+\.[0-9].*)$`)

// PackageVersion turns `git describe --tags --always --dirty` output into a
// version dpkg and rpm both order sensibly: "v1.2.0" → "1.2.0",
// "v1.2.0-3-gabc1234-dirty" → "1.2.0+3.gabc1234.dirty", and with no tag
// "abc1234" → "0.0.0~gitabc1234" (a deb version must start with a digit,
// and ~ sorts before any release). A '-' would start a Debian revision, so
// none is left.
func PackageVersion(describe string) string {
	v := "0.0.0~git" + describe
	if m := tagVersion.FindStringSubmatch(describe); m != nil {
		v = m[1]
	}
	v = strings.Replace(v, "-", "+", 1)
	return strings.ReplaceAll(v, "-", ".")
}

func buildBinary(ctx context.Context, o Options, s spec, dst string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X "+versionVar+"="+o.Version, "-o", dst, "./"+s.mainPkg)
	cmd.Dir = o.RepoDir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+o.Arch, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", s.mainPkg, err, stderr.String())
	}
	return nil
}

// renderScripts writes the maintainer scripts of s into dir and returns
// their paths.
func renderScripts(repo string, s spec, dir string) (nfpm.Scripts, error) {
	data := map[string]any{
		"Name": s.name, "Unit": s.unit, "Config": s.config, "Home": s.home,
		"Sysusers": s.name + ".conf", "Purge": s.purge,
	}
	paths := map[string]string{}
	for _, name := range []string{"postinst", "prerm", "postrm"} {
		t, err := template.ParseFiles(filepath.Join(repo, "packaging", "files", name+".tmpl"))
		if err != nil {
			return nfpm.Scripts{}, fmt.Errorf("%s: %w", name, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return nfpm.Scripts{}, fmt.Errorf("%s: %w", name, err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o755); err != nil {
			return nfpm.Scripts{}, fmt.Errorf("%s: %w", name, err)
		}
		paths[name] = p
	}
	return nfpm.Scripts{PostInstall: paths["postinst"], PreRemove: paths["prerm"], PostRemove: paths["postrm"]}, nil
}

func writePackage(o Options, s spec, dir string, scripts nfpm.Scripts, format string) (string, error) {
	src := filepath.Join(o.RepoDir, "packaging", "files", s.dir)
	file := func(source, dst string, mode os.FileMode, typ string) *files.Content {
		return &files.Content{Source: source, Destination: dst, Type: typ, FileInfo: &files.ContentFileInfo{
			Owner: "root", Group: "root", Mode: mode}}
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:          s.name,
		Arch:          o.Arch,
		Platform:      "linux",
		Version:       o.Version,
		VersionSchema: "none", // PackageVersion already made it valid for both
		Section:       "net",
		Priority:      "optional",
		Maintainer:    "ytcaption maintainers <ytcaption@example.com>",
		Description:   s.description,
		Homepage:      "https://github.com/ytcaption/ytcaption",
		License:       "Apache-2.0",
		Overridables: nfpm.Overridables{
			Depends:    s.depends,
			Recommends: s.recommends,
			Scripts:    scripts,
			Contents: files.Contents{
				file(filepath.Join(dir, s.bin), "/usr/bin/"+s.bin, 0o755, ""),
				file(filepath.Join(src, s.unit), "/usr/lib/systemd/system/"+s.unit, 0o644, ""),
				file(filepath.Join(src, "sysusers.conf"), "/usr/lib/sysusers.d/"+s.name+".conf", 0o644, ""),
				// 0640 now, group ytcaption once postinst made the user.
				file(filepath.Join(src, s.configSrc), s.config, 0o640, files.TypeConfigNoReplace),
				file(filepath.Join(o.RepoDir, "docs", "deployment.md"), "/usr/share/doc/"+s.name+"/deployment.md", 0o644, ""),
			},
		},
	})
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", fmt.Errorf("%s %s: %w", s.name, format, err)
	}
	var p nfpm.Packager
	switch format {
	case "deb":
		p = deb.Default
	case "rpm":
		p = rpm.DefaultRPM
	default:
		return "", fmt.Errorf("unknown package format %q (deb, rpm)", format)
	}
	path := filepath.Join(o.OutDir, p.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if err := p.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return path, nil
}
