package hashicorp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	nomad "github.com/hashicorp/nomad/api"
	vaultapi "github.com/hashicorp/vault/api"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ytcaption/ytcaption/test/testenv"
)

// providersHowTo ends the skip message when Terraform cannot install a
// provider.
const providersHowTo = "terraform init could not install the providers (it downloads them from the registry, " +
	"which needs network access); point TF_CLI_CONFIG_FILE at a CLI configuration whose dev_overrides name " +
	"them" + howTo

// tfWorkdir copies what the environments read (terraform/, jobs/,
// policies/) into a temporary directory, so init and state never touch the
// tree, and returns the copy's root.
func tfWorkdir(t *testing.T) string {
	t.Helper()
	root, dst := repoRoot(t), t.TempDir()
	for _, dir := range []string{"terraform", "jobs", "policies"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			// A developer's own init or state next to an environment is not copied.
			if d.IsDir() && d.Name() == ".terraform" || strings.HasPrefix(d.Name(), "terraform.tfstate") ||
				d.Name() == "terraform.tfvars" || d.Name() == ".terraform.lock.hcl" {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// terraform runs the terraform CLI in dir with env added to a clean
// environment (no provider settings inherited) and returns its output.
type terraform struct {
	t   *testing.T
	bin string
	dir string
	env []string
}

func newTerraform(t *testing.T, dir string, env ...string) *terraform {
	t.Helper()
	var base []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "NOMAD_"), strings.HasPrefix(k, "VAULT_"), strings.HasPrefix(k, "BAO_"),
			strings.HasPrefix(k, "MINIO_"), strings.HasPrefix(k, "TF_VAR_"), k == "TF_DATA_DIR", k == "AWS_CA_BUNDLE":
			continue
		}
		base = append(base, kv)
	}
	return &terraform{t: t, bin: binary(t, "terraform"), dir: dir,
		env: append(append(base, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1"), env...)}
}

func (tf *terraform) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, tf.bin, append([]string{"-chdir=" + tf.dir}, args...)...)
	cmd.Env = tf.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("terraform %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), err
}

// must runs terraform and fails the test on error.
func (tf *terraform) must(ctx context.Context, args ...string) string {
	tf.t.Helper()
	out, err := tf.run(ctx, args...)
	if err != nil {
		tf.t.Fatal(err)
	}
	return out
}

// missingProvider finds the providers terraform validate lacks.
var missingProvider = regexp.MustCompile(`requires provider\s+(\S+),`)

// validate installs the modules and validates the configuration. Providers
// found through the CLI configuration's dev_overrides need no init (which
// would query the registry for them); a missing provider is installed with
// terraform init, and the test skips when that cannot be done here.
func (tf *terraform) validate(ctx context.Context) {
	tf.t.Helper()
	tf.must(ctx, "get", "-no-color")
	out, err := tf.run(ctx, "validate", "-no-color")
	if err == nil {
		return
	}
	var missing []string
	for _, m := range missingProvider.FindAllStringSubmatch(out, -1) {
		missing = append(missing, m[1])
	}
	if len(missing) == 0 {
		tf.t.Fatal(err)
	}
	if out, err := tf.run(ctx, "init", "-input=false", "-backend=false", "-no-color"); err != nil {
		if strings.Contains(out, "Failed to query available provider packages") || strings.Contains(out, "Failed to install provider") {
			tf.t.Skipf("missing %s; %s: %s", strings.Join(missing, ", "), providersHowTo, firstError(out))
		}
		tf.t.Fatal(err)
	}
	tf.must(ctx, "validate", "-no-color")
}

// firstError is the first "Error:" line of Terraform's output.
func firstError(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if l = strings.Trim(l, "│╷╵ "); strings.HasPrefix(l, "Error:") {
			return l
		}
	}
	return strings.TrimSpace(out)
}

func TestTerraformFmt(t *testing.T) {
	t.Parallel()
	tf := newTerraform(t, repoRoot(t))
	tf.must(context.Background(), "fmt", "-check", "-recursive", "-diff", "-no-color", "terraform")
}

// TestTerraformValidate validates every environment, with the modules and
// the providers' schemas: a wrong argument name or type fails here.
func TestTerraformValidate(t *testing.T) {
	t.Parallel()
	work := tfWorkdir(t)
	envs, _ := filepath.Glob(filepath.Join(work, "terraform", "environments", "*"))
	if len(envs) < 2 {
		t.Fatalf("environments: %v", envs)
	}
	for _, env := range envs {
		t.Run(filepath.Base(env), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			newTerraform(t, env).validate(ctx)
		})
	}
}

