package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/cli"
)

const goodToken = "yta_agent1_secret"

// fakeControlPlane answers what doctor asks: /healthz, the heartbeat
// probe, which passes the credential check (400 for the bad progress) only
// for goodToken, and an empty artifact list.
func fakeControlPlane(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/healthz":
			fmt.Fprint(w, `{"status":"ok"}`)
		case r.URL.Path == "/v1/agent/artifacts" && r.Header.Get("Authorization") == "Bearer "+goodToken:
			fmt.Fprint(w, `{"artifacts":[]}`)
		case strings.HasPrefix(r.URL.Path, "/v1/agent/tasks/") && r.Header.Get("Authorization") == "Bearer "+goodToken:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"code":"invalid_request","message":"progress must be between 0 and 1"}}`)
		default:
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"code":"unauthorized","message":"invalid credentials"}}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// fakeTool writes a script that prints out.
func fakeTool(t *testing.T, dir, name, out string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho '"+out+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

type report struct {
	OK     bool `json:"ok"`
	Checks []struct {
		Name, Status, Detail, Fix string
	} `json:"checks"`
}

func (r report) check(name string) (status, detail, fix string) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c.Status, c.Detail, c.Fix
		}
	}
	return "", "", ""
}

func doctor(t *testing.T, env map[string]string, args ...string) (report, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), append([]string{"doctor", "-o", "json"}, args...), &out, &errb,
		func(k string) string { return env[k] })
	var r report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("doctor -o json printed %q (%v); stderr %q", out.String(), err, errb.String())
	}
	if r.OK != (code == 0) {
		t.Errorf("ok %v with exit code %d", r.OK, code)
	}
	return r, errb.String(), code
}

// TestDoctor runs doctor against fake tools and a fake control plane: each
// problem fails or warns with what to do next, and only failures make the
// exit code non-zero.
func TestDoctor(t *testing.T) {
	t.Parallel()
	server := fakeControlPlane(t)
	bin := t.TempDir()
	today := time.Now().Format("2006.01.02")
	tools := []string{
		"--yt-dlp", fakeTool(t, bin, "yt-dlp", today),
		"--ffmpeg", fakeTool(t, bin, "ffmpeg", "ffmpeg version 6.1"),
		"--ffprobe", fakeTool(t, bin, "ffprobe", "ffprobe version 6.1"),
	}
	oldYTDLP := fakeTool(t, bin, "yt-dlp-old", "2023.03.04")
	good := append([]string{"--config", "", "--server", server, "--token", goodToken, "--state-dir", ""}, tools...)
	with := func(extra ...string) []string { return append(append([]string{}, good...), extra...) }

	type want struct{ name, status, detail, fix string }
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want []want
	}{
		{"ready", good, nil, 0, []want{
			{"config", "ok", "no configuration file", ""}, {"yt-dlp", "ok", today, ""}, {"ffmpeg", "ok", "ffmpeg version 6.1", ""},
			{"engine pocketsphinx", "ok", "en-us", ""}, {"server", "ok", server, ""}, {"credential", "ok", "agent token accepted", ""},
		}},
		{"old yt-dlp", with("--yt-dlp", oldYTDLP), nil, 0, []want{
			{"yt-dlp age", "warn", `yt-dlp 2023.03.04 is \d+ days old`, "ytcaption artifacts push ./yt-dlp --name yt-dlp --kind tool`.*`pip install -U yt-dlp`"},
		}},
		{"old nightly yt-dlp", with("--yt-dlp", fakeTool(t, bin, "yt-dlp-nightly", "2023.03.04.123456")), nil, 0, []want{
			{"yt-dlp age", "warn", `yt-dlp 2023.03.04.123456 is \d+ days old`, "pip install -U yt-dlp"},
		}},
		{"no yt-dlp", with("--yt-dlp", filepath.Join(bin, "none")), nil, 0, []want{
			{"yt-dlp", "warn", "not found", "pip install -U yt-dlp"},
		}},
		{"no ffmpeg", with("--ffmpeg", filepath.Join(bin, "none")), nil, 1, []want{
			{"ffmpeg", "fail", "not found", "`sudo apt install ffmpeg`.*set ffmpeg in /etc/ytcaption/agent.hcl"},
		}},
		{"no engine", with("--sphinx-model-dir", filepath.Join(bin, "none")), nil, 1, []want{
			{"engine pocketsphinx", "warn", "model", "apt install pocketsphinx-en-us"},
			{"engine whisper-cpp", "warn", "", "whisper-cli"},
			{"engines", "fail", "no speech engine", "apt install pocketsphinx"},
		}},
		{"prepare only needs no engine", with("--sphinx-model-dir", filepath.Join(bin, "none"), "--roles", "prepare"), nil, 0, nil},
		{"default engine missing", with("--engine", "whisper-cpp"), nil, 1, []want{
			{"engines", "fail", `"whisper-cpp" cannot run here`, "set engine"},
		}},
		{"whisper model missing", with("--whisper-cli", fakeTool(t, bin, "whisper-cli", "usage")), nil, 0, []want{
			{"engine whisper-cpp", "warn", "no model", "ytcaption artifacts push ggml-base.en.bin --name ggml-base.en.bin --kind model"},
		}},
		{"server unreachable", with("--server", "http://127.0.0.1:1"), nil, 1, []want{
			{"server", "fail", "unreachable", "curl http://127.0.0.1:1/healthz"},
		}},
		{"no server", with("--server", ""), nil, 1, []want{
			{"server", "fail", "no control plane", `set server = "https://…"`},
		}},
		{"credential refused", with("--token", "yta_agent1_wrong"), nil, 1, []want{
			{"credential", "fail", "refused", "`ytcaption agents enroll`"},
		}},
		{"no token", with("--token", ""), nil, 1, []want{
			{"credential", "fail", "no token", "`ytcaption agents enroll`.*token = \"yte_…\""},
		}},
		{"enrollment token", with("--token", "yte_e_secret"), nil, 0, []want{
			{"credential", "ok", "not checked", ""},
		}},
		{"bad roles", with("--roles", "merge"), nil, 1, []want{{"roles", "fail", `role "merge"`, "prepare, transcribe"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, stderr, code := doctor(t, tt.env, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr %q; report %+v", code, tt.code, stderr, r)
			}
			for _, w := range tt.want {
				status, detail, fix := r.check(w.name)
				if status != w.status || !regexp.MustCompile(w.detail).MatchString(detail) || !regexp.MustCompile(w.fix).MatchString(fix) {
					t.Errorf("check %s: %s %q fix %q; want %s %q fix %q", w.name, status, detail, fix, w.status, w.detail, w.fix)
				}
			}
		})
	}
}

