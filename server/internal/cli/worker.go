package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/server/internal/config"
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
	// registry sees the metrics registry once it is complete.
	registry func(*prometheus.Registry)
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

	reg := newRegistry()
	pool, err := openPool(ctx, cfg.DatabaseURL, tlsfiles.Options{Logger: log}, reg, down, log)
	if err != nil {
		return err
	}
	registry, err := jobRegistry(cfg, pool, log, o.identities)
	if err != nil {
		return err
	}
	q, err := newQueue(cfg, pool, registry, reg, log, cancelWait, o.queue)
	if err != nil {
		return err
	}

	var running atomic.Bool
	readiness := ops.NewReadiness(0, databaseCheck(pool), queueCheck(&running))
	opsSrv, err := startOps(ops.Config{Addr: cfg.OpsAddr, Readiness: readiness, Gatherer: reg, Logger: log}, down)
	if err != nil {
		return err
	}
	stopped, err := startQueue(ctx, q, &running, cancelWait, down)
	if err != nil {
		return err
	}
	readiness.SetServing(true)
	down.push("readiness", func(context.Context) error { readiness.SetServing(false); return nil })

	if o.registry != nil {
		o.registry(reg)
	}
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

// jobRegistry registers the worker's jobs. The user reconciliation lists
// identities through Kratos's admin API, unless identities (tests) is set.
func jobRegistry(cfg config.Worker, pool *pgxpool.Pool, log *slog.Logger, identities jobs.IdentityLister) (*queue.Registry, error) {
	if identities == nil {
		k, err := jobs.NewKratosIdentities(cfg.KratosAdminURL, nil, 0)
		if err != nil {
			return nil, fmt.Errorf("--kratos-admin-url (KRATOS_ADMIN_URL): %w", err)
		}
		identities = k
	}
	return jobs.NewRegistry(jobs.Deps{DB: pool, Identities: identities, Logger: log})
}

// newQueue builds the queue client: the default queue with --max-workers,
// the periodic jobs, and cancelWait for jobs to return once cancelled.
// adjust, if set, changes the configuration first (tests).
func newQueue(cfg config.Worker, pool *pgxpool.Pool, registry *queue.Registry, reg prometheus.Registerer, log *slog.Logger, cancelWait time.Duration, adjust func(*queue.Config)) (*queue.Client, error) {
	qcfg := queue.Config{
		Pool:           pool,
		Registry:       registry,
		Queues:         map[string]queue.QueueConfig{queue.QueueDefault: {MaxWorkers: cfg.MaxWorkers}},
		Periodic:       jobs.Periodic(cfg.ReconcileUsersSchedule),
		StopCancelWait: cancelWait,
		Logger:         log,
		Metrics:        reg,
	}
	if adjust != nil {
		adjust(&qcfg)
	}
	return queue.New(qcfg)
}

// queueCheck is the readiness check of the queue: ready while the queue
// client runs.
func queueCheck(running *atomic.Bool) ops.Checker {
	return ops.Check("queue", func(context.Context) error {
		if !running.Load() {
			return errors.New("the queue client is not running")
		}
		return nil
	})
}

// startQueue starts the queue, marks it running and pushes its stop. The
// returned channel is closed when the queue client stops, also by itself.
func startQueue(ctx context.Context, q *queue.Client, running *atomic.Bool, cancelWait time.Duration, down *shutdown) (<-chan struct{}, error) {
	if err := q.Start(ctx); err != nil {
		return nil, err
	}
	running.Store(true)
	stopped := q.River().Stopped()
	down.push("queue", func(sctx context.Context) error {
		running.Store(false)
		// Running jobs get the budget less what the cancellation wait and
		// the later steps need.
		deadline, _ := sctx.Deadline()
		jctx, cancel := context.WithDeadline(sctx, deadline.Add(-cancelWait-opsStopBudget))
		defer cancel()
		return q.Stop(jctx)
	})
	return stopped, nil
}
