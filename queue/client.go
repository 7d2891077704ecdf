package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// Defaults of Config.
const (
	DefaultMaxAttempts    = 20
	DefaultJobTimeout     = time.Minute
	DefaultStopCancelWait = 10 * time.Second
	DefaultMetricsTimeout = 2 * time.Second
)

// Config configures a Client. Pool and Registry are required; a client
// without Queues only enqueues (the API server), one with Queues also works
// jobs (the worker process).
type Config struct {
	// Pool connects to the database that holds River's tables, as a role
	// with DML on them (the server role).
	Pool *pgxpool.Pool
	// Registry holds the kinds this program knows.
	Registry *Registry

	// Queues this client works, by name, with their concurrency. Empty: the
	// client only enqueues and Start is an error.
	Queues map[string]QueueConfig
	// Kinds restricts the kinds this client fetches and works to a subset
	// of the registry (default: all). Such a client takes no part in
	// leader election, so it runs no periodic jobs and no maintenance: run
	// at least one client with every kind.
	Kinds []string
	// Periodic jobs, enqueued by whichever client is the leader.
	Periodic []PeriodicJob
	// FetchCooldown is the default of QueueConfig.FetchCooldown, and also
	// the least time between two "new job" notifications this client sends
	// per queue when it enqueues: a worker idle between notifications finds
	// new jobs only at its next poll. Default 100ms.
	FetchCooldown time.Duration
	// FetchPollInterval is the default of QueueConfig.FetchPollInterval.
	// Default 1s.
	FetchPollInterval time.Duration

	// MaxAttempts of kinds that do not set theirs. Default DefaultMaxAttempts.
	MaxAttempts int
	// JobTimeout of kinds that do not set theirs. Default DefaultJobTimeout;
	// NoTimeout for none.
	JobTimeout time.Duration
	// Retry policy of kinds that do not set theirs. Default DefaultBackoff().
	Retry RetryPolicy
	// RescueStuckJobsAfter is how long a job may stay running before the
	// leader considers its worker dead (a killed process leaves its jobs
	// running) and retries it, or discards it when its attempts are used
	// up. It must exceed every kind's timeout, or jobs that are still
	// running would be run twice. Default: 1 hour, or JobTimeout + 1 hour
	// when JobTimeout is longer.
	RescueStuckJobsAfter time.Duration
	// StopCancelWait bounds how long Stop waits for jobs to return after
	// cancelling their contexts. Default DefaultStopCancelWait.
	StopCancelWait time.Duration

	// How long finished jobs are kept before the leader deletes them.
	// Defaults: completed and cancelled 24 hours, discarded 7 days (time for
	// an operator to look and Retry).
	CompletedRetention, CancelledRetention, DiscardedRetention time.Duration

	// Logger receives River's logs: job errors at info, problems at warn
	// and error. Default slog.Default().
	Logger *slog.Logger
	// Metrics, when set, receives the pgqueue_* metrics (see the package
	// documentation). Register them once per process: one client per
	// Registerer.
	Metrics prometheus.Registerer
	// MetricsTimeout bounds the queue depth query of each scrape. Default
	// DefaultMetricsTimeout.
	MetricsTimeout time.Duration

	// Clock replaces the wall clock (tests). Default: the wall clock.
	// Periodic schedules follow it too, so a stopped test clock also stops
	// them: test periodic jobs on the wall clock.
	Clock Clock
	// ID names this client in job attempts and leader election; it must be
	// unique among running clients. Default: host name and start time.
	ID string
	// ReindexSchedule runs River's reindexer, which rebuilds River's
	// indexes with REINDEX CONCURRENTLY. PostgreSQL lets only an index's
	// owner do that, and the server role does not own River's tables, so
	// the default is never: reindex from the migrator role instead (see
	// docs/queue.md). Set it only when Pool's role owns River's indexes.
	ReindexSchedule Schedule
	// StartMaintenanceAtOnce starts the leader's maintenance services
	// (rescuer, scheduler, cleaners, periodic jobs) immediately instead of
	// after a random delay of a few seconds that spreads their first
	// queries in production. Tests and benchmarks set it.
	StartMaintenanceAtOnce bool
}

// QueueConfig configures one queue of a working client.
//
//nolint:revive // named like River's QueueConfig: queue.Queue would read as a queue, not its settings
type QueueConfig struct {
	// MaxWorkers is how many of the queue's jobs this client runs at once.
	MaxWorkers int
	// FetchCooldown is the least time between two fetches (default
	// Config.FetchCooldown): lower means lower latency under load and more
	// queries.
	FetchCooldown time.Duration
	// FetchPollInterval is how often to look for jobs when no notification
	// came (default Config.FetchPollInterval).
	FetchPollInterval time.Duration
}

// Client enqueues jobs and, when it has Queues, works them.
type Client struct {
	cfg Config
	reg *Registry
	rc  *river.Client[pgx.Tx]
	rt  *runtime
}

