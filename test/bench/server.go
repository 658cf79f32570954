package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is one bin/ytcaption server process on its own PostgreSQL schema
// and Redis prefix, so benchmarks never see each other's rows.
type Server struct {
	URL      string
	AdminKey string
	DSN      string // search_path is the server's schema
	Schema   string
	Pid      int

	cmd      *exec.Cmd
	adminURL string
	dir      string
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// schemaDSN creates a fresh schema and returns a DSN whose search_path is it.
func schemaDSN(ctx context.Context, adminURL, prefix string) (string, string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", "", fmt.Errorf("connect postgres: %w", err)
	}
	defer conn.Close(ctx)
	schema := prefix + randHex(4)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", "", fmt.Errorf("create schema: %w", err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", "", fmt.Errorf("parse postgres url: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema, nil
}

func dropSchema(adminURL, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// StartServer starts the control plane on PostgreSQL + Redis and waits
// until it is ready. Its log goes to <workdir>/<name>.log.
func StartServer(ctx context.Context, cfg Config, name string, extraEnv ...string) (*Server, error) {
	dsn, schema, err := schemaDSN(ctx, cfg.PostgresURL, "bench_"+strings.ReplaceAll(name, "-", "_")+"_")
	if err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		dropSchema(cfg.PostgresURL, schema)
		return nil, err
	}
	dir := filepath.Join(cfg.WorkDir, name+"-"+randHex(3))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		dropSchema(cfg.PostgresURL, schema)
		return nil, fmt.Errorf("work dir: %w", err)
	}
	logf, err := os.Create(filepath.Join(cfg.WorkDir, name+".log"))
	if err != nil {
		dropSchema(cfg.PostgresURL, schema)
		return nil, fmt.Errorf("server log: %w", err)
	}
	key := "benchkey-" + randHex(16)
	cmd := exec.Command(cfg.Bin, "server")
	cmd.Env = append(os.Environ(),
		"YTCAPTION_LISTEN="+addr,
		"YTCAPTION_DATABASE_URL="+dsn,
		"YTCAPTION_REDIS_URL="+cfg.RedisURL,
		"YTCAPTION_REDIS_PREFIX=bench:"+schema+":",
		"YTCAPTION_ADMIN_KEY="+key,
		"YTCAPTION_ALLOW_PRIVATE_SOURCES=true",
		"YTCAPTION_DATA_DIR="+dir,
		"YTCAPTION_LOG_LEVEL="+cfg.LogLevel,
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		dropSchema(cfg.PostgresURL, schema)
		return nil, fmt.Errorf("start %s: %w", cfg.Bin, err)
	}
	go func() { _ = cmd.Wait(); logf.Close() }()
	s := &Server{URL: "http://" + addr, AdminKey: key, DSN: dsn, Schema: schema, Pid: cmd.Process.Pid,
		cmd: cmd, adminURL: cfg.PostgresURL, dir: dir}
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w (see %s)", err, logf.Name())
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if s.cmd.ProcessState != nil {
			return errors.New("server exited during start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("server not ready after 60s")
}

// Stop ends the server (SIGTERM, then SIGKILL) and drops its schema.
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for s.processAlive() {
			time.Sleep(50 * time.Millisecond)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		_ = s.cmd.Process.Kill()
	}
	dropSchema(s.adminURL, s.Schema)
	_ = os.RemoveAll(s.dir)
}

func (s *Server) processAlive() bool {
	return s.cmd.Process.Signal(syscall.Signal(0)) == nil
}
