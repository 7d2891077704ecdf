package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/server/internal/config"
	"github.com/groundwork-dev/groundwork/server/internal/metricsproxy"
)

// metricsProxyCommand is `server metrics-proxy`: the sidecar that gives
// Prometheus Kratos's metrics without opening Kratos's admin API.
func metricsProxyCommand(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, started func(net.Addr)) int {
	cfg, err := config.ParseMetricsProxy("server metrics-proxy", args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		for line := range strings.SplitSeq(err.Error(), "\n") {
			fmt.Fprintf(stderr, "server metrics-proxy: %s\n", line)
		}
		fmt.Fprintln(stderr, "run 'server metrics-proxy -h' for the flags")
		return ExitUsage
	}
	log, closeLog := newLogger(cfg.LogFormat, cfg.LogLevel, stderr)
	defer closeLog()

	lis, err := net.Listen("tcp", cfg.Addr) //nolint:noctx // a listener for the life of the process
	if err != nil {
		log.Error("metrics proxy failed", "error", fmt.Errorf("listen on %s: %w", cfg.Addr, err))
		return ExitFailed
	}
	srv := &http.Server{Handler: metricsproxy.Handler(cfg.Upstream, cfg.Timeout, log), ReadHeaderTimeout: 5 * time.Second}
	failed := make(chan error, 1)
	go func() { failed <- srv.Serve(lis) }()
	log.Info("serving", "metrics", lis.Addr().String(), "upstream", cfg.Upstream.Redacted())
	if started != nil {
		started(lis.Addr())
	}
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("metrics proxy: shutdown", "error", err)
		}
		return ExitOK
	case err := <-failed:
		log.Error("metrics proxy failed", "error", err)
		return ExitFailed
	}
}
