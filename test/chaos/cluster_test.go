package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/testenv"
)

// leaseDuration is the replicas' task lease: short, so rescues (and the
// partition scenario) happen within seconds.
const leaseDuration = 6 * time.Second

// replica is one control-plane process slot: a fixed address and log file,
// run again after each stop.
type replica struct {
	name string
	addr string
	env  []string
	log  string
	bin  string

	expected atomic.Bool // the suite is stopping it
	crashes  atomic.Int32

	mu sync.Mutex
	p  *testenv.Proc
}

func (r *replica) url() string { return "http://" + r.addr }

func (r *replica) proc() *testenv.Proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.p
}

// start runs the replica and waits until it answers /readyz.
func (r *replica) start(ctx context.Context) error {
	p, err := testenv.Start(r.name, r.log, r.env, r.bin, "server")
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.p = p
	r.mu.Unlock()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited: %v\n%s", r.name, p.Err(), testenv.Tail(r.log, 40))
		}
		resp, err := hc.Get(r.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w\n%s", r.name, ctx.Err(), testenv.Tail(r.log, 40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// agentProc is one agent slot: fixed name, proxy, state and work
// directories; run again after each kill.
type agentProc struct {
	name    string
	args    []string
	env     []string
	bin     string
	proxy   *proxy
	state   string
	workDir string
	log     string

	// expected is set while the suite itself stops the agent, so the
	// supervisor does not take the exit for a crash.
	expected atomic.Bool
	crashes  atomic.Int32

	mu sync.Mutex
	p  *testenv.Proc
}

func (a *agentProc) start() error {
	p, err := testenv.Start(a.name, a.log, a.env, a.bin, a.args...)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.p = p
	a.mu.Unlock()
	return nil
}

func (a *agentProc) proc() *testenv.Proc {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.p
}

// id is the agent id saved in its state directory once it registered.
func (a *agentProc) id() string {
	b, err := os.ReadFile(filepath.Join(a.state, "credential.json"))
	if err != nil {
		return ""
	}
	var c struct {
		AgentID string `json:"agent_id"`
	}
	_ = json.Unmarshal(b, &c)
	return c.AgentID
}

// cluster is the whole system under test.
type cluster struct {
	t        testing.TB
	pg       *postgresSvc
	redis    *redisSvc
	minio    *minioSvc
	replicas []*replica
	agents   []*agentProc
	adminKey string
	client   *lbClient
	bucket   string
}

// agentSpec describes one agent of the fleet.
type agentSpec struct {
	name    string
	engine  string // "test" or "pocketsphinx"
	labels  string
	workDir string // "" for a temporary directory
	delay   time.Duration
}

func startCluster(t *testing.T, agents []agentSpec) *cluster {
	t.Helper()
	c := &cluster{t: t, adminKey: "chaos-admin-key-" + fmt.Sprint(time.Now().UnixNano()), bucket: "chaos"}
	c.pg, c.redis, c.minio = startPostgres(t), startRedis(t), startMinIO(t)

	ctx, cancel := context.WithTimeout(context.Background(), 3*readyWait)
	defer cancel()
	logDir := t.TempDir()
	var addrs []string
	for i := range 2 {
		r := &replica{
			name: fmt.Sprintf("replica-%c", 'a'+i), addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			log: filepath.Join(logDir, fmt.Sprintf("replica-%c.log", 'a'+i)), bin: binary(t, "ytcaption"),
		}
		r.env = testenv.ChildEnv(
			"YTCAPTION_LISTEN="+r.addr,
			"YTCAPTION_DATA_DIR="+t.TempDir(),
			"YTCAPTION_DATABASE_URL="+c.pg.URL(),
			"YTCAPTION_REDIS_URL="+c.redis.URL(),
			"YTCAPTION_S3_ENDPOINT="+c.minio.Endpoint(),
			"YTCAPTION_S3_BUCKET="+c.bucket,
			"YTCAPTION_S3_ACCESS_KEY="+c.minio.user,
			"YTCAPTION_S3_SECRET_KEY="+c.minio.pass,
			"YTCAPTION_ADMIN_KEY="+c.adminKey,
			"YTCAPTION_ALLOW_PRIVATE_SOURCES=true",
			"YTCAPTION_LEASE_DURATION="+leaseDuration.String(),
			"YTCAPTION_LOG_FORMAT=json",
		)
		// The first replica migrates the schema alone; then the second starts.
		if err := r.start(ctx); err != nil {
			t.Fatal(err)
		}
		c.replicas = append(c.replicas, r)
		addrs = append(addrs, r.addr)
		t.Cleanup(func() { r.expected.Store(true); r.proc().Stop(stopWait) })
	}
	c.client = newLBClient(c.replicas, c.adminKey)

	enr, err := c.client.enroll(ctx)
	if err != nil {
		t.Fatalf("create enrollment: %v", err)
	}
	for _, s := range agents {
		work := s.workDir
		if work == "" {
			work = t.TempDir()
		}
		a := &agentProc{name: s.name, bin: binary(t, "ytcaption-agent"), proxy: newProxy(t, addrs),
			state: t.TempDir(), workDir: work, log: filepath.Join(logDir, s.name+".log")}
		a.args = []string{"run", "--server", a.proxy.URL(), "--token", enr, "--name", s.name,
			"--state-dir", a.state, "--work-dir", work, "--engine", s.engine, "--labels", s.labels, "--grace", "10s"}
		a.env = testenv.ChildEnv("YTCAPTION_AGENT_TEST_ENGINE_DELAY=" + s.delay.String())
		if err := a.start(); err != nil {
			t.Fatal(err)
		}
		c.agents = append(c.agents, a)
		t.Cleanup(func() { a.expected.Store(true); a.proc().Stop(stopWait) })
	}
	if err := c.waitAgents(ctx, len(agents)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range c.replicas {
				t.Logf("---- %s ----\n%s", r.name, testenv.Tail(r.log, 80))
			}
			for _, a := range c.agents {
				t.Logf("---- %s ----\n%s", a.name, testenv.Tail(a.log, 60))
			}
		}
	})
	return c
}

