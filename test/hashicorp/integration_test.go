package hashicorp

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/worker"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/server"
	"github.com/ytcaption/ytcaption/test/media"
	"github.com/ytcaption/ytcaption/test/testenv"
)

const adminKey = "hashicorp-test-admin-key"

// replica is one running control plane.
type replica struct {
	srv  *server.Server
	stop context.CancelFunc
	done chan error
}

func startReplica(t *testing.T, cfg server.Config) *replica {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.AllowPrivateSources = true
	cfg.ShutdownTimeout = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, cfg, testLog(t))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &replica{srv: s, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(r.shutdown)
	return r
}

func (r *replica) shutdown() {
	r.stop()
	<-r.done
	r.done <- nil // later calls return at once
}

func (r *replica) client() *api.Client { return api.NewClient(r.srv.URL(), adminKey, nil) }

func TestConsulRegistration(t *testing.T) {
	t.Parallel()
	consul := consulDev(t)
	r := startReplica(t, server.Config{AdminKey: adminKey, Consul: server.ConsulConfig{Addr: consul}})
	ctx := context.Background()
	var entries []struct {
		Service struct {
			ID   string
			Tags []string
			Port int
		}
	}
	eventually(t, "a passing ytcaption instance", func() bool {
		_, err := call(ctx, "GET", "http://"+consul+"/v1/health/service/ytcaption?passing=1", nil, nil, &entries)
		return err == nil && len(entries) == 1
	})
	if !strings.HasPrefix(strings.Join(entries[0].Service.Tags, ","), "version=") {
		t.Errorf("tags %v", entries[0].Service.Tags)
	}
	if !strings.HasSuffix(r.srv.URL(), fmt.Sprintf(":%d", entries[0].Service.Port)) {
		t.Errorf("registered port %d, replica at %s", entries[0].Service.Port, r.srv.URL())
	}
	r.shutdown()
	var catalog []map[string]any
	if _, err := call(ctx, "GET", "http://"+consul+"/v1/catalog/service/ytcaption", nil, nil, &catalog); err != nil {
		t.Fatal(err)
	}
	if len(catalog) != 0 {
		t.Fatalf("still in the catalog after shutdown: %v", catalog)
	}
}

func TestAgentFollowsConsulAcrossReplicas(t *testing.T) {
	t.Parallel()
	consul := consulDev(t)
	pg := testenv.Postgres(t)
	cfg := server.Config{AdminKey: adminKey, DatabaseURL: pg, Consul: server.ConsulConfig{Addr: consul}}
	a, b := startReplica(t, cfg), startReplica(t, cfg)
	ctx := context.Background()
	eventually(t, "two passing replicas", func() bool {
		var entries []any
		_, err := call(ctx, "GET", "http://"+consul+"/v1/health/service/ytcaption?passing=1", nil, nil, &entries)
		return err == nil && len(entries) == 2
	})
	enr, err := a.client().CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(ctx, worker.Config{Server: "consul://ytcaption", ConsulAddr: consul, Token: enr.Token,
		WorkDir: t.TempDir(), LeaseWait: 2 * time.Second}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan error, 1)
	go func() { agentDone <- w.Run(wctx) }()
	defer func() { stopAgent(); <-agentDone }()

	dir := t.TempDir()
	media.Copy(t, media.Speech(t, "the quick brown fox jumps over the lazy dog"), dir, "speech.wav")
	src := media.Serve(t, dir) + "/speech.wav"
	caption := func(via *replica) {
		t.Helper()
		j, err := via.client().SubmitJob(ctx, api.JobRequest{URL: src, Language: "en"}, "")
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "job "+j.ID+" finished", func() bool {
			j, err = via.client().GetJob(ctx, j.ID)
			return err == nil && j.Status != api.JobQueued && j.Status != api.JobRunning
		})
		if j.Status != api.JobSucceeded {
			t.Fatalf("job %s: %s %+v", j.ID, j.Status, j.Error)
		}
	}
	caption(b)
	// Whichever replica the agent is on, one of the two stops below forces
	// a failover; the agent keeps working through the other.
	a.shutdown()
	caption(b)
	c := startReplica(t, cfg)
	b.shutdown()
	caption(c)
}

