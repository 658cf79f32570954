package packaging_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ytcaption/ytcaption/packaging"
)

func TestPackageVersion(t *testing.T) {
	for _, c := range []struct{ describe, want string }{
		{"v1.2.0", "1.2.0"},
		{"1.2.0", "1.2.0"},
		{"v1.2.0-3-gabc1234", "1.2.0+3.gabc1234"},
		{"v1.2.0-3-gabc1234-dirty", "1.2.0+3.gabc1234.dirty"},
		{"v1.2.0-rc1", "1.2.0+rc1"},
		{"abc1234", "0.0.0~gitabc1234"},
		{"5dc8f66", "0.0.0~git5dc8f66"}, // a hash starting with a digit is no tag
		{"5dc8f66-dirty", "0.0.0~git5dc8f66+dirty"},
	} {
		if got := packaging.PackageVersion(c.describe); got != c.want {
			t.Errorf("PackageVersion(%q) = %q, want %q", c.describe, got, c.want)
		}
	}
}

// pkgWant is what one built .deb must hold.
type pkgWant struct {
	name, bin, unit, config, depends string
	unitLines                        []string
}

// TestPackages builds both packages once, inspects them with dpkg-deb,
// installs them into a throwaway root and runs the installed binaries.
func TestPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries")
	}
	for _, tool := range []string{"dpkg-deb", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	ctx := context.Background()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	version, err := packaging.GitVersion(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	paths, err := packaging.Build(ctx, packaging.Options{RepoDir: repo, OutDir: out, Formats: []string{"deb", "rpm"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 4 {
		t.Fatalf("built %v, want a .deb and an .rpm of each package", paths)
	}
	hardening := []string{"User=ytcaption", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes"}
	wants := []pkgWant{{
		name: "ytcaption-agent", bin: "ytcaption-agent", unit: "ytcaption-agent.service",
		config: "/etc/ytcaption/agent.hcl", depends: "ffmpeg",
		unitLines: append([]string{"ExecStart=/usr/bin/ytcaption-agent run --config /etc/ytcaption/agent.hcl",
			"StateDirectory=ytcaption-agent", "CacheDirectory=ytcaption-agent"}, hardening...),
	}, {
		name: "ytcaption", bin: "ytcaption", unit: "ytcaption.service", config: "/etc/ytcaption/ytcaption.env",
		unitLines: append([]string{"ExecStart=/usr/bin/ytcaption server", "EnvironmentFile=/etc/ytcaption/ytcaption.env",
			"StateDirectory=ytcaption"}, hardening...),
	}}

	root := t.TempDir()
	viaDpkg := true // both packages went in with dpkg, maintainer scripts and all
	for _, w := range wants {
		deb := filepath.Join(out, w.name+"_"+version+"_amd64.deb")
		t.Run(w.name+"/info", func(t *testing.T) {
			fields := run(t, "dpkg-deb", "-f", deb, "Package", "Version", "Architecture", "Depends")
			for _, want := range []string{"Package: " + w.name, "Version: " + version, "Architecture: amd64"} {
				if !strings.Contains(fields, want+"\n") {
					t.Errorf("control fields lack %q:\n%s", want, fields)
				}
			}
			if w.depends != "" && !strings.Contains(fields, "Depends: "+w.depends) {
				t.Errorf("control fields lack Depends: %s:\n%s", w.depends, fields)
			}
			ctl := t.TempDir()
			run(t, "dpkg-deb", "-e", deb, ctl)
			if got := readFile(t, filepath.Join(ctl, "conffiles")); got != w.config+"\n" {
				t.Errorf("conffiles = %q, want %s", got, w.config)
			}
			// Never start an unconfigured service: the scripts only stop,
			// disable (on removal) or try-restart (one already running).
			for _, s := range []string{"postinst", "prerm", "postrm"} {
				body := readFile(t, filepath.Join(ctl, s))
				for _, bad := range []string{"systemctl enable", "systemctl start", "systemctl restart", "deb-systemd-invoke"} {
					if strings.Contains(body, bad) {
						t.Errorf("%s runs %q", s, bad)
					}
				}
			}
		})
		t.Run(w.name+"/contents", func(t *testing.T) {
			modes := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "--contents", deb)), "\n") {
				f := strings.Fields(line)
				if f[1] != "root/root" {
					t.Errorf("%s owned by %s", f[len(f)-1], f[1])
				}
				modes[f[len(f)-1]] = f[0]
			}
			for path, mode := range map[string]string{
				"./usr/bin/" + w.bin:                           "-rwxr-xr-x",
				"./usr/lib/systemd/system/" + w.unit:           "-rw-r--r--",
				"./usr/lib/sysusers.d/" + w.name + ".conf":     "-rw-r--r--",
				"." + w.config:                                 "-rw-r-----",
				"./usr/share/doc/" + w.name + "/deployment.md": "-rw-r--r--",
			} {
				if modes[path] != mode {
					t.Errorf("%s: mode %q, want %q", path, modes[path], mode)
				}
			}
		})
		t.Run(w.name+"/rpm", func(t *testing.T) {
			inspectRPM(t, paths, w)
		})
		t.Run(w.name+"/install", func(t *testing.T) {
			viaDpkg = install(t, root, deb) && viaDpkg
			unit := readFile(t, filepath.Join(root, "usr/lib/systemd/system", w.unit))
			for _, l := range w.unitLines {
				if !strings.Contains(unit, "\n"+l+"\n") {
					t.Errorf("%s lacks %q", w.unit, l)
				}
			}
			verifyUnit(t, root, w.unit, "/usr/bin/"+w.bin)
			if got := strings.TrimSpace(run(t, filepath.Join(root, "usr/bin", w.bin), "version")); got != version {
				t.Errorf("%s version = %q, want %q", w.bin, got, version)
			}
		})
	}
	t.Run("agent-config", func(t *testing.T) {
		if got, want := readFile(t, filepath.Join(root, "etc/ytcaption/agent.hcl")),
			readFile(t, filepath.Join(repo, "packaging/files/agent/agent.hcl")); got != want {
			t.Errorf("installed agent.hcl differs from packaging/files/agent/agent.hcl:\n%s", got)
		}
	})
	t.Run("agent-doctor", func(t *testing.T) {
		// Its exit status depends on the tools this machine has; it must run
		// and report.
		cmd := exec.Command(filepath.Join(root, "usr/bin/ytcaption-agent"), "doctor")
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		b, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("doctor did not run: %v", err)
		}
		if !strings.Contains(string(b), "ffmpeg") {
			t.Errorf("doctor printed no ffmpeg check:\n%s", b)
		}
	})
	t.Run("agent-purge", func(t *testing.T) {
		if !viaDpkg {
			t.Skip("installed without dpkg")
		}
		state := filepath.Join(root, "var/lib/ytcaption-agent")
		if err := os.MkdirAll(state, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(state, "credential.json"), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		run(t, "dpkg", "--root="+root, "--force-not-root", "--force-bad-path", "--force-script-chrootless",
			"--purge", "ytcaption-agent")
		for _, p := range []string{state, filepath.Join(root, "etc/ytcaption/agent.hcl"), filepath.Join(root, "usr/bin/ytcaption-agent")} {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s left after purge (%v)", p, err)
			}
		}
		// The control plane's package shares /etc/ytcaption and stays.
		if _, err := os.Stat(filepath.Join(root, "etc/ytcaption/ytcaption.env")); err != nil {
			t.Errorf("purging the agent touched the control plane's config: %v", err)
		}
	})
}

// install puts deb into root with dpkg --root, its maintainer scripts run
// outside a chroot with DPKG_ROOT set (the root has no shell); where dpkg
// cannot, it only unpacks the files and reports false.
func install(t *testing.T, root, deb string) bool {
	t.Helper()
	if _, err := exec.LookPath("dpkg"); err == nil {
		for _, d := range []string{"var/lib/dpkg/updates", "var/lib/dpkg/info"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		status := filepath.Join(root, "var/lib/dpkg/status")
		if _, err := os.Stat(status); err != nil {
			if err := os.WriteFile(status, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("dpkg", "--root="+root, "--force-not-root", "--force-bad-path", "--force-depends",
			"--force-script-chrootless", "-i", deb)
		b, err := cmd.CombinedOutput()
		if err == nil {
			checkUser(t, root)
			return true
		}
		t.Logf("dpkg --root failed (%v), unpacking with dpkg-deb -x instead:\n%s", err, b)
	}
	run(t, "dpkg-deb", "-x", deb, root)
	return false
}

// checkUser: where systemd-sysusers ran, postinst made the ytcaption user in
// root and gave its group the config files.
func checkUser(t *testing.T, root string) {
	t.Helper()
	if _, err := exec.LookPath("systemd-sysusers"); err != nil {
		t.Log("systemd-sysusers not installed: the user check is skipped")
		return
	}
	var gid string
	for _, l := range strings.Split(readFile(t, filepath.Join(root, "etc/group")), "\n") {
		if f := strings.Split(l, ":"); len(f) > 2 && f[0] == "ytcaption" {
			gid = f[2]
		}
	}
	if gid == "" {
		t.Fatal("postinst created no ytcaption group")
	}
	matches, _ := filepath.Glob(filepath.Join(root, "etc/ytcaption/*"))
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil {
			t.Fatal(err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if ok && (strconv.FormatUint(uint64(st.Gid), 10) != gid || fi.Mode().Perm() != 0o640) {
			t.Errorf("%s: gid %d mode %v, want gid %s mode 0640", m, st.Gid, fi.Mode().Perm(), gid)
		}
	}
}

// verifyUnit runs systemd-analyze verify on the installed unit. verify
// wants its ExecStart binary on this machine, so the copy it checks points
// at the one installed in root.
func verifyUnit(t *testing.T, root, unit, bin string) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze not installed: unit verification skipped")
		return
	}
	body := readFile(t, filepath.Join(root, "usr/lib/systemd/system", unit))
	body = strings.ReplaceAll(body, "ExecStart="+bin, "ExecStart="+filepath.Join(root, bin))
	p := filepath.Join(t.TempDir(), unit)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "systemd-analyze", "verify", p)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
	return string(b)
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// inspectRPM checks the .rpm of w among paths with rpm itself: its header,
// dependencies, config files and file modes match the .deb's.
func inspectRPM(t *testing.T, paths []string, w pkgWant) {
	t.Helper()
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Skip("rpm not installed: `sudo apt-get install rpm` (test/env/bootstrap.sh installs it)")
	}
	var pkg string
	for _, p := range paths {
		if strings.HasSuffix(p, ".rpm") && strings.HasPrefix(filepath.Base(p), w.name+"-") &&
			!strings.HasPrefix(strings.TrimPrefix(filepath.Base(p), w.name+"-"), "agent") {
			pkg = p
		}
	}
	if pkg == "" {
		t.Fatalf("no .rpm of %s among %v", w.name, paths)
	}
	info := run(t, "rpm", "-qip", pkg)
	for _, re := range []string{`(?m)^Name\s*: ` + regexp.QuoteMeta(w.name) + `$`, `(?m)^Architecture\s*: x86_64$`, `(?m)^Version\s*: \S+$`} {
		if !regexp.MustCompile(re).MatchString(info) {
			t.Errorf("rpm -qip lacks %s:\n%s", re, info)
		}
	}
	if w.depends != "" && !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(w.depends)+`$`).MatchString(run(t, "rpm", "-qpR", pkg)) {
		t.Errorf("%s does not require %s", pkg, w.depends)
	}
	if got := run(t, "rpm", "-qcp", pkg); got != w.config+"\n" {
		t.Errorf("config files = %q, want %s", got, w.config)
	}
	modes := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, "rpm", "-qp", "--qf", `[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]`, pkg)), "\n") {
		f := strings.Fields(line)
		if f[1] != "root:root" {
			t.Errorf("%s owned by %s", f[2], f[1])
		}
		modes[f[2]] = f[0]
	}
	if list := run(t, "rpm", "-qlp", pkg); len(strings.Fields(list)) != len(modes) {
		t.Errorf("rpm -qlp lists %d files, the file modes %d:\n%s", len(strings.Fields(list)), len(modes), list)
	}
	for path, mode := range map[string]string{
		"/usr/bin/" + w.bin:                       "-rwxr-xr-x",
		"/usr/lib/systemd/system/" + w.unit:       "-rw-r--r--",
		"/usr/lib/sysusers.d/" + w.name + ".conf": "-rw-r--r--",
		w.config: "-rw-r-----",
		"/usr/share/doc/" + w.name + "/deployment.md": "-rw-r--r--",
	} {
		if modes[path] != mode {
			t.Errorf("%s: mode %q, want %q", path, modes[path], mode)
		}
	}
}
