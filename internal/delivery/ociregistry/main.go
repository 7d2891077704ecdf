package ociregistry

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"strings"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// Main is cmd/registry: flags --dir and --listen (repeatable). It returns
// the exit code: 0 after a clean stop, 1 on failure, 2 on bad usage.
func Main(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "storage directory (blobs and the manifest journal)")
	var addrs listFlag
	fs.Var(&addrs, "listen", "address to listen on (repeatable), e.g. 127.0.0.1:5001")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" || len(addrs) == 0 {
		fmt.Fprintln(stderr, "registry: --dir and at least one --listen are required")
		return 2
	}
	logger := log.New(stderr, "registry: ", log.LstdFlags)
	h, err := Handler(*dir, logger)
	if err != nil {
		fmt.Fprintln(stderr, "registry:", err)
		return 1
	}
	logger.Printf("serving %s on %s", *dir, strings.Join(addrs, ", "))
	if err := Serve(ctx, addrs, h); err != nil {
		fmt.Fprintln(stderr, "registry:", err)
		return 1
	}
	return 0
}