func TestControlPlaneSecretsOnlyFromVault(t *testing.T) {
	t.Parallel()
	addr := vaultDev(t)
	root := repoRoot(t)
	policy, err := os.ReadFile(filepath.Join(root, "policies", "vault", "ytcaption-control-plane.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	vault(t, addr, "PUT", "sys/policies/acl/ytcaption-control-plane", map[string]any{"policy": string(policy)}, nil)
	vault(t, addr, "POST", "sys/auth/approle", map[string]any{"type": "approle"}, nil)
	// Short TTLs, so renewals and a login after the max TTL happen during the test.
	vault(t, addr, "POST", "auth/approle/role/ytcaption-control-plane", map[string]any{
		"token_policies": []string{"ytcaption-control-plane"}, "token_ttl": "3s", "token_max_ttl": "8s"}, nil)
	var roleID, secretID struct {
		Data map[string]any `json:"data"`
	}
	vault(t, addr, "GET", "auth/approle/role/ytcaption-control-plane/role-id", nil, &roleID)
	vault(t, addr, "POST", "auth/approle/role/ytcaption-control-plane/secret-id", map[string]any{}, &secretID)
	pg := testenv.Postgres(t)
	put := func(admin string) {
		vault(t, addr, "POST", "secret/data/ytcaption", map[string]any{"data": map[string]string{
			"database_url": pg, "admin_key": admin}}, nil)
	}
	put(adminKey)

	// Nothing but where Vault is and the AppRole: the database and the
	// admin key come from KV v2.
	r := startReplica(t, server.Config{Vault: server.VaultConfig{Addr: addr, KV: "secret/ytcaption",
		RoleID: roleID.Data["role_id"].(string), SecretID: secretID.Data["secret_id"].(string), RefreshInterval: 300 * time.Millisecond}})
	ctx := context.Background()
	if _, err := r.client().ListJobs(ctx, "", 1, ""); err != nil {
		t.Fatalf("admin key from vault not accepted: %v", err)
	}
	if typ := fmt.Sprintf("%T", r.srv.Store()); !strings.Contains(typ, "postgres") {
		t.Fatalf("store is %s, want the PostgreSQL named in vault", typ)
	}
	// Outlive the first token's max TTL, then rotate the admin key: reading
	// the new version needs a token renewed or obtained by a new login.
	time.Sleep(9 * time.Second)
	put("rotated-admin-key-2")
	rotated := api.NewClient(r.srv.URL(), "rotated-admin-key-2", nil)
	eventually(t, "rotated admin key accepted", func() bool {
		_, err := rotated.ListJobs(ctx, "", 1, "")
		return err == nil
	})
}

// nomadVault is the Vault integration the job specs need (workload
// identities for Vault); validation does not contact Vault.
const nomadVault = `
vault {
  enabled = true
  address = "http://127.0.0.1:1"
  default_identity {
    aud = ["vault.io"]
    ttl = "1h"
  }
}
`

func TestNomadJobValidate(t *testing.T) {
	t.Parallel()
	addr := nomadDev(t, nomadVault, "")
	// The GPU node pool, as terraform/modules/nomad creates it.
	if _, err := call(context.Background(), "PUT", addr+"/v1/node/pools", nil, map[string]string{"Name": "gpu"}, nil); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(repoRoot(t), "jobs", "*.nomad.hcl"))
	for _, f := range files {
		cmd := exec.Command("nomad", "job", "validate", f)
		cmd.Env = append(os.Environ(), "NOMAD_ADDR="+addr)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("nomad job validate %s: %v\n%s", filepath.Base(f), err, out)
		}
	}
}

// testAgentJob stands in for the CPU agent job: same name and group, with a
// scaling block, running a sleep.
const testAgentJob = `
job "ytcaption-agent-cpu" {
  type = "service"
  group "agent" {
    count = 1
    update {
      max_parallel = 0
    }
    scaling {
      enabled = true
      min     = 0
      max     = 5
    }
    task "agent" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["600"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
`

