// Command faultworker is the worker process of the queue's no-job-lost
// fault test: a pgqueue worker for the faultjob kind that the test starts,
// kills with SIGKILL at random moments, and restarts. It prints "ready"
// once it is working, and on SIGTERM or SIGINT stops gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/queue/internal/faultjob"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	databaseURL  string
	workers      int
	rescueAfter  time.Duration
	jobTimeout   time.Duration
	stopDeadline time.Duration
}

func (c config) validate() error {
	var errs []error
	if c.databaseURL == "" {
		errs = append(errs, errors.New("-database-url (or DATABASE_URL) is required"))
	}
	if c.workers < 1 || c.workers > 1000 {
		errs = append(errs, fmt.Errorf("-workers must be between 1 and 1000, got %d", c.workers))
	}
	if c.rescueAfter <= c.jobTimeout {
		errs = append(errs, fmt.Errorf("-rescue-after (%v) must exceed -job-timeout (%v)", c.rescueAfter, c.jobTimeout))
	}
	return errors.Join(errs...)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("faultworker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.StringVar(&cfg.databaseURL, "database-url", os.Getenv(dbconn.EnvVar), "database URL (server role)")
	fs.IntVar(&cfg.workers, "workers", 8, "concurrent jobs")
	fs.DurationVar(&cfg.rescueAfter, "rescue-after", 2*time.Second, "RescueStuckJobsAfter")
	fs.DurationVar(&cfg.jobTimeout, "job-timeout", time.Second, "JobTimeout")
	fs.DurationVar(&cfg.stopDeadline, "stop-deadline", 5*time.Second, "graceful stop deadline")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(stderr, "faultworker:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := work(ctx, cfg, log, stdout); err != nil {
		log.Error("faultworker failed", slog.String("error", err.Error()))
		return 1
	}
	return 0
}

func work(ctx context.Context, cfg config, log *slog.Logger, stdout io.Writer) error {
	// A connection per worker, plus River's own (listener, fetches,
	// completions, leadership).
	pool, err := dbconn.Connect(ctx, cfg.databaseURL, func(pc *pgxpool.Config) {
		pc.MaxConns = int32(cfg.workers) + 4 //nolint:gosec // validate bounds workers to 1000
	})
	if err != nil {
		return err
	}
	defer pool.Close()
	reg := queue.NewRegistry()
	if err := faultjob.Register(reg, pool); err != nil {
		return err
	}
	c, err := queue.New(queue.Config{
		Pool:                 pool,
		Registry:             reg,
		Queues:               map[string]queue.QueueConfig{queue.QueueDefault: {MaxWorkers: cfg.workers, FetchCooldown: 10 * time.Millisecond}},
		JobTimeout:           cfg.jobTimeout,
		RescueStuckJobsAfter: cfg.rescueAfter,
		// Rescued and failed jobs come back at the scheduler's next pass.
		Retry:                  queue.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
		Logger:                 log,
		StartMaintenanceAtOnce: true,
	})
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ready")
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.stopDeadline)
	defer cancel()
	return c.Stop(stopCtx)
}