// New validates cfg and builds a client. It does not touch the database.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("queue config: %w: %w", ErrInvalid, err)
	}
	cfg.setDefaults()
	c := &Client{cfg: cfg, reg: cfg.Registry}
	c.rt = &runtime{clock: cfg.Clock, jobTimeout: cfg.JobTimeout, retry: cfg.Retry, maxAttempts: cfg.MaxAttempts}
	if cfg.Metrics != nil {
		m, err := newMetrics(cfg.Metrics, cfg.Pool, cfg.MetricsTimeout, cfg.Logger)
		if err != nil {
			return nil, err
		}
		c.rt.metrics = m
		// Every registered kind's series exist from the start, at zero,
		// in its default queue: a dashboard shows "0 failures" instead of
		// "no data", and the first failure is a rate() step from 0, not a
		// series appearing that rate() cannot see.
		for _, kind := range c.reg.Kinds() {
			m.series(kind, first(c.reg.kinds[kind].opts.Queue, QueueDefault))
		}
	}

	workers := river.NewWorkers()
	for _, kind := range c.reg.Kinds() {
		if len(cfg.Kinds) > 0 && !slices.Contains(cfg.Kinds, kind) {
			continue
		}
		if err := c.reg.kinds[kind].add(workers, c.rt); err != nil {
			return nil, fmt.Errorf("queue config: add worker for %s: %w", kind, err)
		}
	}
	periodic, err := c.periodicJobs()
	if err != nil {
		return nil, fmt.Errorf("queue config: %w: %w", ErrInvalid, err)
	}
	rcfg := &river.Config{
		Workers:                     workers,
		Logger:                      cfg.Logger,
		ID:                          cfg.ID,
		MaxAttempts:                 cfg.MaxAttempts,
		JobTimeout:                  cfg.JobTimeout,
		RescueStuckJobsAfter:        cfg.RescueStuckJobsAfter,
		RetryPolicy:                 clientRetry{c.rt},
		CompletedJobRetentionPeriod: cfg.CompletedRetention,
		CancelledJobRetentionPeriod: cfg.CancelledRetention,
		DiscardedJobRetentionPeriod: cfg.DiscardedRetention,
		PeriodicJobs:                periodic,
		FetchOnlyKnownKinds:         len(cfg.Kinds) > 0,
		LeaderElectionDisabled:      len(cfg.Kinds) > 0,
		TestOnly:                    cfg.StartMaintenanceAtOnce,
		FetchCooldown:               cfg.FetchCooldown,
		FetchPollInterval:           cfg.FetchPollInterval,
		ReindexerSchedule:           river.NeverSchedule(),
	}
	if cfg.ReindexSchedule != nil {
		rcfg.ReindexerSchedule = cfg.ReindexSchedule
	}
	if len(cfg.Queues) > 0 {
		rcfg.Queues = make(map[string]river.QueueConfig, len(cfg.Queues))
		for name, q := range cfg.Queues {
			rcfg.Queues[name] = river.QueueConfig{MaxWorkers: q.MaxWorkers, FetchCooldown: q.FetchCooldown, FetchPollInterval: q.FetchPollInterval}
		}
	}
	if cfg.Clock != nil {
		rcfg.Test.Time = riverTime{cfg.Clock}
	}
	rc, err := river.NewClient(riverpgxv5.New(cfg.Pool), rcfg)
	if err != nil {
		return nil, fmt.Errorf("queue config: %w", err)
	}
	c.rc = rc
	return c, nil
}

