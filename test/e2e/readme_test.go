package e2e_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/test/testenv"
)

// readmeCommand is one `bin/ytcaption…` or `make …` invocation shown in a
// code block of README.md.
type readmeCommand struct {
	line  string
	bin   string   // ytcaption, ytcaption-agent or make
	words []string // subcommand path (or make targets)
	flags []string // --flags and -f flags it uses
}

var (
	readmeInvocation = regexp.MustCompile(`(?:^|[\s;&|(])(?:bin/(ytcaption(?:-agent)?)|(make))((?:[ \t]+[^\s#|;&]+)*)`)
	commandWord      = regexp.MustCompile(`^[a-z][a-z-]*$`)
	flagToken        = regexp.MustCompile(`^(--[a-z][a-z0-9-]*|-[a-zA-Z])(?:=.*)?$`)
)

// readmeCommands extracts the invocations from the fenced code blocks.
func readmeCommands(t *testing.T, readme string) []readmeCommand {
	t.Helper()
	var out []readmeCommand
	inBlock := false
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			continue
		}
		code, _, _ := strings.Cut(line, " #") // drop trailing comments
		if strings.HasPrefix(strings.TrimSpace(code), "#") {
			continue
		}
		for _, m := range readmeInvocation.FindAllStringSubmatch(code, -1) {
			c := readmeCommand{line: strings.TrimSpace(line), bin: m[1] + m[2]}
			args := strings.Fields(m[3])
			for len(args) > 0 && commandWord.MatchString(args[0]) {
				c.words, args = append(c.words, args[0]), args[1:]
			}
			for _, a := range args {
				if f := flagToken.FindStringSubmatch(a); f != nil {
					c.flags = append(c.flags, f[1])
				}
			}
			out = append(out, c)
		}
	}
	if inBlock {
		t.Fatalf("README.md: unterminated code block")
	}
	return out
}

// TestReadmeCommands checks that every command README.md shows exists, with
// the flags it is shown with, and that the main entry points have help.
func TestReadmeCommands(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := readmeCommands(t, string(readme))
	// The entry points named in the quick start, whatever README shows.
	cmds = append(cmds,
		readmeCommand{line: "(quick start)", bin: "ytcaption"},
		readmeCommand{line: "(quick start)", bin: "ytcaption", words: []string{"dev"}, flags: []string{"--addr", "--data", "--agents", "--api-key"}},
		readmeCommand{line: "(quick start)", bin: "ytcaption", words: []string{"caption"}, flags: []string{"--format", "--lang", "-o"}},
		readmeCommand{line: "(quick start)", bin: "ytcaption", words: []string{"agents", "enroll"}, flags: []string{"--labels", "--ttl"}},
		readmeCommand{line: "(quick start)", bin: "ytcaption", words: []string{"keys", "create"}, flags: []string{"--tenant", "--role"}},
		readmeCommand{line: "(quick start)", bin: "ytcaption-agent", words: []string{"run"}, flags: []string{"--server", "--token", "--concurrency", "--labels", "--engine"}},
	)
	seen := map[string]bool{}
	for _, c := range cmds {
		name := strings.TrimSpace(c.bin + " " + strings.Join(c.words, " "))
		if seen[name+strings.Join(c.flags, " ")] {
			continue
		}
		seen[name+strings.Join(c.flags, " ")] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if c.bin == "make" {
				if len(c.words) == 0 {
					t.Fatalf("README line %q: make without a target", c.line)
				}
				for _, target := range c.words {
					if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:`).Match(makefile) {
						t.Errorf("README line %q: Makefile has no target %q", c.line, target)
					}
				}
				return
			}
			args := append(append([]string{}, c.words...), "--help")
			stdout, stderr, err := tryCLI(t, 30*time.Second, testenv.ChildEnv(), testenv.Binary(t, c.bin), args...)
			if err != nil {
				t.Fatalf("README line %q: %s %s: %v\n%s%s", c.line, c.bin, strings.Join(args, " "), err, stdout, stderr)
			}
			// Cobra falls back to a parent's help for unknown words: the usage
			// line must name the full command path.
			usage := "\n  " + name
			if i := strings.Index(stdout, usage); i < 0 || !strings.ContainsAny(stdout[i+len(usage):i+len(usage)+1], " \n") {
				t.Fatalf("README line %q: %q is not a command; help says:\n%s", c.line, name, stdout)
			}
			for _, f := range c.flags {
				if f == "-h" {
					continue
				}
				if !regexp.MustCompile(`(?m)^\s+(-[a-zA-Z], )?` + regexp.QuoteMeta(f) + `[ ,=]`).MatchString(stdout) {
					t.Errorf("README line %q: %s has no flag %s; help says:\n%s", c.line, name, f, stdout)
				}
			}
		})
	}
}

func TestReadmeCommandsParse(t *testing.T) {
	t.Parallel()
	readme := "text bin/ytcaption outside\n```sh\n" +
		"export X=1\n" +
		"bin/ytcaption caption https://x/y.mp4 --format srt -o talk.srt   # comment bin/ytcaption nope\n" +
		"# ytcaption dev: a comment\n" +
		"bin/ytcaption agents drain <agent-id>\n" +
		"make run    # builds\n" +
		"```\n"
	got := readmeCommands(t, readme)
	want := []string{"ytcaption caption [--format -o]", "ytcaption agents drain []", "make run []"}
	if len(got) != len(want) {
		t.Fatalf("got %d commands %+v, want %v", len(got), got, want)
	}
	for i, c := range got {
		if s := c.bin + " " + strings.Join(c.words, " ") + " [" + strings.Join(c.flags, " ") + "]"; s != want[i] {
			t.Errorf("command %d: %q, want %q", i, s, want[i])
		}
	}
}