func TestControlPlaneNomadFleet(t *testing.T) {
	t.Parallel()
	addr := nomadDev(t, "", "")
	spec := filepath.Join(t.TempDir(), "agent.nomad.hcl")
	if err := os.WriteFile(spec, []byte(testAgentJob), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nomad", "job", "run", "-detach", spec)
	cmd.Env = append(os.Environ(), "NOMAD_ADDR="+addr)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nomad job run: %v\n%s", err, out)
	}
	r := startReplica(t, server.Config{AdminKey: adminKey, Nomad: server.NomadConfig{Addr: addr,
		ScaleMin: 2, ScaleMax: 3, ScaleInterval: 300 * time.Millisecond}})
	ctx := context.Background()
	auth := map[string]string{"Authorization": "Bearer " + adminKey}

	var nodes api.FleetNodes
	if _, err := call(ctx, "GET", r.srv.URL()+api.PathFleetNodes, auth, nil, &nodes); err != nil {
		t.Fatal(err)
	}
	if len(nodes.Nodes) != 1 || nodes.Nodes[0].Status != "ready" || nodes.Nodes[0].Pool != "default" {
		t.Fatalf("nodes %+v", nodes)
	}
	// Below the autoscaler's minimum: it scales the group up to 2 through
	// Nomad's scaling API and records why.
	eventually(t, "group scaled to 2", func() bool {
		var st struct {
			TaskGroups map[string]struct{ Desired int }
		}
		_, err := call(ctx, "GET", addr+"/v1/job/ytcaption-agent-cpu/scale", nil, nil, &st)
		return err == nil && st.TaskGroups["agent"].Desired == 2
	})
	var as api.Autoscaler
	if _, err := call(ctx, "GET", r.srv.URL()+api.PathFleetAutoscaler, auth, nil, &as); err != nil {
		t.Fatal(err)
	}
	if !as.Enabled || len(as.Decisions) == 0 || as.Decisions[0].From != 1 || as.Decisions[0].To != 2 || !as.Decisions[0].Applied {
		t.Fatalf("autoscaler %+v", as)
	}
	// Nomad keeps the decision as a scaling event on the job.
	var st struct {
		TaskGroups map[string]struct{ Events []struct{ Message string } }
	}
	if _, err := call(ctx, "GET", addr+"/v1/job/ytcaption-agent-cpu/scale", nil, nil, &st); err != nil {
		t.Fatal(err)
	}
	ev := st.TaskGroups["agent"].Events
	if len(ev) == 0 || !strings.Contains(ev[0].Message, "below minimum 2") {
		t.Fatalf("scaling events %+v", ev)
	}

	// An agent placed on that node reports it; draining the agent with
	// nomad_node drains the Nomad node too.
	enr, err := r.client().CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	node := nodes.Nodes[0].ID
	reg, err := api.NewClient(r.srv.URL(), "", nil).Register(ctx, api.RegisterRequest{EnrollmentToken: enr.Token, Name: "nomad-agent",
		Capabilities: api.Capabilities{Slots: 1, Engines: []api.EngineCapability{{Name: "pocketsphinx"}},
			Labels: map[string]string{api.LabelNomadNode: node, api.LabelNomadAlloc: "alloc-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := call(ctx, "GET", r.srv.URL()+api.PathFleetNodes, auth, nil, &nodes); err != nil {
		t.Fatal(err)
	}
	if a := nodes.Nodes[0].Agents; len(a) != 1 || a[0].ID != reg.AgentID || a[0].AllocID != "alloc-1" {
		t.Fatalf("agents on the node: %+v", a)
	}
	var drained api.DrainResponse
	if _, err := call(ctx, "POST", r.srv.URL()+api.PathFleetAgents+"/"+reg.AgentID+"/drain", auth,
		api.DrainRequest{NomadNode: true, DeadlineSeconds: 60}, &drained); err != nil {
		t.Fatal(err)
	}
	var info struct {
		DrainStrategy         any
		SchedulingEligibility string
	}
	if _, err := call(ctx, "GET", addr+"/v1/node/"+node, nil, nil, &info); err != nil {
		t.Fatal(err)
	}
	if drained.NomadNodeID != node || info.SchedulingEligibility != "ineligible" {
		t.Fatalf("drain %+v, node %+v", drained, info)
	}
}