func (cfg *Config) validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if cfg.Pool == nil {
		add("Pool is required")
	}
	if cfg.Registry == nil || cfg.Registry.kinds == nil {
		add("Registry is required (queue.NewRegistry)")
	} else if len(cfg.Registry.kinds) == 0 {
		add("Registry has no kinds: register at least one with queue.Register")
	}
	for _, name := range sortedKeys(cfg.Queues) {
		q := cfg.Queues[name]
		if err := validateQueueName(name); err != nil {
			add("Queues: %w", err)
		}
		if q.MaxWorkers < 1 || q.MaxWorkers > river.QueueNumWorkersMax {
			add("Queues[%q].MaxWorkers must be between 1 and %d, got %d", name, river.QueueNumWorkersMax, q.MaxWorkers)
		}
		if q.FetchCooldown < 0 || q.FetchPollInterval < 0 {
			add("Queues[%q]: FetchCooldown and FetchPollInterval must not be negative", name)
		}
	}
	for _, k := range cfg.Kinds {
		if cfg.Registry != nil && cfg.Registry.kinds != nil {
			if _, ok := cfg.Registry.kinds[k]; !ok {
				add("Kinds: %q is not registered", k)
			}
		}
	}
	if len(cfg.Kinds) > 0 && len(cfg.Queues) == 0 {
		add("Kinds restricts the kinds a client works, but Queues is empty")
	}
	if len(cfg.Periodic) > 0 && (len(cfg.Queues) == 0 || len(cfg.Kinds) > 0) {
		add("Periodic jobs need a client that works jobs (Queues set) and may lead (Kinds empty)")
	}
	if cfg.MaxAttempts < 0 {
		add("MaxAttempts must not be negative, got %d", cfg.MaxAttempts)
	}
	if cfg.JobTimeout < 0 && cfg.JobTimeout != NoTimeout {
		add("JobTimeout must be positive, zero (default) or NoTimeout, got %v", cfg.JobTimeout)
	}
	if err := validateRetry(cfg.Retry); err != nil {
		add("Retry: %w", err)
	}
	if cfg.RescueStuckJobsAfter < 0 {
		add("RescueStuckJobsAfter must not be negative, got %v", cfg.RescueStuckJobsAfter)
	}
	if cfg.RescueStuckJobsAfter > 0 {
		jt := cmpOr(cfg.JobTimeout, DefaultJobTimeout)
		if cfg.RescueStuckJobsAfter <= jt {
			add("RescueStuckJobsAfter (%v) must exceed JobTimeout (%v), or running jobs would be rescued and run twice", cfg.RescueStuckJobsAfter, jt)
		}
		if cfg.Registry != nil {
			for _, e := range cfg.Registry.kinds {
				if e.opts.Timeout > 0 && cfg.RescueStuckJobsAfter <= e.opts.Timeout {
					add("RescueStuckJobsAfter (%v) must exceed the Timeout of kind %s (%v)", cfg.RescueStuckJobsAfter, e.kind, e.opts.Timeout)
				}
			}
		}
	}
	if cfg.FetchCooldown < 0 || cfg.FetchPollInterval < 0 {
		add("FetchCooldown and FetchPollInterval must not be negative")
	}
	for name, d := range map[string]time.Duration{
		"StopCancelWait": cfg.StopCancelWait, "MetricsTimeout": cfg.MetricsTimeout,
		"CompletedRetention": cfg.CompletedRetention, "CancelledRetention": cfg.CancelledRetention,
		"DiscardedRetention": cfg.DiscardedRetention,
	} {
		if d < 0 {
			add("%s must not be negative, got %v", name, d)
		}
	}
	return errors.Join(errs...)
}

func (cfg *Config) setDefaults() {
	cfg.MaxAttempts = cmpOr(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.JobTimeout = cmpOr(cfg.JobTimeout, DefaultJobTimeout)
	if cfg.Retry == nil {
		cfg.Retry = DefaultBackoff()
	}
	cfg.StopCancelWait = cmpOr(cfg.StopCancelWait, DefaultStopCancelWait)
	cfg.MetricsTimeout = cmpOr(cfg.MetricsTimeout, DefaultMetricsTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// clientRetry is River's client-level retry policy. Registered kinds use
// their own (worker.NextRetry); River falls back to this one for jobs it
// rescues whose kind this client does not know.
type clientRetry struct{ rt *runtime }

func (p clientRetry) NextRetry(job *rivertype.JobRow) time.Time {
	return p.rt.now().Add(max(p.rt.retry.Delay(len(job.Errors)+1), 0))
}

// Config returns the client's configuration with defaults applied.
func (c *Client) Config() Config { return c.cfg }

// River returns the River client underneath, for what pgqueue does not
// wrap (River UI, queue pausing, subscriptions). Jobs inserted through it
// bypass pgqueue's validation and metrics.
func (c *Client) River() *river.Client[pgx.Tx] { return c.rc }

// Start begins fetching and working jobs in the background and returns.
// The client runs until Stop: cancelling ctx does not stop it, so that the
// caller decides the shutdown order.
func (c *Client) Start(ctx context.Context) error {
	if len(c.cfg.Queues) == 0 {
		return fmt.Errorf("start queue client: %w: no Queues configured, this client only enqueues", ErrInvalid)
	}
	c.rt.hardStop.Store(false)
	if err := c.rc.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start queue client: %w", err)
	}
	return nil
}

// Stop shuts the client down gracefully: it stops fetching at once, lets
// running jobs finish until ctx is done, then cancels their contexts and
// waits up to StopCancelWait for them to return. A job stopped this way is
// made available again without using up an attempt; a job whose handler
// ignores its context and outlives StopCancelWait is left running and
// rescued after RescueStuckJobsAfter. Stop on a client that is not running
// does nothing.
func (c *Client) Stop(ctx context.Context) error {
	err := c.rc.Stop(ctx)
	if err == nil {
		return nil
	}
	if ctx.Err() == nil {
		return fmt.Errorf("stop queue client: %w", err)
	}
	c.cfg.Logger.Warn("queue: stop deadline passed with jobs running; cancelling them", slog.Duration("wait", c.cfg.StopCancelWait))
	c.rt.hardStop.Store(true)
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.StopCancelWait)
	defer cancel()
	if err := c.rc.StopAndCancel(hctx); err != nil {
		return fmt.Errorf("stop queue client: jobs still running %v after their contexts were cancelled: %w", c.cfg.StopCancelWait, err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
