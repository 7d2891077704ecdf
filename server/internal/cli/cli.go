// Package cli is the server binary: its subcommands, the construction of
// the process from a validated config.Config, and its orderly shutdown.
// cmd/server/main.go only hands it the arguments, the environment and the
// signal context.
//
//	server serve    the gRPC server, the HTTP/JSON gateway and the ops endpoints
//	server worker   the background jobs (docs/worker.md) and their ops endpoints
//	server metrics-proxy  one upstream metrics URL as /metrics (Kratos's sidecar)
//	server version  the build: version, source revision, Go version
//
// Exit codes: 0 done (also after SIGINT/SIGTERM), 1 failed, 2 usage or
// configuration error.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/groundwork-dev/groundwork/server/internal/buildinfo"
	"github.com/groundwork-dev/groundwork/server/internal/config"
	"github.com/groundwork-dev/groundwork/server/internal/logbuf"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

const usage = `usage: server <command> [flags]

commands:
  serve          run the gRPC server, the HTTP/JSON gateway and the ops endpoints
  worker         run the background jobs (export, purge, user reconciliation)
  metrics-proxy  serve one upstream URL as /metrics (the Kratos pod's sidecar)
  version        print the build's version, source revision and Go version

Run 'server <command> -h' for the flags of a command; every flag falls back
to an environment variable.
`

// Run runs the command in args and returns the exit code. ctx ends when
// the process is asked to stop (SIGINT, SIGTERM); getenv is the
// environment.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return run(ctx, args, getenv, stdout, stderr, options{build: BuildAPI})
}

// options are the seams tests use.
type options struct {
	build   BuildFunc
	started func(Addrs) // called once everything listens
	worker  workerOptions
	// registry sees the process's metrics registry once it is complete
	// (the test that keeps the list of exported names current).
	registry func(*prometheus.Registry)
	// proxyStarted is called with metrics-proxy's listen address.
	proxyStarted func(net.Addr)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, o options) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	switch args[0] {
	case "serve":
		return serveCommand(ctx, args[1:], getenv, stderr, o)
	case "worker":
		return workerCommand(ctx, args[1:], getenv, stderr, o.worker)
	case "metrics-proxy":
		return metricsProxyCommand(ctx, args[1:], getenv, stderr, o.proxyStarted)
	case "version", "--version":
		i := buildinfo.Read()
		fmt.Fprintf(stdout, "server %s (revision %s, %s)\n", i.Version, i.Revision, i.GoVersion)
		return ExitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	default:
		fmt.Fprintf(stderr, "server: unknown command %q\n\n%s", args[0], usage)
		return ExitUsage
	}
}

func serveCommand(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, o options) int {
	cfg, err := config.Parse("server serve", args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		for line := range strings.SplitSeq(err.Error(), "\n") {
			fmt.Fprintf(stderr, "server serve: %s\n", line)
		}
		fmt.Fprintln(stderr, "run 'server serve -h' for the flags")
		return ExitUsage
	}
	log, closeLog := newLogger(cfg.LogFormat, cfg.LogLevel, stderr)
	defer closeLog()
	if err := serve(ctx, cfg, log, o); err != nil {
		log.Error("server failed", "error", err)
		return ExitFailed
	}
	return ExitOK
}

func workerCommand(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, o workerOptions) int {
	cfg, err := config.ParseWorker("server worker", args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		for line := range strings.SplitSeq(err.Error(), "\n") {
			fmt.Fprintf(stderr, "server worker: %s\n", line)
		}
		fmt.Fprintln(stderr, "run 'server worker -h' for the flags")
		return ExitUsage
	}
	log, closeLog := newLogger(cfg.LogFormat, cfg.LogLevel, stderr)
	defer closeLog()
	if err := work(ctx, cfg, log, o); err != nil {
		log.Error("worker failed", "error", err)
		return ExitFailed
	}
	return ExitOK
}

// newLogger writes records to w through a logbuf.Writer (WARN and above at
// once, the rest within logbuf.Interval); the returned func writes out what
// is left and must run before the process exits.
func newLogger(format string, level slog.Level, w io.Writer) (*slog.Logger, func()) {
	buf := logbuf.New(w)
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(buf, opts)
	if format == config.LogJSON {
		h = slog.NewJSONHandler(buf, opts)
	}
	return slog.New(logbuf.Urgent(h, buf, slog.LevelWarn)), func() { _ = buf.Close() }
}