// TestTerraformApplyDev applies terraform/environments/dev to a Nomad dev
// agent, an OpenBao (or Vault) dev server and the test MinIO, checks what
// it made through the servers' own clients, destroys it and checks that
// nothing is left.
func TestTerraformApplyDev(t *testing.T) {
	t.Parallel()
	binary(t, "vault", "bao")
	binary(t, "nomad")
	ctx := context.Background()
	// Validate first: without the providers the test skips before starting
	// any server.
	tf := newTerraform(t, filepath.Join(tfWorkdir(t), "terraform", "environments", "dev"))
	tf.validate(ctx)
	s3 := testenv.MinIO(t)
	other := testenv.MinIO(t) // a bucket the scoped user must not reach

	vaultAddr := vaultDev(t)
	nomadToken := uuid.NewString()
	nomadAddr := nomadDev(t, fmt.Sprintf(`
vault {
  enabled = true
  address = %q
  default_identity {
    aud = ["vault.io"]
    ttl = "1h"
  }
}
`, vaultAddr), nomadToken)

	s3URL, err := url.Parse(s3.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	const adminKey, enrollment = "tf-dev-admin-key", "yte_tf-dev-enrollment"
	appUser := s3.Bucket + "-app"
	tf.env = append(tf.env, "NOMAD_TOKEN="+nomadToken, "VAULT_TOKEN=root",
		"MINIO_USER="+s3.AccessKey, "MINIO_PASSWORD="+s3.SecretKey,
		"TF_VAR_nomad_addr="+nomadAddr, "TF_VAR_vault_addr="+vaultAddr,
		"TF_VAR_minio_server="+s3URL.Host, fmt.Sprintf("TF_VAR_minio_ssl=%t", s3URL.Scheme == "https"),
		"TF_VAR_bucket="+s3.Bucket, "TF_VAR_minio_app_user="+appUser,
		"TF_VAR_artifact_url=http://127.0.0.1:9/ytcaption_linux_amd64.tar.gz",
		"TF_VAR_admin_key="+adminKey, "TF_VAR_enrollment_token="+enrollment)
	nc, err := nomad.NewClient(&nomad.Config{Address: nomadAddr, SecretID: nomadToken})
	if err != nil {
		t.Fatal(err)
	}
	// Destroy even when a check fails, so the shared MinIO keeps no user.
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			if _, err := tf.run(ctx, "destroy", "-auto-approve", "-no-color"); err != nil {
				t.Error(err)
			}
		}
	})
	t.Logf("terraform apply:\n%s", tail([]byte(tf.must(ctx, "apply", "-auto-approve", "-no-color")), 4000))
	// A second plan finds nothing to change: no attribute the servers
	// normalise differently from the configuration.
	if _, err := tf.run(ctx, "plan", "-detailed-exitcode", "-no-color"); err != nil {
		t.Errorf("plan after apply is not empty: %v", err)
	}
	var outputs struct {
		Jobs           struct{ Value []string }
		GPUNodePool    struct{ Value string } `json:"gpu_node_pool"`
		Bucket         struct{ Value string }
		MinioAccessKey struct{ Value string } `json:"minio_access_key"`
		MinioSecretKey struct{ Value string } `json:"minio_secret_key"`
	}
	if err := json.Unmarshal([]byte(tf.must(ctx, "output", "-json")), &outputs); err != nil {
		t.Fatal(err)
	}

	vc, err := vaultapi.NewClient(&vaultapi.Config{Address: vaultAddr})
	if err != nil {
		t.Fatal(err)
	}
	vc.SetToken("root")
	root := minioClient(t, s3URL, s3.AccessKey, s3.SecretKey)
	app := minioClient(t, s3URL, outputs.MinioAccessKey.Value, outputs.MinioSecretKey.Value)
	jobs := []string{"ytcaption", "ytcaption-agent-cpu", "ytcaption-agent-gpu"}
	nomadPolicies := []string{"ytcaption-control-plane", "ytcaption-operator"}
	vaultPolicies := []string{"ytcaption-control-plane", "ytcaption-agent", "ytcaption-operator"}

	t.Run("nomad", func(t *testing.T) {
		if p, _, err := nc.NodePools().Info("gpu", nil); err != nil || outputs.GPUNodePool.Value != "gpu" {
			t.Errorf("node pool gpu: %v %v (output %q)", p, err, outputs.GPUNodePool.Value)
		}
		if strings.Join(outputs.Jobs.Value, ",") != strings.Join(jobs, ",") {
			t.Errorf("jobs output %v", outputs.Jobs.Value)
		}
		for _, id := range jobs {
			j, _, err := nc.Jobs().Info(id, nil)
			if err != nil {
				t.Errorf("job %s: %v", id, err)
				continue
			}
			if j.Meta["version"] != "0.1.0" {
				t.Errorf("job %s: meta %v", id, j.Meta)
			}
		}
		if j, _, err := nc.Jobs().Info("ytcaption-agent-gpu", nil); err == nil && (*j.Type != "system" || *j.NodePool != "gpu") {
			t.Errorf("GPU job type %s pool %s", *j.Type, *j.NodePool)
		}
		if j, _, err := nc.Jobs().Info("ytcaption", nil); err == nil && *j.TaskGroups[0].Count != 1 {
			t.Errorf("control plane replicas %d", *j.TaskGroups[0].Count)
		}
		for _, name := range nomadPolicies {
			if _, _, err := nc.ACLPolicies().Info(name, nil); err != nil {
				t.Errorf("ACL policy %s: %v", name, err)
			}
		}
		if p, _, err := nc.ACLPolicies().Info("ytcaption-control-plane", nil); err == nil && (p.JobACL == nil || p.JobACL.JobID != "ytcaption") {
			t.Errorf("ytcaption-control-plane is not bound to job ytcaption: %+v", p.JobACL)
		}
	})

	t.Run("vault", func(t *testing.T) {
		for _, name := range vaultPolicies {
			want, err := os.ReadFile(filepath.Join(repoRoot(t), "policies", "vault", name+".hcl"))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := vc.Sys().GetPolicy(name); err != nil || got != string(want) {
				t.Errorf("policy %s: %v\n%s", name, err, got)
			}
		}
		auths, err := vc.Sys().ListAuth()
		if err != nil {
			t.Fatal(err)
		}
		if a := auths["jwt-nomad/"]; a == nil || a.Type != "jwt" {
			t.Errorf("auth jwt-nomad: %+v", a)
		}
		if a := auths["approle/"]; a == nil || a.Type != "approle" {
			t.Errorf("auth approle: %+v", a)
		}
		role, err := vc.Logical().Read("auth/jwt-nomad/role/ytcaption-agent")
		if err != nil || role == nil {
			t.Fatalf("role ytcaption-agent: %v", err)
		}
		if got := fmt.Sprint(role.Data["bound_claims"]); got != "map[nomad_job_id:[ytcaption-agent-gpu ytcaption-agent-cpu] nomad_namespace:[default]]" {
			t.Errorf("ytcaption-agent bound_claims %s", got)
		}
		cp, err := vc.KVv2("secret").Get(ctx, "ytcaption")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"admin_key": adminKey, "s3_bucket": s3.Bucket, "s3_endpoint": s3.Endpoint,
			"s3_access_key": appUser, "s3_secret_key": outputs.MinioSecretKey.Value, "database_url": "", "redis_url": ""}
		if fmt.Sprint(cp.Data) != fmt.Sprint(want) {
			t.Errorf("secret/ytcaption:\n got %v\nwant %v", cp.Data, want)
		}
		ag, err := vc.KVv2("secret").Get(ctx, "ytcaption-agent")
		if err != nil || ag.Data["enrollment_token"] != enrollment {
			t.Errorf("secret/ytcaption-agent: %v %v", ag, err)
		}
		// Written write-only: the values are in Vault, not in the state.
		state, err := os.ReadFile(filepath.Join(tf.dir, "terraform.tfstate"))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{adminKey, enrollment} {
			if bytes.Contains(state, []byte(s)) {
				t.Errorf("the state holds the secret %q", s)
			}
		}
	})

	t.Run("minio", func(t *testing.T) {
		if outputs.Bucket.Value != s3.Bucket || outputs.MinioAccessKey.Value != appUser {
			t.Errorf("outputs bucket %q user %q", outputs.Bucket.Value, outputs.MinioAccessKey.Value)
		}
		lc, err := root.GetBucketLifecycle(ctx, s3.Bucket)
		if err != nil || len(lc.Rules) != 1 || lc.Rules[0].ID != "expire-media" || lc.Rules[0].Expiration.Days != 7 {
			t.Errorf("lifecycle %+v: %v", lc, err)
		}
		if err := root.MakeBucket(ctx, other.Bucket, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
		put := func(bucket string) error {
			_, err := app.PutObject(ctx, bucket, "captions/probe.txt", strings.NewReader("probe"), 5, minio.PutObjectOptions{})
			return err
		}
		// A new user can take a moment to be known to every MinIO node.
		eventually(t, "the scoped user writes its bucket", func() bool { return put(s3.Bucket) == nil })
		if err := app.RemoveObject(ctx, s3.Bucket, "captions/probe.txt", minio.RemoveObjectOptions{}); err != nil {
			t.Error(err)
		}
		if err := put(other.Bucket); minio.ToErrorResponse(err).Code != "AccessDenied" {
			t.Errorf("scoped user writing another bucket: %v, want AccessDenied", err)
		}
	})
	// The jobs log in to Vault with their workload identities and render
	// their secrets: run each as Terraform registered it, with only the
	// driver swapped for one this dev agent has (raw_exec; no artifact, no
	// Consul service), printing what its template put in its environment.
	t.Run("workload identity", func(t *testing.T) {
		printToken := `echo "token=$YTCAPTION_AGENT_TOKEN"`
		got, events := runAsRegistered(t, nc, "ytcaption-agent-cpu", "default", printToken)
		if want := "token=" + enrollment; got != want {
			t.Errorf("agent task environment %q, want %q; events:%s", got, want, events)
		}
		got, events = runAsRegistered(t, nc, "ytcaption", "default",
			`echo "s3=$YTCAPTION_S3_ENDPOINT/$YTCAPTION_S3_BUCKET $YTCAPTION_S3_ACCESS_KEY:$YTCAPTION_S3_SECRET_KEY admin=$YTCAPTION_ADMIN_KEY"`)
		if want := fmt.Sprintf("s3=%s/%s %s:%s admin=%s", s3.Endpoint, s3.Bucket, appUser, outputs.MinioSecretKey.Value, adminKey); got != want {
			t.Errorf("control-plane task environment %q, want %q; events:%s", got, want, events)
		}
		// The same job in another namespace is refused: the roles bind the
		// namespace, not only the job name.
		if _, err := nc.Namespaces().Register(&nomad.Namespace{Name: "elsewhere"}, nil); err != nil {
			t.Fatal(err)
		}
		// After the job's own cleanup (cleanups run last first).
		t.Cleanup(func() {
			if _, _, err := nc.Jobs().Deregister("ytcaption-agent-cpu", true, &nomad.WriteOptions{Namespace: "elsewhere"}); err != nil {
				t.Error(err)
			}
			if _, err := nc.Namespaces().Delete("elsewhere", nil); err != nil {
				t.Error(err)
			}
		})
		got, events = runAsRegistered(t, nc, "ytcaption-agent-cpu", "elsewhere", printToken)
		if got != "" || !strings.Contains(events, "claim") {
			t.Errorf("agent job in namespace elsewhere: printed %q; events:%s", got, events)
		}

	})
	if t.Failed() {
		return
	}

	t.Logf("terraform destroy:\n%s", tail([]byte(tf.must(ctx, "destroy", "-auto-approve", "-no-color")), 2000))
	destroyed = true
	for _, id := range jobs {
		if _, _, err := nc.Jobs().Info(id, nil); !notFound(err) {
			t.Errorf("job %s after destroy: %v", id, err)
		}
	}
	if _, _, err := nc.NodePools().Info("gpu", nil); !notFound(err) {
		t.Errorf("node pool gpu after destroy: %v", err)
	}
	for _, name := range nomadPolicies {
		if _, _, err := nc.ACLPolicies().Info(name, nil); !notFound(err) {
			t.Errorf("Nomad ACL policy %s after destroy: %v", name, err)
		}
	}
	for _, name := range vaultPolicies {
		if got, err := vc.Sys().GetPolicy(name); err != nil || got != "" {
			t.Errorf("Vault policy %s after destroy: %q %v", name, got, err)
		}
	}
	auths, err := vc.Sys().ListAuth()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"jwt-nomad/", "approle/"} {
		if auths[path] != nil {
			t.Errorf("auth %s after destroy", path)
		}
	}
	for _, name := range []string{"ytcaption", "ytcaption-agent"} {
		if _, err := vc.KVv2("secret").GetMetadata(ctx, name); !errors.Is(err, vaultapi.ErrSecretNotFound) {
			t.Errorf("secret/%s after destroy: %v", name, err)
		}
	}
	if ok, err := root.BucketExists(ctx, s3.Bucket); err != nil || ok {
		t.Errorf("bucket after destroy: %v %v", ok, err)
	}
	if _, err := app.ListBuckets(ctx); minio.ToErrorResponse(err).Code != "InvalidAccessKeyId" {
		t.Errorf("scoped user after destroy: %v, want InvalidAccessKeyId", err)
	}
}

