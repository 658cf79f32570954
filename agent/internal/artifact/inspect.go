package artifact

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Status is what a cache directory holds, read without changing it (for
// `ytcaption-agent doctor`, while an agent may be using the cache).
type Status struct {
	Used    int64   // bytes of the entries
	Entries []Entry // by kind and name
}

// Inspect reads the cache in dir as New would find it, changing nothing: a
// missing directory is an empty cache, and entries whose file is gone or
// of another size are left out.
func Inspect(dir string) (Status, error) {
	var st Status
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("artifact cache: %w", err)
	}
	var es []Entry
	if err := json.Unmarshal(b, &es); err != nil {
		return st, fmt.Errorf("artifact cache index %s: %w", filepath.Join(dir, "index.json"), err)
	}
	c := Cache{index: present(dir, es)}
	st.Entries = c.entries()
	for _, e := range st.Entries {
		st.Used += e.Size
	}
	return st, nil
}

// Missing lists the artifacts of l the cache does not hold at their listed
// SHA-256 (new ones, and newer versions of held ones).
func (s Status) Missing(l []api.AgentArtifact) []api.AgentArtifact {
	held := map[string]string{}
	for _, e := range s.Entries {
		held[key(e.Kind, e.Name)] = e.SHA256
	}
	var out []api.AgentArtifact
	for _, a := range l {
		if held[key(a.Kind, a.Name)] != a.SHA256 {
			out = append(out, a)
		}
	}
	return out
}

// Writable reports whether this process may write dir, or create it (its
// nearest existing parent is writable), without creating anything.
func Writable(dir string) error {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if errors.Is(err, os.ErrNotExist) && d != filepath.Dir(d) {
			continue
		}
		if err != nil {
			return fmt.Errorf("artifact cache %s: %w", dir, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("artifact cache %s: %s is not a directory", dir, d)
		}
		const wOK = 2 // access(2) W_OK
		if err := syscall.Access(d, wOK); err != nil {
			return fmt.Errorf("artifact cache %s: %s not writable: %w", dir, d, err)
		}
		return nil
	}
}
