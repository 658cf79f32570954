package chaos_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/test/testenv"
)

// service is a backing process the suite can stop and start again on the
// same port with the same data.
type service interface {
	Name() string
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Close()
}

// waitTCP waits until addr accepts connections.
func waitTCP(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not accepting connections: %w", addr, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// serviceDir makes a directory outside the test's own temp tree (which is
// private to root) so the postgres user can reach it.
func serviceDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// postgresSvc is a private PostgreSQL cluster made with initdb.
type postgresSvc struct {
	bin, data, log string
	port           int
	asPostgres     bool // running as root: run the server tools as postgres
}

func startPostgres(t testing.TB) *postgresSvc {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Skip("no PostgreSQL server binaries under /usr/lib/postgresql (run test/env/bootstrap.sh)")
	}
	sort.Slice(bins, func(i, j int) bool { return pgVersion(bins[i]) < pgVersion(bins[j]) })
	dir := serviceDir(t, "ytcaption-chaos-pg-")
	p := &postgresSvc{bin: filepath.Dir(bins[len(bins)-1]), data: filepath.Join(dir, "data"),
		log: filepath.Join(dir, "postgres.log"), port: freePort(t), asPostgres: os.Geteuid() == 0}
	if p.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root without a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.tool("initdb", "-D", p.data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyWait)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func pgVersion(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// tool runs one of the PostgreSQL server tools, as postgres when root.
func (p *postgresSvc) tool(name string, args ...string) (string, error) {
	bin := filepath.Join(p.bin, name)
	if p.asPostgres {
		return runCmd("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return runCmd(bin, args...)
}

func (p *postgresSvc) Name() string { return "postgresql" }

// URL is a connection URL for the control plane.
func (p *postgresSvc) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

func (p *postgresSvc) Start(ctx context.Context) error {
	// fsync off: nothing here must survive a machine crash, only restarts.
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", p.port, filepath.Dir(p.data))
	if _, err := p.tool("pg_ctl", "-D", p.data, "-l", p.log, "-o", opts, "-w", "-t", "60", "start"); err != nil {
		return err
	}
	return waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", p.port))
}

func (p *postgresSvc) Stop(context.Context) error {
	_, err := p.tool("pg_ctl", "-D", p.data, "-m", "fast", "-w", "-t", "60", "stop")
	return err
}

func (p *postgresSvc) Close() {
	_, _ = p.tool("pg_ctl", "-D", p.data, "-m", "immediate", "-w", "stop")
}

// redisSvc is a private Redis without persistence.
type redisSvc struct {
	port int
	log  string
	p    *testenv.Proc
}

func startRedis(t testing.TB) *redisSvc {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed (run test/env/bootstrap.sh)")
	}
	r := &redisSvc{port: freePort(t), log: filepath.Join(t.TempDir(), "redis.log")}
	ctx, cancel := context.WithTimeout(context.Background(), readyWait)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatalf("start Redis: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

func (r *redisSvc) Name() string { return "redis" }
func (r *redisSvc) URL() string  { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisSvc) Start(ctx context.Context) error {
	p, err := testenv.Start("redis", r.log, testenv.ChildEnv(), "redis-server",
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err != nil {
		return err
	}
	r.p = p
	return waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", r.port))
}

// Stop kills Redis outright: an outage, not a maintenance stop.
func (r *redisSvc) Stop(context.Context) error { r.p.Kill(); return nil }
func (r *redisSvc) Close()                     { r.p.Kill() }

// minioSvc is a private MinIO server on a temporary data directory.
type minioSvc struct {
	bin, data   string
	port        int
	user, pass  string
	log         string
	p           *testenv.Proc
	consolePort int
}

func startMinIO(t testing.TB) *minioSvc {
	t.Helper()
	bin, err := exec.LookPath("minio")
	if err != nil {
		root, _ := filepath.Abs("../../.cache/bin/minio")
		if _, err := os.Stat(root); err != nil {
			t.Skip("no minio binary in .cache/bin or PATH (run test/env/bootstrap.sh)")
		}
		bin = root
	}
	m := &minioSvc{bin: bin, data: t.TempDir(), port: freePort(t), consolePort: freePort(t),
		user: "chaos", pass: "chaos-secret-key", log: filepath.Join(t.TempDir(), "minio.log")}
	ctx, cancel := context.WithTimeout(context.Background(), readyWait)
	defer cancel()
	if err := m.Start(ctx); err != nil {
		t.Fatalf("start MinIO: %v\n%s", err, testenv.Tail(m.log, 30))
	}
	t.Cleanup(m.Close)
	return m
}

func (m *minioSvc) Name() string     { return "minio" }
func (m *minioSvc) Endpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", m.port) }

func (m *minioSvc) Start(ctx context.Context) error {
	p, err := testenv.Start("minio", m.log, testenv.ChildEnv("MINIO_ROOT_USER="+m.user, "MINIO_ROOT_PASSWORD="+m.pass,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off"), m.bin, "server", "--quiet",
		"--address", fmt.Sprintf("127.0.0.1:%d", m.port), "--console-address", fmt.Sprintf("127.0.0.1:%d", m.consolePort), m.data)
	if err != nil {
		return err
	}
	m.p = p
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get(m.Endpoint() + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p.Exited() {
			return fmt.Errorf("minio exited: %v", p.Err())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("minio not ready: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop kills MinIO outright: an outage, not a maintenance stop.
func (m *minioSvc) Stop(context.Context) error { m.p.Kill(); return nil }
func (m *minioSvc) Close()                     { m.p.Kill() }
