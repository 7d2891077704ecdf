package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/server/internal/buildinfo"
	"github.com/groundwork-dev/groundwork/server/internal/config"
	"github.com/groundwork-dev/groundwork/server/internal/dbpool"
	"github.com/groundwork-dev/groundwork/server/internal/ops"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles"
	"github.com/groundwork-dev/groundwork/server/internal/transport"
)

// readinessInterval is how often the gRPC health status is re-evaluated.
const readinessInterval = 5 * time.Second

// startupPingTimeout bounds the database check at start.
const startupPingTimeout = 5 * time.Second

// Addrs are the addresses the process listens on.
type Addrs struct {
	GRPC, Gateway, Ops net.Addr
}

// shutdown is the ordered shutdown of a process: steps are pushed as parts
// start and run in reverse order, also when a later part fails to start.
type shutdown struct {
	log   *slog.Logger
	steps []stopper
}

// stopper is one step of the shutdown.
type stopper struct {
	name string
	stop func(context.Context) error
}

func (s *shutdown) push(name string, stop func(context.Context) error) {
	s.steps = append(s.steps, stopper{name, stop})
}

// run stops every part, last started first, within timeout in all, and
// joins err with the failures; it logs "stopped" when all went well.
func (s *shutdown) run(ctx context.Context, timeout time.Duration, err *error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	for i := len(s.steps) - 1; i >= 0; i-- {
		if serr := s.steps[i].stop(sctx); serr != nil {
			*err = errors.Join(*err, fmt.Errorf("stop %s: %w", s.steps[i].name, serr))
		}
	}
	if *err == nil {
		s.log.Info("stopped")
	}
}

// serve runs the process until ctx ends or a server fails, then shuts down
// in order: not ready, gateway, gRPC server, ops, API, database pool.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, o options) (err error) {
	down := &shutdown{log: log}
	defer down.run(ctx, cfg.ShutdownTimeout, &err)

	reg := newRegistry()
	files := tlsfiles.Options{Logger: log}
	certs, err := loadServeTLS(cfg, files)
	if err != nil {
		return err
	}
	pool, err := openPool(ctx, cfg.DatabaseURL, files, reg, down, log)
	if err != nil {
		return err
	}
	api, err := o.build(ctx, Deps{Config: cfg, Pool: pool, Logger: log, Registerer: reg})
	if err != nil {
		return fmt.Errorf("build API: %w", err)
	}
	if api.Close != nil {
		down.push("API", func(context.Context) error { api.Close(); return nil })
	}

	readiness := ops.NewReadiness(0, append([]ops.Checker{databaseCheck(pool)}, api.Checks...)...)
	opsSrv, err := startOps(ops.Config{Addr: cfg.OpsAddr, Readiness: readiness, Gatherer: reg, Handlers: api.OpsHandlers, Logger: log}, down)
	if err != nil {
		return err
	}
	grpcSrv, err := startGRPC(cfg, certs, api, reg, log, down)
	if err != nil {
		return err
	}
	gw, err := startGateway(ctx, cfg, certs, grpcSrv.Addr(), log, down)
	if err != nil {
		return err
	}
	watchReadiness(ctx, readiness, grpcSrv, log, down)

	if o.registry != nil {
		o.registry(reg)
	}
	addrs := Addrs{GRPC: grpcSrv.Addr(), Gateway: gw.Addr(), Ops: opsSrv.Addr()}
	log.Info("serving", "grpc", addrs.GRPC.String(), "gateway", addrs.Gateway.String(), "ops", addrs.Ops.String(), "config", cfg)
	if o.started != nil {
		o.started(addrs)
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down", "cause", context.Cause(ctx).Error())
		return nil
	case err := <-grpcSrv.Failed():
		return err
	case err := <-gw.Failed():
		return err
	case err := <-opsSrv.Failed():
		return err
	}
}

// newRegistry is the process's metrics registry, with the Go runtime's and
// the process's own metrics and the build's info gauge.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildinfo.Read().Collector())
	return reg
}

// serveTLS are the certificates and CAs of serve's two TLS sides.
type serveTLS struct {
	grpcCert  *tlsfiles.KeyPair // the gRPC server's certificate
	clientCAs *tlsfiles.CAPool  // the CAs of the gRPC server's clients
	gwCert    *tlsfiles.KeyPair // the gateway's client certificate
	gwCAs     *tlsfiles.CAPool  // the CAs the gateway verifies the gRPC server with
}

// loadServeTLS loads them all before anything starts, so that a wrong file
// fails the start naming its flags.
func loadServeTLS(cfg config.Config, files tlsfiles.Options) (serveTLS, error) {
	var t serveTLS
	var err error
	if t.grpcCert, err = tlsfiles.LoadKeyPair(cfg.GRPCCertFile, cfg.GRPCKeyFile, files); err != nil {
		return serveTLS{}, fmt.Errorf("gRPC server certificate (--grpc-tls-cert, --grpc-tls-key): %w", err)
	}
	if t.clientCAs, err = tlsfiles.LoadCAPool(cfg.GRPCClientCAFile, files); err != nil {
		return serveTLS{}, fmt.Errorf("gRPC client CA (--grpc-client-ca): %w", err)
	}
	if t.gwCert, err = tlsfiles.LoadKeyPair(cfg.GatewayCertFile, cfg.GatewayKeyFile, files); err != nil {
		return serveTLS{}, fmt.Errorf("gateway client certificate (--gateway-tls-cert, --gateway-tls-key): %w", err)
	}
	if t.gwCAs, err = tlsfiles.LoadCAPool(cfg.GatewayServerCAFile, files); err != nil {
		return serveTLS{}, fmt.Errorf("gateway server CA (--gateway-server-ca): %w", err)
	}
	return t, nil
}