// supervise restarts agents that exit on their own, as systemd or Nomad
// would, and counts each such exit as a crash (reported as a failure).
func (c *cluster) supervise(ctx context.Context) {
	for sleepCtx(ctx, 300*time.Millisecond) {
		for _, a := range c.agents {
			p := a.proc()
			if a.expected.Load() || !p.Exited() {
				continue
			}
			a.crashes.Add(1)
			c.t.Errorf("CRASH: agent %s exited on its own (%v):\n%s", a.name, p.Err(), testenv.Tail(a.log, 15))
			if err := a.start(); err != nil {
				c.t.Errorf("restart %s: %v", a.name, err)
			}
		}
		for _, r := range c.replicas {
			p := r.proc()
			if r.expected.Load() || !p.Exited() {
				continue
			}
			r.crashes.Add(1)
			c.t.Errorf("CRASH: %s exited on its own (%v):\n%s", r.name, p.Err(), testenv.Tail(r.log, 15))
			sctx, cancel := context.WithTimeout(ctx, readyWait)
			if err := r.start(sctx); err != nil {
				c.t.Errorf("restart %s: %v", r.name, err)
			}
			cancel()
		}
	}
}

// waitAgents waits until n agents are registered and active.
func (c *cluster) waitAgents(ctx context.Context, n int) error {
	for {
		for _, a := range c.agents {
			if p := a.proc(); p.Exited() {
				return fmt.Errorf("agent %s exited (%v):\n%s", a.name, p.Err(), testenv.Tail(a.log, 40))
			}
		}
		var l api.AgentList
		err := c.client.do(ctx, http.MethodGet, api.PathAgents, nil, &l, "")
		active := 0
		for _, a := range l.Agents {
			if a.State == "active" {
				active++
			}
		}
		if err == nil && active >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d agents active (%v)", active, n, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// agent returns the agent slot named name.
func (c *cluster) agent(name string) *agentProc {
	for _, a := range c.agents {
		if a.name == name {
			return a
		}
	}
	c.t.Fatalf("no agent %s", name)
	return nil
}

// replicaLogs is every replica's output so far.
func (c *cluster) replicaLogs() string {
	var b strings.Builder
	for _, r := range c.replicas {
		b.WriteString(testenv.ReadLog(r.log))
	}
	return b.String()
}

// sigkill kills a process group; used by the faults.
