// Command migrator owns the app database's schema: it applies the embedded
// migrations and River's, and grants the server role its privileges.
//
//	migrator [--database-url URL] up | down N | goto V | version | force V | create NAME
//
// The URL may also come from DATABASE_URL; it must authenticate with a
// client certificate (sslmode=verify-full, sslrootcert, sslcert, sslkey).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/groundwork-dev/groundwork/migrator/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
