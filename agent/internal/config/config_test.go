package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/agent/internal/config"
)

var schema = map[string]config.Attr{
	"server":                {Kind: config.String},
	"token":                 {Kind: config.String},
	"state_dir":             {Kind: config.String},
	"work_dir":              {Kind: config.String},
	"concurrency":           {Kind: config.Int},
	"grace":                 {Kind: config.Duration},
	"allow_private_sources": {Kind: config.Bool},
	"labels":                {Kind: config.Map},
	"roles": {Kind: config.List, Check: func(s string) error {
		for _, r := range strings.Split(s, ",") {
			if r != "prepare" && r != "transcribe" {
				return errors.New("unknown role " + r)
			}
		}
		return nil
	}},
}

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.hcl")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func values(s []config.Setting) map[string]string {
	m := map[string]string{}
	for _, x := range s {
		m[x.Name] = x.Value
	}
	return m
}

// TestLoadPackagedDefault loads the file the .deb ships, byte for byte.
func TestLoadPackagedDefault(t *testing.T) {
	t.Parallel()
	got, err := config.Load("testdata/agent.hcl", schema)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"state_dir": "/var/lib/ytcaption-agent", "work_dir": "/var/cache/ytcaption-agent"}
	if g := values(got); len(g) != len(want) || g["state_dir"] != want["state_dir"] || g["work_dir"] != want["work_dir"] {
		t.Errorf("settings %v, want %v", g, want)
	}
	if got[0].Name != "state_dir" || got[0].Range.Start.Line != 6 {
		t.Errorf("first setting %+v, want state_dir on line 6", got[0])
	}
}

func TestLoadValues(t *testing.T) {
	t.Parallel()
	p := write(t, `
server = "https://captions.example.com"
concurrency = 4
grace = "90s"
allow_private_sources = true
labels = { zone = "eu-1", "gpu" = "a100" }
roles = ["transcribe"]
`)
	got, err := config.Load(p, schema)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"server": "https://captions.example.com", "concurrency": "4", "grace": "90s",
		"allow_private_sources": "true", "labels": "gpu=a100,zone=eu-1", "roles": "transcribe"}
	g := values(got)
	for k, v := range want {
		if g[k] != v {
			t.Errorf("%s = %q, want %q", k, g[k], v)
		}
	}
	if len(g) != len(want) {
		t.Errorf("settings %v, want %v", g, want)
	}
}

// TestLoadErrors: every problem names file:line:col and what is wrong.
func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       []string // substrings after the file name
	}{
		{"unknown attribute", "state_dir = \"/x\"\nconcurency = 2\n", []string{`:2:1: unknown attribute "concurency"`}},
		{"string as number", `concurrency = "2"`, []string{`:1:15: concurrency: must be a whole number (0 or more), not string`}},
		{"negative number", `concurrency = -1`, []string{`:1:15: concurrency: -1 is not a whole number`}},
		{"fraction", `concurrency = 1.5`, []string{`:1:15: concurrency: 1.5 is not a whole number`}},
		{"number as string", `server = 8080`, []string{`:1:10: server: must be a string, not number`}},
		{"bool as string", `allow_private_sources = "yes"`, []string{`:1:25: allow_private_sources: must be true or false, not string`}},
		{"bad duration", `grace = "a minute"`, []string{`:1:9: grace: "a minute" is not a duration`}},
		{"duration as number", `grace = 60`, []string{`:1:9: grace: must be a duration`}},
		{"roles as string", `roles = "prepare"`, []string{`:1:9: roles: must be a list of strings`}},
		{"bad role", `roles = ["prepare", "merge"]`, []string{`:1:9: roles: unknown role merge`}},
		{"labels as list", `labels = ["zone=eu-1"]`, []string{`:1:10: labels: must be a map of strings`}},
		{"label value number", `labels = { gpus = 2 }`, []string{`:1:10: labels: gpus: must be a string, not number`}},
		{"variable", `token = env.TOKEN`, []string{`:1:9: Variables not allowed`}},
		{"null", `token = null`, []string{`:1:9: token: must be a string, not null`}},
		{"block", "server {\n}\n", []string{`:1:1: blocks are not supported ("server")`}},
		{"syntax", `server = "https://x`, []string{`:1:`}},
		{"redefined", "token = \"a\"\ntoken = \"b\"\n", []string{`:2:1: Attribute redefined`}},
		{"several", "concurrency = true\nbogus = 1\n", []string{`:1:15: concurrency: must be a whole number`, `:2:1: unknown attribute "bogus"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := write(t, tt.body)
			_, err := config.Load(p, schema)
			if err == nil {
				t.Fatalf("no error for %q", tt.body)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), p+w) {
					t.Errorf("error %q lacks %q", err, p+w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	if _, err := config.Load(filepath.Join(t.TempDir(), "none.hcl"), schema); err == nil {
		t.Fatal("a missing file loaded")
	}
}
