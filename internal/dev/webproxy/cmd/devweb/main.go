// Command devweb is the local stack's one origin (package webproxy): the
// webapp, /api/ and /.ory/kratos/public/ on http://127.0.0.1:8080.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/groundwork-dev/groundwork/internal/dev/webproxy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := webproxy.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
