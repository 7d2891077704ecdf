package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles"
)

// GRPCConfig configures the gRPC server.
type GRPCConfig struct {
	Addr string // listen address; port 0 picks a free one (tests)

	Certificate *tlsfiles.KeyPair // the server's certificate
	ClientCAs   *tlsfiles.CAPool  // CAs a client certificate must chain to

	Authenticator Authenticator
	Services      Services
	// Reflection registers gRPC server reflection (v1 and v1alpha): the
	// service schema for grpcurl, grpcui, Postman. Like Health it needs
	// no session (public), but the same client certificate.
	Reflection bool

	MaxMessageSize int           // bytes, receive and send
	DefaultTimeout time.Duration // deadline of unary RPCs that arrive without one

	Logger *slog.Logger
	// LogSampling thins the INFO request lines of busy methods; the zero
	// value writes every line.
	LogSampling LogSampling
	// Registerer receives the gRPC metrics (grpc_server_*); nil keeps them
	// unexported.
	Registerer prometheus.Registerer
}

// HandlingTimeBuckets are the upper bounds (seconds) of
// grpc_server_handling_seconds. The library's default stops at 10 s, so a
// request that ran into the 30 s deadline looked like one that took 11 s;
// the latency SLO's threshold (0.5 s, k8s/base/monitoring) must be a
// bucket bound for its ratio to be exact.
var HandlingTimeBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Keepalive settings. Clients may ping at most every MinPingInterval (the
// gateway's own client pings at that rate); a client that pings faster is
// disconnected with ENHANCE_YOUR_CALM.
const (
	MinPingInterval   = 20 * time.Second
	serverPingAfter   = time.Minute      // ping an idle client after this
	serverPingTimeout = 20 * time.Second // and drop it if no answer comes
	maxConnectionIdle = 15 * time.Minute
)

// streamWorkers is how many long-lived goroutines run RPCs. Without them
// grpc-go starts a goroutine per RPC, and our request path (interceptors,
// messenger, pgx) is deep enough to outgrow a new goroutine's stack: the
// runtime copied stacks for about a tenth of the server's CPU time under
// load. A worker keeps its grown stack from one RPC to the next — as long
// as the garbage collector does not shrink it while the worker idles,
// which the server's GODEBUG=gcshrinkstackoff=1 prevents (see
// docs/server.md). grpc-go hands each RPC to the worker that has waited
// longest, so workers beyond the RPCs in flight only rotate through more
// stacks that have gone cold in the CPU caches; 64 covers the load a
// one-CPU pod serves. RPCs beyond this many in flight get their own
// goroutine, so this bounds nothing; idle workers cost their stacks (about
// 2 MiB in all).
const streamWorkers = 64

// GRPCServer is the mTLS gRPC server with the interceptor chain and the
// health service. Start it once; Stop may be called any number of times.
type GRPCServer struct {
	cfg      GRPCConfig
	srv      *grpc.Server
	health   *health.Server
	stopping chan struct{} // closed when Stop begins

	mu  sync.Mutex
	lis net.Listener

	failed   chan error
	stopOnce sync.Once
}

// NewGRPCServer builds the server and registers the services; it does not
// listen yet.
func NewGRPCServer(cfg GRPCConfig) (*GRPCServer, error) {
	switch {
	case cfg.Certificate == nil || cfg.ClientCAs == nil:
		return nil, errors.New("gRPC server: certificate and client CAs are required")
	case cfg.Authenticator == nil:
		return nil, errors.New("gRPC server: an Authenticator is required")
	case cfg.MaxMessageSize <= 0 || cfg.DefaultTimeout <= 0:
		return nil, errors.New("gRPC server: MaxMessageSize and DefaultTimeout must be positive")
	}
	if err := cfg.Services.check(); err != nil {
		return nil, fmt.Errorf("gRPC server: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}

	metrics := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(HandlingTimeBuckets)))
	panics := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "grpc_server_panics_recovered_total",
		Help: "Panics in gRPC handlers and interceptors that were turned into INTERNAL.",
	})
	// One logger for both: the request line of the logging interceptor
	// (edge) is written through the per-connection handler that the stats
	// handler's TagConn derives from its logger (connInfo.log).
	refused := newRefusals(cfg.Logger)
	sample := newSampler(cfg.LogSampling)
	collectors := []prometheus.Collector{metrics, panics, refused.counter}
	if sample != nil {
		collectors = append(collectors, sample)
	}
	for _, c := range collectors {
		if err := cfg.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("gRPC server: register metrics: %w", err)
		}
	}

	outer := edge{rec: recoverer{log: cfg.Logger, panics: panics, outer: true}, log: logger{log: cfg.Logger, sample: sample}}
	inner := guard{timeout: cfg.DefaultTimeout, auth: cfg.Authenticator, rec: recoverer{log: cfg.Logger, panics: panics}}
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(serverTLS(cfg.Certificate, cfg.ClientCAs))),
		// The order is documented in docs/server.md: recovery and logging
		// (edge), metrics, then deadline, authentication, validation and
		// recovery around the handler (guard).
		grpc.ChainUnaryInterceptor(outer.unary, metrics.UnaryServerInterceptor(), inner.unary),
		grpc.ChainStreamInterceptor(outer.stream, metrics.StreamServerInterceptor(), inner.stream),
		grpc.StatsHandler(refused),
		grpc.NumStreamWorkers(streamWorkers),
		grpc.MaxRecvMsgSize(cfg.MaxMessageSize),
		grpc.MaxSendMsgSize(cfg.MaxMessageSize),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: MinPingInterval, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: maxConnectionIdle,
			Time:              serverPingAfter,
			Timeout:           serverPingTimeout,
		}),
	)
	hs := health.NewServer()
	// Not serving until the process says it is ready (SetServing).
	hs.SetServingStatus("", healthgrpc.HealthCheckResponse_NOT_SERVING)
	stopping := make(chan struct{})
	healthgrpc.RegisterHealthServer(srv, healthService{Server: hs, stopping: stopping})
	cfg.Services.register(srv)
	if cfg.Reflection {
		reflection.Register(srv)
	}
	metrics.InitializeMetrics(srv)
	if sample != nil {
		sample.addServices(srv.GetServiceInfo())
	}

	return &GRPCServer{cfg: cfg, srv: srv, health: hs, stopping: stopping, failed: make(chan error, 1)}, nil
}

