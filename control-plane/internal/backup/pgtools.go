package backup

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// pgTools finds pg_dump and pg_restore of a fitting major version. A
// pg_dump can dump servers of its own major version and older ones; a
// pg_restore reads archives of its own pg_dump version and older ones.
type pgTools struct {
	// bin, when set, is the only directory looked in (--pg-bin).
	bin string
	// installs lists directories of side-by-side installs, newest first;
	// Debian keeps each major version under /usr/lib/postgresql/<N>/bin.
	installs func() []string
}

func newPGTools(bin string) pgTools {
	return pgTools{bin: bin, installs: debianInstalls}
}

func debianInstalls() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return majorOfDir(b) - majorOfDir(a) })
	return dirs
}

func majorOfDir(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// find returns the first candidate named name whose major version is at
// least min: --pg-bin alone when given, else PATH, then the side-by-side
// installs.
func (t pgTools) find(ctx context.Context, name string, min int) (string, int, error) {
	var candidates []string
	if t.bin != "" {
		candidates = []string{filepath.Join(t.bin, name)}
	} else {
		if p, err := exec.LookPath(name); err == nil {
			candidates = append(candidates, p)
		}
		for _, d := range t.installs() {
			candidates = append(candidates, filepath.Join(d, name))
		}
	}
	var seen []string
	for _, c := range candidates {
		if _, err := os.Stat(c); err != nil {
			continue
		}
		major, err := toolMajor(ctx, c)
		if err != nil {
			seen = append(seen, c+" (unknown version)")
			continue
		}
		if major >= min {
			return c, major, nil
		}
		seen = append(seen, fmt.Sprintf("%s (%d)", c, major))
	}
	if len(seen) == 0 {
		return "", 0, fail(CodePGClientMissing, "%s not found: install postgresql-client-%d (or newer), or point --pg-bin at its bin directory", name, min)
	}
	return "", 0, fail(CodePGClientMismatch, "%s %d or newer is needed, found %s: install postgresql-client-%d, or point --pg-bin at its bin directory",
		name, min, strings.Join(seen, ", "), min)
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

func toolMajor(ctx context.Context, path string) (int, error) {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return 0, err
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("%s --version: unexpected %q", path, out)
	}
	return strconv.Atoi(string(m[1]))
}

// libpqParams are the URL parameters pg_dump and pg_restore understand;
// others (pgx's pool settings) are dropped, as libpq rejects them.
var libpqParams = []string{"sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "sslcrl", "sslnegotiation",
	"connect_timeout", "application_name", "target_session_attrs", "gssencmode", "channel_binding", "passfile", "service"}

// pgConn is a database URL made fit for libpq: the password moves to the
// environment (so it never shows in a process listing), pgx-only
// parameters go, and search_path becomes the schema to dump or restore.
type pgConn struct {
	uri    string
	env    []string
	schema string // first schema of search_path; empty: the whole database
}

func parsePGURL(dsn string) (pgConn, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return pgConn{}, fail(CodeInvalidConfig, "database URL is not a postgres:// URL")
	}
	var c pgConn
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			c.env = append(c.env, "PGPASSWORD="+p)
		}
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	if sp := q.Get("search_path"); sp != "" {
		first, _, _ := strings.Cut(sp, ",")
		c.schema = strings.Trim(strings.TrimSpace(first), `"`)
	}
	keep := url.Values{}
	for _, k := range libpqParams {
		if v, ok := q[k]; ok {
			keep[k] = v
		}
	}
	u.RawQuery = keep.Encode()
	c.uri = u.String()
	return c, nil
}

// run runs a PostgreSQL client tool, returning its error with the end of
// what it wrote to stderr.
func (c pgConn) run(ctx context.Context, path string, args ...string) error {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), c.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = "…" + msg[len(msg)-2000:]
		}
		return fmt.Errorf("%s: %w: %s", filepath.Base(path), err, msg)
	}
	return nil
}
