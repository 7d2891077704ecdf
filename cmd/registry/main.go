// Command registry serves the local OCI registry of the Kind cluster (plain
// HTTP, storage on disk); `go tool mage kind:up` starts it detached. See
// internal/delivery/ociregistry.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/groundwork-dev/groundwork/internal/delivery/ociregistry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := ociregistry.Main(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}
