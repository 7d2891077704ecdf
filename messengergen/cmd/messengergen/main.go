// Command messengergen generates messengers from a routing spec.
//
// Usage:
//
//	messengergen [-spec routing.yaml] [-graph] [-check]
//
// See the messengergen package documentation for the spec and the generated API.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/groundwork-dev/groundwork/messengergen/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
