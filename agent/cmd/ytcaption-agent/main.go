// Command ytcaption-agent is a ytcaption worker.
package main

import (
	"context"
	"os"

	"github.com/ytcaption/ytcaption/agent/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}
