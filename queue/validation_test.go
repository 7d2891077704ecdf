package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/queue"
)

type ptrArgs struct{ Name string }

// Kind reads a field, so it panics on a nil *ptrArgs (the zero value).
func (a *ptrArgs) Kind() string { return "ptr-" + a.Name }

type badKindArgs struct{}

func (badKindArgs) Kind() string { return "bad kind!" }

type otherArgs struct{}

func (otherArgs) Kind() string { return "other" }

func noop[T queue.Args](context.Context, *queue.Job[T]) error { return nil }

func TestRegisterRejectsBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		reg  func(r *queue.Registry) error
		want string
	}{
		{"nil registry", func(*queue.Registry) error { return queue.Register[noteArgs](nil, noop, queue.KindOptions{}) }, "nil Registry"},
		{"nil handler", func(r *queue.Registry) error { return queue.Register[noteArgs](r, nil, queue.KindOptions{}) }, "nil Handler"},
		{"duplicate", func(r *queue.Registry) error { return queue.Register(r, noop[noteArgs], queue.KindOptions{}) }, `"note": invalid: already registered`},
		{"kind panics on zero value", func(r *queue.Registry) error { return queue.Register(r, noop[*ptrArgs], queue.KindOptions{}) }, "Kind() panicked on the zero value"},
		{"bad kind", func(r *queue.Registry) error { return queue.Register(r, noop[badKindArgs], queue.KindOptions{}) }, `Kind() = "bad kind!"`},
		{"bad queue", func(r *queue.Registry) error {
			return queue.Register(r, noop[otherArgs], queue.KindOptions{Queue: "Mail Queue"})
		}, `Queue: queue name "Mail Queue" must be`},
		{"priority 5", func(r *queue.Registry) error {
			return queue.Register(r, noop[otherArgs], queue.KindOptions{Priority: 5})
		}, "Priority must be between 1 and 4, got 5"},
		{"negative priority", func(r *queue.Registry) error {
			return queue.Register(r, noop[otherArgs], queue.KindOptions{Priority: -1})
		}, "Priority must be between 1 and 4, got -1"},
		{"negative max attempts", func(r *queue.Registry) error {
			return queue.Register(r, noop[otherArgs], queue.KindOptions{MaxAttempts: -1})
		}, "MaxAttempts must not be negative"},
		{"negative timeout", func(r *queue.Registry) error {
			return queue.Register(r, noop[otherArgs], queue.KindOptions{Timeout: -time.Second})
		}, "Timeout must be positive, zero (the client's) or NoTimeout"},
		{"zero backoff", func(r *queue.Registry) error {
			return queue.Register(r, noop[otherArgs], queue.KindOptions{Retry: queue.Backoff{}})
		}, "Retry: Base must be positive"},
		{"backoff max below base", func(r *queue.Registry) error {
			return queue.Register(r, noop[otherArgs], queue.KindOptions{Retry: queue.Backoff{Base: time.Minute, Max: time.Second}})
		}, "Retry: Max (1s) must be at least Base (1m0s)"},
		{"jitter 1", func(r *queue.Registry) error {
			return queue.Register(r, noop[otherArgs], queue.KindOptions{Retry: queue.Backoff{Base: 1, Max: 1, Jitter: 1}})
		}, "Retry: Jitter must be in [0, 1)"},
		{"empty unique", func(r *queue.Registry) error {
			return queue.Register(r, noop[otherArgs], queue.KindOptions{Unique: &queue.Unique{}})
		}, "Unique: set at least one of ByArgs, ByQueue and Period"},
		{"bad tag", func(r *queue.Registry) error {
			return queue.Register(r, noop[otherArgs], queue.KindOptions{Tags: []string{"no spaces"}})
		}, `tag "no spaces" must be`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := queue.NewRegistry()
			require.NoError(t, queue.Register(r, noop[noteArgs], queue.KindOptions{}))
			err := tc.reg(r)
			require.ErrorContains(t, err, tc.want)
			require.Equal(t, []string{"note"}, r.Kinds(), "nothing registered")
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name string
		edit func(*queue.Config)
		want string
	}{
		{"no pool", func(c *queue.Config) { c.Pool = nil }, "Pool is required"},
		{"no registry", func(c *queue.Config) { c.Registry = nil }, "Registry is required"},
		{"empty registry", func(c *queue.Config) { c.Registry = queue.NewRegistry() }, "Registry has no kinds"},
		{"zero concurrency", func(c *queue.Config) { c.Queues = map[string]queue.QueueConfig{"default": {}} }, `Queues["default"].MaxWorkers must be between 1 and 10000, got 0`},
		{"negative concurrency", func(c *queue.Config) { c.Queues = map[string]queue.QueueConfig{"default": {MaxWorkers: -3}} }, "got -3"},
		{"too much concurrency", func(c *queue.Config) { c.Queues = map[string]queue.QueueConfig{"default": {MaxWorkers: 10001}} }, "got 10001"},
		{"bad queue name", func(c *queue.Config) { c.Queues = map[string]queue.QueueConfig{"UPPER": {MaxWorkers: 1}} }, `queue name "UPPER"`},
		{"negative fetch cooldown", func(c *queue.Config) {
			c.Queues = map[string]queue.QueueConfig{"default": {MaxWorkers: 1, FetchCooldown: -1}}
		}, "FetchCooldown and FetchPollInterval must not be negative"},
		{"unknown kind in Kinds", func(c *queue.Config) {
			c.Queues = map[string]queue.QueueConfig{"default": {MaxWorkers: 1}}
			c.Kinds = []string{"nope"}
		}, `Kinds: "nope" is not registered`},
		{"Kinds without Queues", func(c *queue.Config) { c.Kinds = []string{"note"} }, "Queues is empty"},
		{"periodic on an enqueue-only client", func(c *queue.Config) {
			c.Periodic = []queue.PeriodicJob{{Name: "p", Schedule: "@hourly", Args: noteArgs{}}}
		}, "Periodic jobs need a client that works jobs"},
		{"bad cron", func(c *queue.Config) {
			c.Queues = map[string]queue.QueueConfig{"default": {MaxWorkers: 1}}
			c.Periodic = []queue.PeriodicJob{{Name: "nightly", Schedule: "0 25 * * *", Args: noteArgs{}}}
		}, `Periodic[0] "nightly": cron schedule "0 25 * * *": end of range (25) above maximum (23)`},
		{"periodic name reused", func(c *queue.Config) {
			c.Queues = map[string]queue.QueueConfig{"default": {MaxWorkers: 1}}
			p := queue.PeriodicJob{Name: "p1", Schedule: "@hourly", Args: noteArgs{}}
			c.Periodic = []queue.PeriodicJob{p, p}
		}, `Periodic[1] "p1": Name used twice`},
		{"periodic unknown kind", func(c *queue.Config) {
			c.Queues = map[string]queue.QueueConfig{"default": {MaxWorkers: 1}}
			c.Periodic = []queue.PeriodicJob{{Name: "p1", Schedule: "@hourly", Args: otherArgs{}}}
		}, `unknown job kind`},
		{"periodic nil args", func(c *queue.Config) {
			c.Queues = map[string]queue.QueueConfig{"default": {MaxWorkers: 1}}
			c.Periodic = []queue.PeriodicJob{{Name: "p1", Schedule: "@hourly"}}
		}, `nil args`},
		{"periodic with a delay", func(c *queue.Config) {
			c.Queues = map[string]queue.QueueConfig{"default": {MaxWorkers: 1}}
			c.Periodic = []queue.PeriodicJob{{Name: "p1", Schedule: "@hourly", Args: noteArgs{}, Opts: &queue.EnqueueOpts{In: time.Minute}}}
		}, `Opts.In and Opts.At do not apply`},
		{"negative max attempts", func(c *queue.Config) { c.MaxAttempts = -1 }, "MaxAttempts must not be negative"},
		{"negative job timeout", func(c *queue.Config) { c.JobTimeout = -time.Second }, "JobTimeout must be positive"},
		{"bad retry", func(c *queue.Config) { c.Retry = queue.Backoff{Base: -1} }, "Retry: Base must be positive"},
		{"rescue before timeout", func(c *queue.Config) {
			c.JobTimeout = time.Minute
			c.RescueStuckJobsAfter = 30 * time.Second
		}, "RescueStuckJobsAfter (30s) must exceed JobTimeout (1m0s)"},
		{"rescue before a kind's timeout", func(c *queue.Config) {
			c.Registry = queue.NewRegistry()
			require.NoError(t, queue.Register(c.Registry, noop[noteArgs], queue.KindOptions{Timeout: time.Hour}))
			c.RescueStuckJobsAfter = 10 * time.Minute
		}, "must exceed the Timeout of kind note (1h0m0s)"},
		{"negative retention", func(c *queue.Config) { c.DiscardedRetention = -time.Hour }, "DiscardedRetention must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := queue.Config{Pool: b.pool, Registry: b.reg}
			tc.edit(&cfg)
			_, err := queue.New(cfg)
			require.ErrorIs(t, err, queue.ErrInvalid)
			require.ErrorContains(t, err, tc.want)
		})
	}
	// Several mistakes are reported together.
	_, err := queue.New(queue.Config{MaxAttempts: -1})
	require.ErrorContains(t, err, "Pool is required")
	require.ErrorContains(t, err, "Registry is required")
	require.ErrorContains(t, err, "MaxAttempts must not be negative")

	// An enqueue-only client has nothing to start.
	c := b.client(t, nil)
	require.ErrorIs(t, c.Start(context.Background()), queue.ErrInvalid)
	require.NoError(t, c.Stop(context.Background()), "stopping a client that never started does nothing")
}

func TestEnqueueRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t, nil)
	ctx := context.Background()
	var nilPtr *ptrArgs
	for _, tc := range []struct {
		name string
		args queue.Args
		opts *queue.EnqueueOpts
		is   error
		want string
	}{
		{"nil args", nil, nil, queue.ErrInvalid, "nil args"},
		{"typed nil args", nilPtr, nil, queue.ErrInvalid, "nil args"},
		{"unknown kind", otherArgs{}, nil, queue.ErrUnknownKind, `enqueue "other" job: unknown job kind: register it with queue.Register (registered: [fail note])`},
		{"negative priority", noteArgs{}, &queue.EnqueueOpts{Priority: -1}, queue.ErrInvalid, "Priority must be between 1 and 4, got -1"},
		{"priority 5", noteArgs{}, &queue.EnqueueOpts{Priority: 5}, queue.ErrInvalid, "Priority must be between 1 and 4, got 5"},
		{"negative max attempts", noteArgs{}, &queue.EnqueueOpts{MaxAttempts: -2}, queue.ErrInvalid, "MaxAttempts must not be negative"},
		{"At and In", noteArgs{}, &queue.EnqueueOpts{At: t0, In: time.Second}, queue.ErrInvalid, "set At or In, not both"},
		{"negative In", noteArgs{}, &queue.EnqueueOpts{In: -time.Second}, queue.ErrInvalid, "In must not be negative"},
		{"bad queue", noteArgs{}, &queue.EnqueueOpts{Queue: "a queue"}, queue.ErrInvalid, `queue name "a queue"`},
		{"bad tag", noteArgs{}, &queue.EnqueueOpts{Tags: []string{"x"}}, queue.ErrInvalid, `tag "x" must be`},
		{"empty unique", noteArgs{}, &queue.EnqueueOpts{Unique: &queue.Unique{}}, queue.ErrInvalid, "Unique: set at least one"},
		{"negative unique period", noteArgs{}, &queue.EnqueueOpts{Unique: &queue.Unique{Period: -time.Hour}}, queue.ErrInvalid, "Period must not be negative"},
		{"sub-second unique period", noteArgs{}, &queue.EnqueueOpts{Unique: &queue.Unique{Period: time.Millisecond}}, queue.ErrInvalid, "Period must be at least 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Enqueue(ctx, tc.args, tc.opts)
			require.ErrorIs(t, err, tc.is)
			require.ErrorContains(t, err, tc.want)
			_, err = c.EnqueueMany(ctx, []queue.Item{{Args: noteArgs{Key: "good"}}, {Args: tc.args, Opts: tc.opts}})
			require.ErrorIs(t, err, tc.is)
			// In a transaction the caller's write survives the refused job:
			// the error comes before anything reaches the database.
			err = inTx(t, b.pool, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "SELECT 1")
				require.NoError(t, err)
				_, err = c.EnqueueTx(ctx, tx, tc.args, tc.opts)
				require.ErrorIs(t, err, tc.is)
				_, err = tx.Exec(ctx, "SELECT 1")
				return err
			})
			require.NoError(t, err, "the transaction is still usable")
			require.Zero(t, b.count(t, "SELECT count(*) FROM river_job"), "nothing written")
		})
	}
	_, err := c.EnqueueTx(ctx, nil, noteArgs{}, nil)
	require.ErrorIs(t, err, queue.ErrInvalid)
	_, err = c.EnqueueManyTx(ctx, nil, nil)
	require.ErrorIs(t, err, queue.ErrInvalid)

	_, err = c.ListDiscarded(ctx, queue.ListOpts{Limit: -1})
	require.ErrorIs(t, err, queue.ErrInvalid)
	_, err = c.ListDiscarded(ctx, queue.ListOpts{Limit: 10001})
	require.ErrorIs(t, err, queue.ErrInvalid)

	require.ErrorIs(t, queue.CompleteTx[noteArgs](ctx, nil, nil), queue.ErrNotRunning)
	require.ErrorIs(t, queue.CompleteTx(ctx, nil, &queue.Job[noteArgs]{ID: 1}), queue.ErrNotRunning)
	require.ErrorContains(t, queue.Cancel(nil), "cancelled by handler", "Cancel(nil) still cancels")
}