// TestDoctorConfigFile: doctor checks the server and token the agent's
// configuration file names, and a broken file is a failure naming its line.
func TestDoctorConfigFile(t *testing.T) {
	t.Parallel()
	server := fakeControlPlane(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "agent.hcl")
	body := fmt.Sprintf("server = %q\ntoken = %q\nstate_dir = %q\n", server, goodToken, dir)
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r, _, _ := doctor(t, map[string]string{"YTCAPTION_AGENT_CONFIG": file})
	if s, d, _ := r.check("config"); s != "ok" || d != file {
		t.Errorf("config check: %s %q", s, d)
	}
	if s, d, _ := r.check("credential"); s != "ok" || d != "agent token accepted" {
		t.Errorf("credential from the file: %s %q", s, d)
	}

	// A credential saved by a registered agent is what doctor checks.
	cred := fmt.Sprintf(`{"server":%q,"agent_id":"agent1","token":"yta_agent1_stale"}`, server)
	if err := os.WriteFile(filepath.Join(dir, "credential.json"), []byte(cred), 0o600); err != nil {
		t.Fatal(err)
	}
	r, _, code := doctor(t, map[string]string{"YTCAPTION_AGENT_CONFIG": file})
	if s, _, fix := r.check("credential"); code == 0 || s != "fail" || !strings.Contains(fix, filepath.Join(dir, "credential.json")) {
		t.Errorf("refused saved credential: exit %d, %s, fix %q", code, s, fix)
	}

	bad := filepath.Join(dir, "bad.hcl")
	if err := os.WriteFile(bad, []byte("server = \"http://x\"\nconcurency = 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, _, code = doctor(t, nil, "--config", bad)
	if s, d, _ := r.check("config"); code == 0 || s != "fail" || !strings.Contains(d, bad+`:2:1: unknown attribute "concurency"`) {
		t.Errorf("broken file: exit %d, %s %q", code, s, d)
	}
}

// TestDoctorText: the text form prints each fix under its problem.
func TestDoctorText(t *testing.T) {
	t.Parallel()
	out, stderr, code := run(t, "doctor", "--config", "", "--server", fakeControlPlane(t), "--token", goodToken,
		"--state-dir", "", "--ffmpeg", "/nonexistent/ffmpeg")
	if code == 0 || !strings.Contains(stderr, "cannot work") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if !regexp.MustCompile(`\[FAIL\] ffmpeg .*not found\n +next: install it: ` + "`sudo apt install ffmpeg`").MatchString(out) {
		t.Errorf("no fix under the failure:\n%s", out)
	}
	if _, _, code := run(t, "doctor", "-o", "yaml"); code == 0 {
		t.Error("-o yaml accepted")
	}
}
