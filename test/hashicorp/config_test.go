package hashicorp

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// repoRoot is the repository root, from this file's location.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// hclFiles lists every .hcl and .tf file under the deployment folders.
func hclFiles(t *testing.T) []string {
	t.Helper()
	root := repoRoot(t)
	var files []string
	for _, dir := range []string{"jobs", "nomad", "policies", "terraform"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(p, ".hcl") || strings.HasSuffix(p, ".tf")) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) < 20 {
		t.Fatalf("only %d HCL files found", len(files))
	}
	return files
}

func parse(t *testing.T, path string) *hclsyntax.Body {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCLFile(path)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", path, diags.Error())
	}
	return f.Body.(*hclsyntax.Body)
}

func TestEveryFileParsesAndIsFormatted(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for _, p := range hclFiles(t) {
		rel, _ := filepath.Rel(root, p)
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			parse(t, p)
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// hclwrite.Format is the formatter behind terraform fmt and nomad fmt.
			if got := hclwrite.Format(src); !bytes.Equal(got, src) {
				t.Errorf("%s is not formatted (terraform fmt / nomad fmt)", rel)
			}
		})
	}
}

// blocks returns the blocks of a type, recursively.
func blocks(b *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, blk := range b.Blocks {
		if blk.Type == typ {
			out = append(out, blk)
		}
		out = append(out, blocks(blk.Body, typ)...)
	}
	return out
}

// stringAttr evaluates a literal string attribute ("" if absent or not literal).
func stringAttr(b *hclsyntax.Body, name string) string {
	a, ok := b.Attributes[name]
	if !ok {
		return ""
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.Type().Equals(v.Type()) || !v.IsKnown() || v.IsNull() {
		return ""
	}
	if s, ok := a.Expr.(*hclsyntax.TemplateExpr); ok && s.IsStringLiteral() {
		return v.AsString()
	}
	return ""
}

// varRefs lists var.X references in every expression of a body.
func varRefs(b *hclsyntax.Body) []string {
	var refs []string
	_ = hclsyntax.VisitAll(b, func(n hclsyntax.Node) hcl.Diagnostics {
		if e, ok := n.(hclsyntax.Expression); ok {
			for _, tr := range e.Variables() {
				if tr.RootName() == "var" && len(tr) > 1 {
					if a, ok := tr[1].(hcl.TraverseAttr); ok {
						refs = append(refs, a.Name)
					}
				}
			}
		}
		return nil
	})
	return refs
}

type jobSpec struct {
	file      string
	body      *hclsyntax.Body
	name      string
	variables []string
}

func jobSpecs(t *testing.T) []jobSpec {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(repoRoot(t), "jobs", "*.nomad.hcl"))
	if len(files) != 4 { // control plane, CPU and GPU agents, monitoring
		t.Fatalf("want 4 job specs, got %v", files)
	}
	var out []jobSpec
	for _, f := range files {
		b := parse(t, f)
		js := jobSpec{file: filepath.Base(f), body: b}
		for _, blk := range b.Blocks {
			switch blk.Type {
			case "variable":
				js.variables = append(js.variables, blk.Labels[0])
			case "job":
				js.name = blk.Labels[0]
			}
		}
		out = append(out, js)
	}
	return out
}

func TestJobSpecsReferenceOnlyWhatExists(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	specs := jobSpecs(t)

	// Vault roles defined by Terraform, and the policies they grant.
	vaultTF := parse(t, filepath.Join(root, "terraform", "modules", "vault", "main.tf"))
	roles := map[string]string{} // role -> policy resource name
	for _, blk := range vaultTF.Blocks {
		if blk.Type == "resource" && blk.Labels[0] == "vault_jwt_auth_backend_role" {
			pol := ""
			if a, ok := blk.Body.Attributes["token_policies"]; ok {
				for _, tr := range a.Expr.Variables() {
					pol = tr[1].(hcl.TraverseAttr).Name
				}
			}
			roles[stringAttr(blk.Body, "role_name")] = pol
		}
	}
	policyFile := map[string]string{"control_plane": "ytcaption-control-plane.hcl", "agent": "ytcaption-agent.hcl"}

	// Services registered by the jobs.
	services := map[string]bool{}
	for _, js := range specs {
		for _, svc := range blocks(js.body, "service") {
			services[stringAttr(svc.Body, "name")] = true
		}
	}
	secretRef := regexp.MustCompile(`secret "([^"]+)"`)
	consulRef := regexp.MustCompile(`consul://([a-z0-9-]+)`)

	names := map[string]bool{}
	for _, js := range specs {
		names[js.name] = true
		t.Run(js.file, func(t *testing.T) {
			for _, ref := range varRefs(js.body) {
				if !slices.Contains(js.variables, ref) {
					t.Errorf("var.%s is not declared", ref)
				}
			}
			src, _ := os.ReadFile(filepath.Join(root, "jobs", js.file))
			for _, v := range blocks(js.body, "vault") {
				role := stringAttr(v.Body, "role")
				pol, ok := roles[role]
				if !ok {
					t.Errorf("vault role %q is not defined in terraform/modules/vault", role)
					continue
				}
				// Every secret the job's templates read is allowed by the role's policy.
				polSrc, err := os.ReadFile(filepath.Join(root, "policies", "vault", policyFile[pol]))
				if err != nil {
					t.Fatalf("policy of role %s: %v", role, err)
				}
				for _, m := range secretRef.FindAllStringSubmatch(string(src), -1) {
					if !strings.Contains(string(polSrc), `path "`+m[1]+`"`) {
						t.Errorf("secret %q is not readable under policy %s", m[1], policyFile[pol])
					}
				}
			}
			for _, m := range consulRef.FindAllStringSubmatch(string(src), -1) {
				if !services[m[1]] {
					t.Errorf("consul://%s: no job registers that service", m[1])
				}
			}
		})
	}
	for _, want := range []string{"ytcaption", "ytcaption-agent-cpu", "ytcaption-agent-gpu"} {
		if !names[want] {
			t.Errorf("no job %q", want)
		}
	}
}

