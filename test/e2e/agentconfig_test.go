package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
	"github.com/ytcaption/ytcaption/test/testenv"
)

// TestAgentFromConfigFile starts an agent with `run --config FILE` and
// nothing else (no flags, no YTCAPTION_AGENT_* variables): it registers
// under the name and labels the file gives, leases and finishes a job.
// Then doctor, reading the same file, reaches the same control plane and
// has the agent's saved credential accepted.
func TestAgentFromConfigFile(t *testing.T) {
	t.Parallel()
	clips := serveClips(t, map[string]string{"hello.mp4": media.MP4(t, media.Speech(t, "Hello and welcome to the show."))})
	s := startServer(t, nil)
	token := s.enroll(t)

	work, state := t.TempDir(), t.TempDir()
	file := filepath.Join(t.TempDir(), "agent.hcl")
	body := fmt.Sprintf(`# written by TestAgentFromConfigFile
server    = %q
token     = %q
name      = "from-config"
state_dir = %q
work_dir  = %q
labels    = { zone = "e2e" }
`, s.url, token, state, work)
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	agentBin := testenv.Binary(t, "ytcaption-agent")
	a := &agent{Proc: testenv.StartProc(t, "from-config", testenv.ChildEnv(), agentBin, "run", "--config", file), workDir: work, stateDir: state}
	s.waitAgents(t, 1, a)

	ctx := context.Background()
	l, err := s.admin.ListAgents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Agents) != 1 || l.Agents[0].Name != "from-config" || l.Agents[0].Capabilities.Labels["zone"] != "e2e" {
		t.Fatalf("agents %+v: want one named from-config with zone=e2e", l.Agents)
	}
	j, err := s.admin.SubmitJob(ctx, api.JobRequest{URL: clips["hello.mp4"].url, Language: "en", Cache: noCache()}, "")
	if err != nil {
		t.Fatal(err)
	}
	j = waitJob(t, s.admin, j.ID)
	mustSucceed(t, j)
	if j.Result.Words == 0 {
		t.Errorf("job %s succeeded with no words", j.ID)
	}
	if !a.didSoon("task completed", j.ID) {
		t.Errorf("the agent logged no completed task:\n%s", a.Tail(50))
	}

	out, stderr, err := tryCLI(t, 2*time.Minute, testenv.ChildEnv(), agentBin, "doctor", "--config", file, "-o", "json")
	if err != nil {
		t.Fatalf("doctor: %v\n%s\n%s", err, out, stderr)
	}
	var rep struct {
		OK     bool `json:"ok"`
		Checks []struct{ Name, Status, Detail, Fix string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor -o json: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, c := range rep.Checks {
		got[c.Name] = c.Status + " " + c.Detail
	}
	for name, want := range map[string]string{"config": "ok " + file, "server": "ok " + s.url, "credential": "ok saved agent credential accepted"} {
		if got[name] != want {
			t.Errorf("doctor %s: %q, want %q", name, got[name], want)
		}
	}
	if !rep.OK {
		t.Errorf("doctor not ok: %+v", rep.Checks)
	}

	// A token the control plane does not know is refused: doctor fails.
	out, _, err = tryCLI(t, 2*time.Minute, testenv.ChildEnv(), agentBin, "doctor", "--config", file, "-o", "json",
		"--state-dir", "", "--token", "yta_unknown_secret")
	if err == nil || !strings.Contains(out, `"name": "credential",
      "status": "fail"`) {
		t.Errorf("doctor with an unknown agent token: %v\n%s", err, out)
	}
}
