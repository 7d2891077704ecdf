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
	push := down.push

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	files := tlsfiles.Options{Logger: log}

	grpcCert, err := tlsfiles.LoadKeyPair(cfg.GRPCCertFile, cfg.GRPCKeyFile, files)
	if err != nil {
		return fmt.Errorf("gRPC server certificate (--grpc-tls-cert, --grpc-tls-key): %w", err)
	}
	clientCAs, err := tlsfiles.LoadCAPool(cfg.GRPCClientCAFile, files)
	if err != nil {
		return fmt.Errorf("gRPC client CA (--grpc-client-ca): %w", err)
	}
	gwCert, err := tlsfiles.LoadKeyPair(cfg.GatewayCertFile, cfg.GatewayKeyFile, files)
	if err != nil {
		return fmt.Errorf("gateway client certificate (--gateway-tls-cert, --gateway-tls-key): %w", err)
	}
	gwCAs, err := tlsfiles.LoadCAPool(cfg.GatewayServerCAFile, files)
	if err != nil {
		return fmt.Errorf("gateway server CA (--gateway-server-ca): %w", err)
	}

	pool, err := dbpool.Open(cfg.DatabaseURL, dbpool.Options{Files: files})
	if err != nil {
		return fmt.Errorf("database (--database-url): %w", err)
	}
	push("database pool", func(context.Context) error { pool.Close(); return nil })
	if err := reg.Register(dbpool.NewCollector(pool)); err != nil {
		return fmt.Errorf("register pool metrics: %w", err)
	}
	if err := startupPing(ctx, pool, log); err != nil {
		return err
	}

	api, err := o.build(ctx, Deps{Config: cfg, Pool: pool, Logger: log, Registerer: reg})
	if err != nil {
		return fmt.Errorf("build API: %w", err)
	}
	if api.Close != nil {
		push("API", func(context.Context) error { api.Close(); return nil })
	}

	checks := append([]ops.Checker{ops.Check("database", func(ctx context.Context) error { return dbpool.Ping(ctx, pool) })}, api.Checks...)
	readiness := ops.NewReadiness(0, checks...)
	opsSrv, err := ops.New(ops.Config{Addr: cfg.OpsAddr, Readiness: readiness, Gatherer: reg, Handlers: api.OpsHandlers, Logger: log})
	if err != nil {
		return err
	}
	if err := opsSrv.Start(); err != nil {
		return err
	}
	push("ops server", opsSrv.Stop)

	grpcSrv, err := transport.NewGRPCServer(transport.GRPCConfig{
		Addr:           cfg.GRPCAddr,
		Certificate:    grpcCert,
		ClientCAs:      clientCAs,
		Authenticator:  api.Authenticator,
		Services:       api.Services,
		MaxMessageSize: cfg.MaxMessageSize,
		DefaultTimeout: cfg.RPCTimeout,
		Logger:         log,
		LogSampling:    transport.LogSampling(cfg.LogSample),
		Registerer:     reg,
	})
	if err != nil {
		return err
	}
	if err := grpcSrv.Start(); err != nil {
		return err
	}
	push("gRPC server", grpcSrv.Stop)

	gw, err := transport.NewGateway(ctx, transport.GatewayConfig{
		Addr:              cfg.GatewayAddr,
		GRPCTarget:        dialAddr(grpcSrv.Addr()),
		ServerName:        cfg.GatewayServerName,
		ClientCertificate: gwCert,
		ServerCAs:         gwCAs,
		AllowedOrigin:     cfg.AllowedOrigin,
		MaxMessageSize:    cfg.MaxMessageSize,
		Logger:            log,
	})
	if err != nil {
		return err
	}
	if err := gw.Start(); err != nil {
		return err
	}
	push("gateway", gw.Stop)

	// Ready from here on; the first step of the shutdown takes it back, so
	// load balancers stop sending before the listeners close.
	readiness.SetServing(true)
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		readiness.Watch(watchCtx, readinessInterval, log, grpcSrv.SetServing)
	}()
	push("readiness", func(context.Context) error {
		readiness.SetServing(false)
		stopWatch()
		<-watchDone
		grpcSrv.SetServing(false)
		return nil
	})

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