// openPool opens the database pool, registers its metrics in reg and
// checks the database once (startupPing). The pool's close is pushed
// first, so it is the last step of the shutdown. serve and work share it.
func openPool(ctx context.Context, url string, files tlsfiles.Options, reg prometheus.Registerer, down *shutdown, log *slog.Logger) (*pgxpool.Pool, error) {
	pool, err := dbpool.Open(url, dbpool.Options{Files: files})
	if err != nil {
		return nil, fmt.Errorf("database (--database-url): %w", err)
	}
	down.push("database pool", func(context.Context) error { pool.Close(); return nil })
	if err := reg.Register(dbpool.NewCollector(pool)); err != nil {
		return nil, fmt.Errorf("register pool metrics: %w", err)
	}
	if err := startupPing(ctx, pool, log); err != nil {
		return nil, err
	}
	return pool, nil
}

// databaseCheck is the readiness check of the database, in both processes.
func databaseCheck(pool *pgxpool.Pool) ops.Checker {
	return ops.Check("database", func(ctx context.Context) error { return dbpool.Ping(ctx, pool) })
}

// startOps starts the ops server (health, readiness, metrics) and pushes
// its stop.
func startOps(cfg ops.Config, down *shutdown) (*ops.Server, error) {
	opsSrv, err := ops.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := opsSrv.Start(); err != nil {
		return nil, err
	}
	down.push("ops server", opsSrv.Stop)
	return opsSrv, nil
}

// startGRPC starts the gRPC server with the API's services and
// authenticator and pushes its stop.
func startGRPC(cfg config.Config, certs serveTLS, api API, reg prometheus.Registerer, log *slog.Logger, down *shutdown) (*transport.GRPCServer, error) {
	grpcSrv, err := transport.NewGRPCServer(transport.GRPCConfig{
		Addr:           cfg.GRPCAddr,
		Certificate:    certs.grpcCert,
		ClientCAs:      certs.clientCAs,
		Authenticator:  api.Authenticator,
		Services:       api.Services,
		Reflection:     cfg.GRPCReflection,
		MaxMessageSize: cfg.MaxMessageSize,
		DefaultTimeout: cfg.RPCTimeout,
		Logger:         log,
		LogSampling:    transport.LogSampling(cfg.LogSample),
		Registerer:     reg,
	})
	if err != nil {
		return nil, err
	}
	if err := grpcSrv.Start(); err != nil {
		return nil, err
	}
	down.push("gRPC server", grpcSrv.Stop)
	return grpcSrv, nil
}

// startGateway starts the HTTP/JSON gateway, which dials the gRPC server
// listening on grpcAddr, and pushes its stop.
func startGateway(ctx context.Context, cfg config.Config, certs serveTLS, grpcAddr net.Addr, log *slog.Logger, down *shutdown) (*transport.Gateway, error) {
	gw, err := transport.NewGateway(ctx, transport.GatewayConfig{
		Addr:              cfg.GatewayAddr,
		GRPCTarget:        dialAddr(grpcAddr),
		ServerName:        cfg.GatewayServerName,
		ClientCertificate: certs.gwCert,
		ServerCAs:         certs.gwCAs,
		AllowedOrigin:     cfg.AllowedOrigin,
		MaxMessageSize:    cfg.MaxMessageSize,
		Logger:            log,
	})
	if err != nil {
		return nil, err
	}
	if err := gw.Start(); err != nil {
		return nil, err
	}
	down.push("gateway", gw.Stop)
	return gw, nil
}

// watchReadiness makes the process ready and keeps the gRPC health status
// in step with readiness. It runs once everything listens: ready from here
// on. Its step, pushed last, is the first of the shutdown and takes
// readiness back, so load balancers stop sending before the listeners close.
func watchReadiness(ctx context.Context, readiness *ops.Readiness, grpcSrv *transport.GRPCServer, log *slog.Logger, down *shutdown) {
	readiness.SetServing(true)
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		readiness.Watch(watchCtx, readinessInterval, log, grpcSrv.SetServing)
	}()
	down.push("readiness", func(context.Context) error {
		readiness.SetServing(false)
		stopWatch()
		<-watchDone
		grpcSrv.SetServing(false)
		return nil
	})
}

// startupPing fails the start when PostgreSQL refuses the login — a
// configuration error a restart will not fix by itself — and only warns
// when it is unreachable: the process then starts not ready and becomes
// ready when the database answers.
func startupPing(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	pctx, cancel := context.WithTimeout(ctx, startupPingTimeout)
	defer cancel()
	err := dbpool.Ping(pctx, pool)
	switch {
	case err == nil:
		log.Info("database reachable", "database", dbpool.LogValue(pool))
		return nil
	case errors.Is(err, dbconn.ErrRejected):
		return fmt.Errorf("database (--database-url): %w", err)
	default:
		log.Warn("database not reachable yet; not ready until it is", "error", err)
		return nil
	}
}

// dialAddr is the address the gateway dials to reach a listener: 127.0.0.1
// when the listener is bound to all interfaces (the gRPC server's
// certificate must then hold the IP SAN 127.0.0.1, or set
// --gateway-server-name to a name it holds).
func dialAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}
