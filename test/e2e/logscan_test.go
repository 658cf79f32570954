package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
	"github.com/ytcaption/ytcaption/test/testenv"
)

// TestLogsHoldNoSecrets runs a full flow — key creation, enrollment, an
// upload and a URL job through MinIO presigned URLs, captions — with debug
// logging on the server and the agent, then scans every line they wrote
// for each secret that was in play.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	wav := media.Speech(t, "Secrets stay out of the logs.")
	mp4 := media.MP4(t, wav)
	clips := serveClips(t, map[string]string{"s.mp4": mp4})
	env := append(productionEnv(t), "YTCAPTION_LOG_LEVEL=debug")
	s := startServer(t, env)
	enrollment := s.enroll(t)
	a := s.startAgentEnv(t, enrollment, "scanned", []string{"YTCAPTION_AGENT_LOG_LEVEL=debug"})
	s.waitAgents(t, 1, a)
	ctx := context.Background()

	userKey := singleLine(t, "keys create", runCLI(t, s.cliEnv(), testenv.Binary(t, "ytcaption"), "keys", "create", "--tenant", "scan", "--role", "submitter"))
	user := api.NewClient(s.url, userKey, nil)
	j, err := user.SubmitJob(ctx, api.JobRequest{URL: clips["s.mp4"].url + "?token=query-secret-123456"}, "")
	if err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, waitJob(t, user, j.ID))
	f, _ := os.Open(mp4)
	defer f.Close()
	u, err := user.UploadJob(ctx, api.JobRequest{Cache: noCache()}, "s.mp4", f, "")
	if err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, waitJob(t, user, u.ID))
	if err := user.Captions(ctx, u.ID, api.CaptionOptions{Format: "srt"}, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}

	// The agent's own credential, from its state directory.
	var agentToken string
	_ = filepath.WalkDir(a.stateDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			if m := regexp.MustCompile(`yta_[A-Za-z0-9]+_[A-Za-z0-9_-]+`).Find(b); m != nil {
				agentToken = string(m)
			}
		}
		return nil
	})
	if agentToken == "" {
		t.Fatal("no agent credential found in the state directory")
	}
	// A token is <prefix>_<id>_<secret>; the secret itself may contain "_".
	secretOf := func(tok string) string { return strings.SplitN(tok, "_", 3)[2] }
	secrets := map[string]string{
		"admin key":         s.key,
		"api key secret":    secretOf(userKey),
		"enrollment secret": secretOf(enrollment),
		"agent secret":      secretOf(agentToken),
		"s3 secret key":     envValue(env, "YTCAPTION_S3_SECRET_KEY"),
		"url query secret":  "query-secret-123456",
	}
	presigned := regexp.MustCompile(`(?i)x-amz-(signature|credential)=[0-9a-z%/_-]{6,}`)
	logs := map[string]string{"server": s.srv.Output(), "agent": a.Output()}
	for name, text := range logs {
		if !strings.Contains(text, "level=DEBUG") && !strings.Contains(text, `"level":"DEBUG"`) {
			t.Errorf("%s log has no debug lines: the scan would prove nothing", name)
		}
		for what, secret := range secrets {
			if secret != "" && strings.Contains(text, secret) {
				t.Errorf("%s log contains the %s", name, what)
			}
		}
		if m := presigned.FindString(text); m != "" {
			t.Errorf("%s log contains a presigned URL signature: %s", name, m)
		}
	}
	t.Logf("scanned %d bytes of server log and %d bytes of agent log", len(logs["server"]), len(logs["agent"]))
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}
