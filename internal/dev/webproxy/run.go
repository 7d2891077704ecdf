package webproxy

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Options are the command line of cmd/devweb.
type Options struct {
	Listen string
	Config Config
}

// ParseArgs reads flags, with environment variables as fallback
// (DEVWEB_LISTEN, DEVWEB_API, DEVWEB_KRATOS, DEVWEB_DIST, DEVWEB_DEV_SERVER).
func ParseArgs(args []string, getenv func(string) string, stderr io.Writer) (Options, error) {
	fs := flag.NewFlagSet("devweb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	listen := fs.String("listen", env("DEVWEB_LISTEN", "127.0.0.1:8080"), "address to serve the origin on")
	api := fs.String("api", env("DEVWEB_API", "http://127.0.0.1:26000"), "the server's HTTP/JSON gateway")
	kratos := fs.String("kratos", env("DEVWEB_KRATOS", "http://127.0.0.1:4433"), "Kratos's public API")
	dist := fs.String("dist", env("DEVWEB_DIST", "webapp/dist"), "the webapp's build output")
	dev := fs.String("dev-server", env("DEVWEB_DEV_SERVER", ""), "serve the webapp from this dev server (Vite) instead of --dist")
	verbose := fs.Bool("v", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	var errs []error
	parse := func(name, raw string) *url.URL {
		u, err := url.Parse(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", name, err))
			return nil
		}
		return u
	}
	o := Options{Listen: *listen, Config: Config{API: parse("api", *api), Kratos: parse("kratos", *kratos), Dist: *dist}}
	if *dev != "" {
		o.Config.DevServer = parse("dev-server", *dev)
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen: %w", err))
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	o.Config.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return o, errors.Join(errs...)
}

// Run serves the origin until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := ParseArgs(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "devweb:", err)
		return 2
	}
	h, err := New(o.Config)
	if err != nil {
		fmt.Fprintln(stderr, "devweb:", err)
		return 2
	}
	if err := Serve(ctx, o.Listen, h, o.Config, stdout); err != nil {
		fmt.Fprintln(stderr, "devweb:", err)
		return 1
	}
	return 0
}

// Serve listens on addr and serves h until ctx ends.
func Serve(ctx context.Context, addr string, h http.Handler, c Config, stdout io.Writer) error {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	app := "dist " + c.Dist
	if c.DevServer != nil {
		app = "dev server " + c.DevServer.String()
	}
	fmt.Fprintf(stdout, "devweb: serving http://%s: / from %s, /api/ -> %s, /.ory/kratos/public/ -> %s\n", l.Addr(), app, c.API, c.Kratos)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
