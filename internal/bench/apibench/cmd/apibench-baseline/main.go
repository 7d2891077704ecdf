// Command apibench-baseline is the baseline server of `go tool mage
// bench:api`: CreateAccount and GetAccount as plain grpc-go + pgx, without
// the server's layers. The harness builds and starts it; see package
// apibench.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/groundwork-dev/groundwork/internal/bench/apibench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := apibench.BaselineMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
