package cli

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ytcaption/ytcaption/agent/worker"
)

// loaded is the configuration run would start with.
type loaded struct {
	cfg           worker.Config
	labels, roles string
	path          string
}

func loadConfig(t *testing.T, env map[string]string, args ...string) (loaded, error) {
	t.Helper()
	var l loaded
	getenv := func(k string) string { return env[k] }
	cmd := &cobra.Command{Use: "run", RunE: func(cmd *cobra.Command, _ []string) error {
		var err error
		l.path, err = applyConfigFile(cmd, getenv)
		return err
	}}
	bindConfig(cmd, getenv, &l.cfg, &l.labels, &l.roles)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	return l, cmd.Execute()
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.hcl")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const fullConfig = `
server = "https://captions.example.com"
token = "yte_abc_secret"
name = "gpu-01"
state_dir = "/var/lib/a"
work_dir = "/var/cache/a"
concurrency = 3
labels = { zone = "eu-1", gpu = "a100" }
roles = ["transcribe"]
engine = "pocketsphinx"
max_downloads = 2
max_transcribes = 1
grace = "90s"
allow_private_sources = true
allow_target = ["10.2.0.0/16", "127.0.0.1:8081"]
yt_dlp = "/opt/yt-dlp"
cookies = "/etc/ytcaption/cookies.txt"
proxy = "http://proxy:3128"
ffmpeg = "/opt/ffmpeg"
ffprobe = "/opt/ffprobe"
sphinx_model_dir = "/usr/share/ps"
whisper_cli = "/opt/whisper-cli"
whisper_model = "/models/ggml-base.en.bin"
openai_url = "http://asr:8000"
openai_key = "k"
openai_model = "whisper-1"
ca_cert = "/etc/ytcaption/ca.pem"
client_cert = "/etc/ytcaption/agent.pem"
client_key = "/etc/ytcaption/agent-key.pem"
consul_addr = "consul:8500"
vault_addr = "https://vault:8200"
vault_kv = "kv/agent"
vault_jwt_file = "/secrets/jwt"
vault_jwt_role = "agents"
artifact_cache_size = 53687091200
artifact_dir = "/var/cache/a/artifacts"
otlp_endpoint = "http://collector:4318"
`

// TestConfigFileEveryFlag: a file alone sets every flag of run.
func TestConfigFileEveryFlag(t *testing.T) {
	t.Parallel()
	l, err := loadConfig(t, nil, "--config", writeConfig(t, fullConfig))
	if err != nil {
		t.Fatal(err)
	}
	c := l.cfg
	got := []any{c.Server, c.Token, c.Name, c.StateDir, c.WorkDir, c.Concurrency, l.labels, l.roles, c.Engine,
		c.MaxDownloads, c.MaxTranscribes, c.Grace, c.AllowPrivateSources, c.AllowTargets, c.YTDLPBinary, c.Cookies,
		c.Proxy, c.FFmpeg, c.FFprobe, c.SphinxModelDir, c.WhisperBinary, c.WhisperModel, c.OpenAIURL, c.OpenAIKey,
		c.OpenAIModel, c.CACert, c.ClientCert, c.ClientKey, c.ConsulAddr, c.Vault.Addr, c.Vault.KV, c.Vault.JWTFile, c.Vault.JWTRole,
		c.ArtifactCacheSize, c.ArtifactDir, c.OTLPEndpoint}
	want := []any{"https://captions.example.com", "yte_abc_secret", "gpu-01", "/var/lib/a", "/var/cache/a", 3,
		"gpu=a100,zone=eu-1", "transcribe", "pocketsphinx", 2, 1, 90 * time.Second, true,
		[]string{"10.2.0.0/16", "127.0.0.1:8081"}, "/opt/yt-dlp", "/etc/ytcaption/cookies.txt", "http://proxy:3128",
		"/opt/ffmpeg", "/opt/ffprobe", "/usr/share/ps", "/opt/whisper-cli", "/models/ggml-base.en.bin",
		"http://asr:8000", "k", "whisper-1", "/etc/ytcaption/ca.pem", "/etc/ytcaption/agent.pem",
		"/etc/ytcaption/agent-key.pem", "consul:8500", "https://vault:8200", "kv/agent", "/secrets/jwt", "agents",
		int64(50 << 30), "/var/cache/a/artifacts", "http://collector:4318"}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("setting %d: got %#v, want %#v", i, got[i], want[i])
		}
	}
}

// TestConfigSchemaCoversRun: every flag of run has an attribute, so the
// file can say whatever the command line can.
func TestConfigSchemaCoversRun(t *testing.T) {
	t.Parallel()
	cmd := runCmd(io.Discard, func(string) string { return "" })
	schema, err := configSchema(cmd.Flags())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "config" {
			return
		}
		n++
		if _, ok := schema[strings.ReplaceAll(f.Name, "-", "_")]; !ok {
			t.Errorf("flag --%s has no attribute", f.Name)
		}
	})
	if lines := strings.Count(strings.TrimSpace(fullConfig), "\n") + 1; lines != n {
		t.Errorf("fullConfig sets %d attributes, run has %d flags: TestConfigFileEveryFlag must set each", lines, n)
	}
}

// TestConfigPrecedence: flag > YTCAPTION_AGENT_* > file > default.
func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	file := writeConfig(t, "server = \"https://file\"\nname = \"file\"\nconcurrency = 3\nyt_dlp = \"/file/yt-dlp\"\nmax_downloads = 4\n")
	env := map[string]string{"YTCAPTION_AGENT_SERVER": "https://env", "YTCAPTION_AGENT_NAME": "env", "YTCAPTION_AGENT_YTDLP": "/env/yt-dlp"}
	l, err := loadConfig(t, env, "--config", file, "--name", "flag", "--max-downloads", "5")
	if err != nil {
		t.Fatal(err)
	}
	c := l.cfg
	if c.Name != "flag" || c.MaxDownloads != 5 {
		t.Errorf("flags lost: name %q, max downloads %d", c.Name, c.MaxDownloads)
	}
	if c.Server != "https://env" || c.YTDLPBinary != "/env/yt-dlp" {
		t.Errorf("environment lost to the file: server %q, yt-dlp %q", c.Server, c.YTDLPBinary)
	}
	if c.Concurrency != 3 {
		t.Errorf("file lost to the default: concurrency %d", c.Concurrency)
	}
	if c.Grace != 60*time.Second || l.roles != "prepare,transcribe" {
		t.Errorf("defaults lost: grace %v, roles %q", c.Grace, l.roles)
	}

	// YTCAPTION_AGENT_CONFIG names the file; --config "" reads none.
	l, err = loadConfig(t, map[string]string{"YTCAPTION_AGENT_CONFIG": file})
	if err != nil || l.path != file || l.cfg.Server != "https://file" {
		t.Errorf("YTCAPTION_AGENT_CONFIG: path %q, server %q, %v", l.path, l.cfg.Server, err)
	}
	l, err = loadConfig(t, map[string]string{"YTCAPTION_AGENT_CONFIG": file}, "--config", "")
	if err != nil || l.path != "" || l.cfg.Server != "" {
		t.Errorf(`--config "": path %q, server %q, %v`, l.path, l.cfg.Server, err)
	}
}

// TestOTLPEndpointSources: YTCAPTION_AGENT_OTLP_ENDPOINT > file >
// OTEL_EXPORTER_OTLP_ENDPOINT, the standard variable, as the default.
func TestOTLPEndpointSources(t *testing.T) {
	t.Parallel()
	otel := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}
	if l, err := loadConfig(t, otel); err != nil || l.cfg.OTLPEndpoint != "http://otel:4318" {
		t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %q, %v", l.cfg.OTLPEndpoint, err)
	}
	file := writeConfig(t, `otlp_endpoint = "http://file:4318"`)
	if l, err := loadConfig(t, otel, "--config", file); err != nil || l.cfg.OTLPEndpoint != "http://file:4318" {
		t.Errorf("file: %q, %v", l.cfg.OTLPEndpoint, err)
	}
	own := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318", "YTCAPTION_AGENT_OTLP_ENDPOINT": "http://own:4318"}
	if l, err := loadConfig(t, own, "--config", file); err != nil || l.cfg.OTLPEndpoint != "http://own:4318" {
		t.Errorf("YTCAPTION_AGENT_OTLP_ENDPOINT: %q, %v", l.cfg.OTLPEndpoint, err)
	}
}

// TestConfigBadValues: values a type check cannot catch, named by position.
func TestConfigBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, want string }{
		{`roles = ["prepare", "merge"]`, `:1:9: roles: role "merge"`},
		{`roles = []`, `:1:9: roles: `},
		{`labels = { "" = "x" }`, `:1:10: labels: label "=x": want key=value`},
		{`concurrency = 0`, `:1:15: concurrency: must be at least 1`},
		{`server = "ftp://x"`, `:1:10: server: "ftp://x": want http://, https:// or consul://`},
		{`server = "https://"`, `:1:10: server: "https://" has no host`},
		{`grace = "-5s"`, `:1:9: grace: "-5s" is not a duration`},
		{"state_dir = \"/a\"\n\nmax_transcribes = \"one\"", `:3:19: max_transcribes: must be a whole number`},
		{`otlp_endpoint = "collector:4318"`, `:1:17: otlp_endpoint: otlp endpoint "collector:4318": want http(s)://host:port`},
		{`config = "/etc/other.hcl"`, `:1:1: unknown attribute "config"`},
	}
	for _, tt := range tests {
		p := writeConfig(t, tt.body)
		_, err := loadConfig(t, nil, "--config", p)
		if err == nil || !strings.Contains(err.Error(), p+tt.want) {
			t.Errorf("%s: error %v, want %q", tt.body, err, p+tt.want)
		}
	}
}

// TestConfigPackagedDefault: the file the .deb ships is accepted as is.
func TestConfigPackagedDefault(t *testing.T) {
	t.Parallel()
	l, err := loadConfig(t, nil, "--config", "../config/testdata/agent.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if l.cfg.StateDir != "/var/lib/ytcaption-agent" || l.cfg.WorkDir != "/var/cache/ytcaption-agent" || l.cfg.Server != "" {
		t.Errorf("packaged default: %+v", l.cfg)
	}
}