func TestJobShapes(t *testing.T) {
	t.Parallel()
	byName := map[string]jobSpec{}
	for _, js := range jobSpecs(t) {
		byName[js.name] = js
	}
	cp := byName["ytcaption"].body
	if len(blocks(cp, "update")) == 0 || len(blocks(cp, "check")) < 1 || len(blocks(cp, "template")) == 0 {
		t.Error("control-plane job needs update, checks and a secrets template")
	}
	for _, u := range blocks(cp, "update") {
		if _, ok := u.Body.Attributes["auto_revert"]; !ok {
			t.Error("control-plane update block without auto_revert")
		}
	}
	gpu := byName["ytcaption-agent-gpu"].body
	jobBlk := blocks(gpu, "job")[0]
	if stringAttr(jobBlk.Body, "type") != "system" || stringAttr(jobBlk.Body, "node_pool") != "gpu" {
		t.Error("GPU agents must be a system job on the gpu node pool")
	}
	devs := blocks(gpu, "device")
	if len(devs) != 1 || devs[0].Labels[0] != "nvidia/gpu" || len(blocks(devs[0].Body, "constraint")) == 0 {
		t.Error("GPU agents need device \"nvidia/gpu\" with a memory constraint")
	}
	cpu := byName["ytcaption-agent-cpu"].body
	groups := blocks(cpu, "group")
	if len(groups) != 1 || groups[0].Labels[0] != "agent" || len(blocks(groups[0].Body, "scaling")) != 1 {
		t.Error("CPU agent job needs group \"agent\" with a scaling block (the autoscaler's default target)")
	}
}

func TestTerraformJobVarsExist(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	vars := map[string][]string{}
	for _, js := range jobSpecs(t) {
		vars[js.file] = js.variables
	}
	tf := parse(t, filepath.Join(root, "terraform", "modules", "nomad", "main.tf"))
	fileRef := regexp.MustCompile(`jobs_dir\}/([a-z-]+\.nomad\.hcl)`)
	src, _ := os.ReadFile(filepath.Join(root, "terraform", "modules", "nomad", "main.tf"))
	_ = fileRef.FindAllStringSubmatch(string(src), -1)
	n := 0
	for _, blk := range tf.Blocks {
		if blk.Type != "resource" || blk.Labels[0] != "nomad_job" {
			continue
		}
		n++
		rng := blk.Body.Attributes["jobspec"].SrcRange
		m := fileRef.FindStringSubmatch(string(src[rng.Start.Byte:rng.End.Byte]))
		if m == nil {
			t.Fatalf("nomad_job.%s: jobspec is not a file in jobs_dir", blk.Labels[1])
		}
		declared, ok := vars[m[1]]
		if !ok {
			t.Fatalf("nomad_job.%s: %s does not exist", blk.Labels[1], m[1])
		}
		for _, h := range blocks(blk.Body, "hcl2") {
			obj, ok := h.Body.Attributes["vars"].Expr.(*hclsyntax.ObjectConsExpr)
			if !ok {
				t.Fatalf("nomad_job.%s: hcl2.vars is not an object", blk.Labels[1])
			}
			for _, item := range obj.Items {
				k := hcl.ExprAsKeyword(item.KeyExpr)
				if !slices.Contains(declared, k) {
					t.Errorf("nomad_job.%s sets %q, which %s does not declare", blk.Labels[1], k, m[1])
				}
			}
		}
	}
	if n != 3 {
		t.Errorf("want 3 nomad_job resources, got %d", n)
	}
}

func TestPoliciesReferencedByTerraformExist(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	ref := regexp.MustCompile(`file\("\$\{var\.policies_dir\}/([^"]+)"\)`)
	for _, kind := range []string{"vault", "consul", "nomad"} {
		src, err := os.ReadFile(filepath.Join(root, "terraform", "modules", kind, "main.tf"))
		if err != nil {
			t.Fatal(err)
		}
		ms := ref.FindAllStringSubmatch(string(src), -1)
		if len(ms) == 0 {
			t.Errorf("terraform/modules/%s reads no policy", kind)
		}
		for _, m := range ms {
			if _, err := os.Stat(filepath.Join(root, "policies", kind, m[1])); err != nil {
				t.Errorf("terraform/modules/%s: policy %s: %v", kind, m[1], err)
			}
		}
	}
	// The node pool the GPU job needs is created by Terraform and joined by the GPU client config.
	tf, _ := os.ReadFile(filepath.Join(root, "terraform", "modules", "nomad", "main.tf"))
	cfg, _ := os.ReadFile(filepath.Join(root, "nomad", "client-gpu.hcl"))
	if !strings.Contains(string(tf), `resource "nomad_node_pool" "gpu"`) || !strings.Contains(string(cfg), `node_pool  = "gpu"`) {
		t.Error("node pool gpu must be created in terraform/modules/nomad and joined in nomad/client-gpu.hcl")
	}
	// Every module has a README.
	mods, _ := filepath.Glob(filepath.Join(root, "terraform", "modules", "*"))
	for _, m := range mods {
		if _, err := os.Stat(filepath.Join(m, "README.md")); err != nil {
			t.Errorf("%s has no README.md", m)
		}
	}
}
