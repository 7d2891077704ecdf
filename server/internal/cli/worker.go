package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/server/internal/config"
	"github.com/groundwork-dev/groundwork/server/internal/dbpool"
	"github.com/groundwork-dev/groundwork/server/internal/jobs"
	"github.com/groundwork-dev/groundwork/server/internal/ops"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles"
)

// WorkerAddrs are the addresses the worker listens on.
type WorkerAddrs struct {
	Ops net.Addr
}

// workerOptions are the seams tests use.
type workerOptions struct {
	// identities replaces the Kratos admin client of the reconciliation.
	identities jobs.IdentityLister
	// queue adjusts the queue configuration (tests: maintenance at once,
	// faster polling).
	queue   func(*queue.Config)
	started func(WorkerAddrs) // called once the queue runs and the ops port listens
}

// Shares of --shutdown-timeout in the worker's shutdown: the rest goes to
// the running jobs.
const (
	// cancelShare of the budget is kept for jobs to return after their
	// contexts are cancelled (queue.Config.StopCancelWait), at most
	// queue.DefaultStopCancelWait.
	cancelShare = 4 // one quarter
	// opsStopBudget is kept for stopping the ops server and the pool.
	opsStopBudget = time.Second
)

// work runs the worker process until ctx ends or the queue stops by itself,
// then shuts down in order: not ready, the queue (stop fetching, let running
// jobs finish, then cancel them), the ops server, the database pool.
func work(ctx context.Context, cfg config.Worker, log *slog.Logger, o workerOptions) (err error) {
	cancelWait := min(cfg.ShutdownTimeout/cancelShare, queue.DefaultStopCancelWait)
	down := &shutdown{log: log}
	defer down.run(ctx, cfg.ShutdownTimeout, &err)
	push := down.push

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	pool, err := dbpool.Open(cfg.DatabaseURL, dbpool.Options{Files: tlsfiles.Options{Logger: log}})
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

	identities := o.identities
	if identities == nil {
		k, err := jobs.NewKratosIdentities(cfg.KratosAdminURL, nil, 0)
		if err != nil {
			return fmt.Errorf("--kratos-admin-url (KRATOS_ADMIN_URL): %w", err)
		}
		identities = k
	}
	registry, err := jobs.NewRegistry(jobs.Deps{DB: pool, Identities: identities, Logger: log})
	if err != nil {
		return err
	}
	qcfg := queue.Config{
		Pool:           pool,
		Registry:       registry,
		Queues:         map[string]queue.QueueConfig{queue.QueueDefault: {MaxWorkers: cfg.MaxWorkers}},
		Periodic:       jobs.Periodic(cfg.ReconcileUsersSchedule),
		StopCancelWait: cancelWait,
		Logger:         log,
		Metrics:        reg,
	}
	if o.queue != nil {
		o.queue(&qcfg)
	}
	q, err := queue.New(qcfg)
	if err != nil {
		return err
	}

	var running atomic.Bool
	checks := []ops.Checker{
		ops.Check("database", func(ctx context.Context) error { return dbpool.Ping(ctx, pool) }),
		ops.Check("queue", func(context.Context) error {
			if !running.Load() {
				return errors.New("the queue client is not running")
			}
			return nil
		}),
	}
	readiness := ops.NewReadiness(0, checks...)
	opsSrv, err := ops.New(ops.Config{Addr: cfg.OpsAddr, Readiness: readiness, Gatherer: reg, Logger: log})
	if err != nil {
		return err
	}
	if err := opsSrv.Start(); err != nil {
		return err
	}
	push("ops server", opsSrv.Stop)

	if err := q.Start(ctx); err != nil {
		return err
	}
	running.Store(true)
	stopped := q.River().Stopped()
	push("queue", func(sctx context.Context) error {
		running.Store(false)
		// Running jobs get the budget less what the cancellation wait and
		// the later steps need.
		deadline, _ := sctx.Deadline()
		jctx, cancel := context.WithDeadline(sctx, deadline.Add(-cancelWait-opsStopBudget))
		defer cancel()
		return q.Stop(jctx)
	})
	readiness.SetServing(true)
	push("readiness", func(context.Context) error { readiness.SetServing(false); return nil })

	addrs := WorkerAddrs{Ops: opsSrv.Addr()}
	log.Info("working", "ops", addrs.Ops.String(), "kinds", registry.Kinds(), "config", cfg)
	if o.started != nil {
		o.started(addrs)
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down", "cause", context.Cause(ctx).Error())
		return nil
	case <-stopped:
		running.Store(false)
		return errors.New("the queue client stopped by itself")
	case err := <-opsSrv.Failed():
		return err
	}
}
