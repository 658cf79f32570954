// Command gen writes the Grafana dashboards into a directory
// (`make dashboards` runs it on jobs/monitoring/dashboards).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ytcaption/ytcaption/jobs/monitoring/dashboards"
)

func main() {
	out := flag.String("out", "jobs/monitoring/dashboards", "directory to write the dashboard JSON files into")
	flag.Parse()
	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "dashboards:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	files, err := dashboards.Render()
	if err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
