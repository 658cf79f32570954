// Command package builds the ytcaption-agent and ytcaption .deb and .rpm
// packages into dist/ (`make package`); see package packaging.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/ytcaption/ytcaption/packaging"
)

func main() {
	var o packaging.Options
	var formats string
	flag.StringVar(&o.RepoDir, "repo", ".", "module root")
	flag.StringVar(&o.OutDir, "out", "dist", "output directory")
	flag.StringVar(&o.Version, "version", "", "package version; default from git describe")
	flag.StringVar(&o.Arch, "arch", "amd64", "GOARCH of the binaries")
	flag.StringVar(&formats, "formats", "deb,rpm", "comma-separated package formats")
	flag.Parse()
	o.Formats = strings.Split(formats, ",")
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	paths, err := packaging.Build(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
	for _, p := range paths {
		fmt.Println(p)
	}
}