// runAsRegistered registers a copy of a job in namespace ns with its first
// task on the raw_exec driver running script (then sleeping), keeping its
// vault, identity and template blocks. It returns the first line the task
// prints, or, if Nomad kills the task because it could not log in to
// Vault, the task's events.
func runAsRegistered(t *testing.T, nc *nomad.Client, jobID, ns, script string) (line, events string) {
	t.Helper()
	job, _, err := nc.Jobs().Info(jobID, nil)
	if err != nil {
		t.Fatal(err)
	}
	job.Namespace = pointer(ns)
	tg := job.TaskGroups[0]
	task := tg.Tasks[0]
	tg.Services, tg.Count = nil, pointer(1)
	// Without its services the group no longer needs Consul: drop the
	// constraint Nomad added for them at registration.
	tg.Constraints = slices.DeleteFunc(tg.Constraints, func(c *nomad.Constraint) bool { return c.LTarget == "${attr.consul.version}" })
	task.Driver, task.Artifacts = "raw_exec", nil
	task.Config = map[string]any{"command": "/bin/sh", "args": []string{"-c", script + "; exec sleep 600"}}
	task.KillTimeout = pointer(5 * time.Second)
	task.Resources = &nomad.Resources{CPU: pointer(20), MemoryMB: pointer(32)}
	q := &nomad.QueryOptions{Namespace: ns}
	reg, _, err := nc.Jobs().Register(job, &nomad.WriteOptions{Namespace: ns})
	if err != nil {
		t.Fatalf("register %s: %v", jobID, err)
	}
	t.Cleanup(func() { stopJob(t, nc, jobID, ns) })
	defer func() {
		if t.Failed() {
			evals, _, _ := nc.Jobs().Evaluations(jobID, q)
			for _, e := range evals {
				for tg, m := range e.FailedTGAllocs {
					events += fmt.Sprintf("\n  eval %s: group %s not placed: %v %v", e.ID, tg, m.ConstraintFiltered, m.DimensionExhausted)
				}
			}
			t.Logf("%s task events: %s", jobID, events)
		}
	}()
	eventually(t, jobID+" printing its environment", func() bool {
		stubs, _, err := nc.Jobs().Allocations(jobID, false, q)
		if err != nil {
			return false
		}
		for _, stub := range stubs {
			if stub.EvalID != reg.EvalID {
				continue
			}
			events = ""
			for _, st := range stub.TaskStates {
				for _, e := range st.Events {
					events += fmt.Sprintf("\n  %s: %s", e.Type, e.DisplayMessage)
				}
			}
			if strings.Contains(events, "Vault: failed to derive vault token") {
				return true
			}
			if stub.ClientStatus != "running" {
				continue
			}
			alloc, _, err := nc.Allocations().Info(stub.ID, q)
			if err != nil {
				return false
			}
			r, err := nc.AllocFS().Cat(alloc, "alloc/logs/"+task.Name+".stdout.0", q)
			if err != nil {
				return false
			}
			b, _ := io.ReadAll(r)
			r.Close()
			line, _, _ = strings.Cut(string(b), "\n")
			return line != ""
		}
		return false
	})
	return line, events
}

