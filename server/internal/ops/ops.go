// Package ops serves the operational endpoints of a process on a port of
// their own, never the public one:
//
//	/healthz   200 while the process runs (liveness)
//	/readyz    200 when it is serving and every Checker passes, else 503,
//	           with one line per check: "[+]database ok", "[-]kratos failed: ..."
//	/metrics   Prometheus metrics of the Gatherer
//	...        Config.Handlers (Kratos's web hook)
//
// Readiness also drives the gRPC health service through Readiness.Watch.
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures the ops server.
type Config struct {
	Addr      string // listen address; port 0 picks a free one (tests)
	Readiness *Readiness
	Gatherer  prometheus.Gatherer
	// Handlers are further routes (http.ServeMux patterns), such as
	// Kratos's web hook: endpoints for the cluster's own components, which
	// the public proxy does not route.
	Handlers map[string]http.Handler
	Logger   *slog.Logger
}

// Server is the ops HTTP server. Start it once; Stop may be called any
// number of times.
type Server struct {
	cfg     Config
	handler http.Handler
	http    *http.Server

	mu  sync.Mutex
	lis net.Listener

	failed   chan error
	stopOnce sync.Once
}

// New builds the ops server; it does not listen yet.
func New(cfg Config) (*Server, error) {
	if cfg.Readiness == nil || cfg.Gatherer == nil {
		return nil, errors.New("ops server: Readiness and Gatherer are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, failed: make(chan error, 1)}
	h, err := s.routes()
	if err != nil {
		return nil, err
	}
	s.handler = h
	s.http = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Handler routes the ops endpoints.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() (_ http.Handler, err error) {
	defer func() {
		// http.ServeMux panics on a malformed or conflicting pattern.
		if p := recover(); p != nil {
			err = fmt.Errorf("ops server: routes: %v", p)
		}
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelError),
	}))
	for pattern, h := range s.cfg.Handlers {
		mux.Handle(pattern, h)
	}
	return mux, nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	rep := s.cfg.Readiness.Evaluate(r.Context())
	var b strings.Builder
	if !rep.Serving {
		b.WriteString("[-]serving failed: starting or shutting down\n")
	}
	for _, res := range rep.Results {
		if res.Err != nil {
			fmt.Fprintf(&b, "[-]%s failed: %s\n", res.Name, oneLine(res.Err.Error()))
		} else {
			fmt.Fprintf(&b, "[+]%s ok\n", res.Name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if rep.Ready() {
		b.WriteString("ready\n")
		w.WriteHeader(http.StatusOK)
	} else {
		b.WriteString("not ready\n")
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(b.String()))
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

// Start listens and serves in the background. A serving error after a
// successful start arrives on Failed.
func (s *Server) Start() error {
	lis, err := net.Listen("tcp", s.cfg.Addr) //nolint:noctx // a listener for the life of the process
	if err != nil {
		return fmt.Errorf("ops server: listen on %s: %w", s.cfg.Addr, err)
	}
	s.mu.Lock()
	s.lis = lis
	s.mu.Unlock()
	go func() {
		if err := s.http.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			s.failed <- fmt.Errorf("ops server on %s: %w", lis.Addr(), err)
		}
	}()
	return nil
}

// Addr is the address the server listens on, once started.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lis == nil {
		return nil
	}
	return s.lis.Addr()
}

// Failed delivers the error that stopped serving unexpectedly.
func (s *Server) Failed() <-chan error { return s.failed }

// Stop shuts the server down, waiting for in-flight requests until ctx
// ends. Later calls return nil at once.
func (s *Server) Stop(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		if serr := s.http.Shutdown(ctx); serr != nil {
			_ = s.http.Close()
			err = fmt.Errorf("ops server: shutdown: %w", serr)
		}
	})
	return err
}
