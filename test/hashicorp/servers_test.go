package hashicorp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// howTo is appended to every skip message.
const howTo = "; see docs/hashicorp.md for how to run the HashiCorp integration tests"

// binary finds the first of names on PATH or skips the test.
func binary(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Skipf("%s not on PATH%s", strings.Join(names, " or "), howTo)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// start runs a dev server process for the life of the test; its output
// goes to a log file that is printed if the test fails.
func start(t *testing.T, env []string, bin string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(bin)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s output:\n%s", filepath.Base(bin), tail(b, 6000))
		}
		logf.Close()
	})
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// eventually polls cond until it holds; the bound only keeps a broken run
// from hanging and is not a performance assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// call makes an HTTP request with a JSON body and decodes a JSON reply.
func call(ctx context.Context, method, url string, header map[string]string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s: %w", b, err)
		}
	}
	return resp.StatusCode, nil
}

// consulDev starts `consul agent -dev` on free loopback ports and returns
// its HTTP address.
func consulDev(t *testing.T) string {
	t.Helper()
	bin := binary(t, "consul")
	http := freePort(t)
	ports := fmt.Sprintf(`ports { http = %d, dns = -1, grpc = -1, grpc_tls = -1, serf_lan = %d, serf_wan = %d, server = %d }`,
		http, freePort(t), freePort(t), freePort(t))
	start(t, nil, bin, "agent", "-dev", "-bind", "127.0.0.1", "-client", "127.0.0.1", "-data-dir", t.TempDir(), "-hcl", ports)
	addr := "127.0.0.1:" + strconv.Itoa(http)
	eventually(t, "consul leader", func() bool {
		var leader string
		_, err := call(context.Background(), "GET", "http://"+addr+"/v1/status/leader", nil, nil, &leader)
		return err == nil && leader != ""
	})
	return addr
}

// vaultDev starts `vault server -dev` (or OpenBao's `bao server -dev`,
// which speaks the same API) with root token "root" and a KV v2 mount at
// secret/, and returns its address.
func vaultDev(t *testing.T) string {
	t.Helper()
	bin := binary(t, "vault", "bao")
	addr := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	start(t, []string{"VAULT_TOKEN=", "BAO_TOKEN=", "HOME=" + t.TempDir()}, bin, "server", "-dev", "-dev-root-token-id=root",
		"-dev-listen-address="+strings.TrimPrefix(addr, "http://"))
	eventually(t, "vault unsealed", func() bool {
		_, err := call(context.Background(), "GET", addr+"/v1/sys/health", nil, nil, nil)
		return err == nil
	})
	root := map[string]string{"X-Vault-Token": "root"}
	var mounts map[string]any
	if _, err := call(context.Background(), "GET", addr+"/v1/sys/mounts", root, nil, &mounts); err != nil {
		t.Fatal(err)
	}
	if _, ok := mounts["secret/"]; !ok {
		vault(t, addr, "POST", "sys/mounts/secret", map[string]any{"type": "kv", "options": map[string]string{"version": "2"}}, nil)
	}
	return addr
}

// vault calls the Vault API with the root token.
func vault(t *testing.T, addr, method, path string, in, out any) {
	t.Helper()
	if _, err := call(context.Background(), method, addr+"/v1/"+path, map[string]string{"X-Vault-Token": "root"}, in, out); err != nil {
		t.Fatal(err)
	}
}

// nomadDev starts `nomad agent -dev` on free loopback ports, with extra
// agent configuration appended, and returns its address once its client
// node is ready. With a token (a UUID), ACLs are on and bootstrapped with
// that management secret.
func nomadDev(t *testing.T, extra, token string) string {
	t.Helper()
	bin := binary(t, "nomad")
	dir := t.TempDir()
	httpPort := freePort(t)
	cfg := fmt.Sprintf(`
bind_addr = "127.0.0.1"
data_dir  = %q
ports {
  http = %d
  rpc  = %d
  serf = %d
}
client {
  options = {
    "fingerprint.denylist" = "env_aws,env_gce,env_azure,env_digitalocean"
  }
}
plugin "raw_exec" {
  config {
    enabled = true
  }
}
`, filepath.Join(dir, "data"), httpPort, freePort(t), freePort(t)) + extra
	if token != "" {
		cfg += "\nacl {\n  enabled = true\n}\n"
	}
	cfgFile := filepath.Join(dir, "dev.hcl")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_CA_BUNDLE=") && !strings.HasPrefix(kv, "NOMAD_") {
			env = append(env, kv)
		}
	}
	logf := filepath.Join(dir, "nomad.log")
	f, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "agent", "-dev", "-config", cfgFile)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf)
			t.Logf("nomad output:\n%s", tail(b, 6000))
		}
		f.Close()
		unmountUnder(t, dir)
	})
	addr := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	var auth map[string]string
	if token != "" {
		eventually(t, "nomad ACL bootstrap", func() bool {
			_, err := call(context.Background(), "POST", addr+"/v1/acl/bootstrap", nil, map[string]string{"BootstrapSecret": token}, nil)
			return err == nil
		})
		auth = map[string]string{"X-Nomad-Token": token}
	}
	eventually(t, "nomad client node ready", func() bool {
		var nodes []map[string]any
		_, err := call(context.Background(), "GET", addr+"/v1/nodes", auth, nil, &nodes)
		return err == nil && len(nodes) == 1 && nodes[0]["Status"] == "ready"
	})
	return addr
}

// unmountUnder unmounts what a stopped Nomad agent left mounted under dir:
// run as root it mounts each task's secrets directory as tmpfs and unmounts
// it only when it collects the allocation, which a stopped agent never does.
func unmountUnder(t *testing.T, dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return // not Linux: nothing is mounted
	}
	var mounts []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mounts = append(mounts, f[4])
		}
	}
	// Innermost first.
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	for _, m := range mounts {
		if err := syscall.Unmount(m, 0); err != nil {
			t.Logf("unmount %s: %v", m, err)
		}
	}
}
