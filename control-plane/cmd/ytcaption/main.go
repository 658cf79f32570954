// Command ytcaption is the control plane and the user/operator CLI.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ytcaption/ytcaption/control-plane/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.StdIO())
	stop()
	os.Exit(code)
}