// healthService is the standard health service, except that Watch streams
// end when the server stops: grpc-go's GracefulStop waits for every open
// stream, and a client that watches health (client-side health checking)
// would otherwise hold up the shutdown until its deadline.
type healthService struct {
	*health.Server
	stopping <-chan struct{}
}

func (h healthService) Watch(req *healthgrpc.HealthCheckRequest, stream healthgrpc.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	go func() {
		select {
		case <-h.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := h.Server.Watch(req, &watchStream{Health_WatchServer: stream, ctx: ctx})
	select {
	case <-h.stopping:
		// The watcher may have lost the race with the cancellation: say
		// it once more (the stream itself is still open), then end.
		_ = stream.Send(&healthgrpc.HealthCheckResponse{Status: healthgrpc.HealthCheckResponse_NOT_SERVING})
		return status.Error(codes.Unavailable, "server is shutting down")
	default:
		return err
	}
}

// watchStream replaces a Watch stream's context.
type watchStream struct {
	healthgrpc.Health_WatchServer
	ctx context.Context
}

func (w *watchStream) Context() context.Context { return w.ctx }

// serverTLS requires TLS 1.3 and a client certificate that chains to the
// client CAs. Both the server certificate and the CA bundle are read for
// each handshake from their reloading sources.
func serverTLS(cert *tlsfiles.KeyPair, cas *tlsfiles.CAPool) *tls.Config {
	forHandshake := func() *tls.Config {
		return &tls.Config{
			MinVersion:     tls.VersionTLS13,
			ClientAuth:     tls.RequireAndVerifyClientCert,
			ClientCAs:      cas.Pool(),
			GetCertificate: cert.GetCertificate,
			NextProtos:     []string{"h2"},
		}
	}
	base := forHandshake()
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return forHandshake(), nil }
	return base
}

// Start listens and serves in the background. A serving error after a
// successful start arrives on Failed.
func (s *GRPCServer) Start() error {
	lis, err := net.Listen("tcp", s.cfg.Addr) //nolint:noctx // a listener for the life of the process
	if err != nil {
		return fmt.Errorf("gRPC server: listen on %s: %w", s.cfg.Addr, err)
	}
	s.mu.Lock()
	s.lis = lis
	s.mu.Unlock()
	go func() {
		if err := s.srv.Serve(lis); err != nil {
			s.failed <- fmt.Errorf("gRPC server on %s: %w", lis.Addr(), err)
		}
	}()
	return nil
}

// Addr is the address the server listens on, once started.
func (s *GRPCServer) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lis == nil {
		return nil
	}
	return s.lis.Addr()
}

// Failed delivers the error that stopped serving unexpectedly.
func (s *GRPCServer) Failed() <-chan error { return s.failed }

// SetServing sets the status the health service reports for the server
// as a whole (service name ""). After Stop it has no effect.
func (s *GRPCServer) SetServing(serving bool) {
	st := healthgrpc.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthgrpc.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
}

// ServiceInfo lists the registered services and their methods.
func (s *GRPCServer) ServiceInfo() map[string]grpc.ServiceInfo { return s.srv.GetServiceInfo() }

// Stop reports NOT_SERVING, stops accepting connections and waits for
// in-flight RPCs to finish. When ctx ends first it cancels them and returns
// an error saying so. Later calls return nil at once.
func (s *GRPCServer) Stop(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		s.health.Shutdown()
		close(s.stopping)
		done := make(chan struct{})
		go func() {
			s.srv.GracefulStop()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			s.srv.Stop()
			<-done
			err = fmt.Errorf("gRPC server: in-flight RPCs canceled, graceful stop did not finish in time: %w", ctx.Err())
		}
	})
	return err
}