// stopJob stops a job and waits until its tasks have exited: a dev agent
// that exits first leaves them running.
func stopJob(t *testing.T, nc *nomad.Client, jobID, ns string) {
	t.Helper()
	if _, _, err := nc.Jobs().Deregister(jobID, false, &nomad.WriteOptions{Namespace: ns}); err != nil {
		t.Errorf("stop %s: %v", jobID, err)
		return
	}
	eventually(t, jobID+" stopped", func() bool {
		stubs, _, err := nc.Jobs().Allocations(jobID, false, &nomad.QueryOptions{Namespace: ns})
		if err != nil {
			return false
		}
		for _, a := range stubs {
			if a.ClientStatus == "pending" || a.ClientStatus == "running" {
				return false
			}
		}
		return true
	})
}

func pointer[T any](v T) *T { return &v }

func minioClient(t *testing.T, endpoint *url.URL, user, secret string) *minio.Client {
	t.Helper()
	c, err := minio.New(endpoint.Host, &minio.Options{Creds: credentials.NewStaticV4(user, secret, ""), Secure: endpoint.Scheme == "https"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// notFound tells a Nomad API 404 from other errors.
func notFound(err error) bool {
	var ue nomad.UnexpectedResponseError
	return errors.As(err, &ue) && ue.StatusCode() == 404
}
