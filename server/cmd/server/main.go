// Command server is Groundwork's API process: `server serve` runs the gRPC
// server, the HTTP/JSON gateway and the ops endpoints (docs/server.md).
// Everything but the signal handling lives in internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/groundwork-dev/groundwork/server/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	// The first signal starts the graceful shutdown; a second one kills.
	context.AfterFunc(ctx, stop)
	os.Exit(cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
