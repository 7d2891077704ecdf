package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/queue/queuetest"
)

func TestEnqueueTxRolledBackLeavesNoJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t, nil)

	err := inTx(t, b.pool, func(tx pgx.Tx) error {
		_, err := c.EnqueueTx(context.Background(), tx, noteArgs{Key: "rolled-back"}, nil)
		require.NoError(t, err)
		// Visible inside the transaction...
		queuetest.RequireEnqueued(t, tx, "note", &queuetest.Want{Args: noteArgs{Key: "rolled-back"}})
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	// ...and gone with it.
	queuetest.RequireNotEnqueued(t, b.pool, "note", nil)
	require.Zero(t, b.count(t, "SELECT count(*) FROM river_job"))
}

func TestEnqueueTxCommitted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t, nil)

	var id int64
	require.NoError(t, inTx(t, b.pool, func(tx pgx.Tx) error {
		e, err := c.EnqueueTx(context.Background(), tx, noteArgs{Key: "kept"}, nil)
		id = e.ID
		return err
	}))
	got := queuetest.RequireEnqueued(t, b.pool, "note", &queuetest.Want{
		Args: noteArgs{Key: "kept"}, Queue: queue.QueueDefault, Priority: 1, MaxAttempts: queue.DefaultMaxAttempts,
		State: queue.StateAvailable, ScheduledAt: t0,
	})
	require.Equal(t, id, got.ID)

	done := queuetest.WorkOne(t, c, "note")
	require.Equal(t, queue.StateCompleted, done.State)
	require.Equal(t, []string{"kept"}, b.noted())
}

func TestEnqueueOptions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t, nil)
	ctx := context.Background()

	at := t0.Add(time.Hour)
	e, err := c.Enqueue(ctx, noteArgs{Key: "a"}, &queue.EnqueueOpts{
		Queue: "mail", Priority: 3, At: at, MaxAttempts: 7, Tags: []string{"welcome", "ver2"},
	})
	require.NoError(t, err)
	assert.Equal(t, queue.StateScheduled, e.State)
	queuetest.RequireEnqueued(t, b.pool, "note", &queuetest.Want{
		Args: noteArgs{Key: "a"}, Queue: "mail", Priority: 3, MaxAttempts: 7,
		Tags: []string{"welcome", "ver2"}, State: queue.StateScheduled, ScheduledAt: at,
	})

	e, err = c.Enqueue(ctx, noteArgs{Key: "b"}, &queue.EnqueueOpts{In: 90 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, t0.Add(90*time.Second), e.ScheduledAt.UTC(), "In counts from the injected clock")

	// A scheduled job is not due until the clock reaches it.
	queuetest.RequireNotEnqueued(t, b.pool, "note", &queuetest.Want{State: queue.StateAvailable})
	require.Empty(t, queuetest.Drain(t, c))
	b.clock.Advance(90 * time.Second)
	done := queuetest.Drain(t, c)
	require.Len(t, done, 1)
	require.Equal(t, []string{"b"}, b.noted())
}

func TestEnqueueMany(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t, nil)
	ctx := context.Background()

	res, err := c.EnqueueMany(ctx, []queue.Item{
		{Args: noteArgs{Key: "1"}},
		{Args: noteArgs{Key: "2"}, Opts: &queue.EnqueueOpts{Priority: 2}},
		{Args: failArgs{Msg: "x"}},
	})
	require.NoError(t, err)
	require.Len(t, res, 3)
	assert.Equal(t, "fail", res[2].Kind)
	assert.Equal(t, 3, res[2].MaxAttempts, "the kind's default")
	require.Equal(t, 3, b.count(t, "SELECT count(*) FROM river_job"))

	// In a transaction: all or none.
	err = inTx(t, b.pool, func(tx pgx.Tx) error {
		_, err := c.EnqueueManyTx(ctx, tx, []queue.Item{{Args: noteArgs{Key: "3"}}, {Args: noteArgs{Key: "4"}}})
		require.NoError(t, err)
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	require.Equal(t, 3, b.count(t, "SELECT count(*) FROM river_job"))

	// One bad item: nothing is written.
	_, err = c.EnqueueMany(ctx, []queue.Item{{Args: noteArgs{Key: "5"}}, {Args: noteArgs{Key: "6"}, Opts: &queue.EnqueueOpts{Priority: -1}}})
	require.ErrorIs(t, err, queue.ErrInvalid)
	require.ErrorContains(t, err, "item 1")
	require.Equal(t, 3, b.count(t, "SELECT count(*) FROM river_job"))

	res, err = c.EnqueueMany(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, res)
}

func TestUniqueness(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t, nil)
	ctx := context.Background()

	byArgs := &queue.Unique{ByArgs: true}
	first, err := c.Enqueue(ctx, noteArgs{Key: "u"}, &queue.EnqueueOpts{Unique: byArgs})
	require.NoError(t, err)
	require.False(t, first.Duplicate)
	dup, err := c.Enqueue(ctx, noteArgs{Key: "u"}, &queue.EnqueueOpts{Unique: byArgs})
	require.NoError(t, err)
	require.True(t, dup.Duplicate)
	require.Equal(t, first.ID, dup.ID, "the duplicate reports the existing job")
	other, err := c.Enqueue(ctx, noteArgs{Key: "v"}, &queue.EnqueueOpts{Unique: byArgs})
	require.NoError(t, err)
	require.False(t, other.Duplicate, "other args are another job")

	// By queue: one per queue, whatever the args.
	byQueue := &queue.Unique{ByQueue: true}
	q1, err := c.Enqueue(ctx, failArgs{Msg: "1"}, &queue.EnqueueOpts{Queue: "q1", Unique: byQueue})
	require.NoError(t, err)
	q1b, err := c.Enqueue(ctx, failArgs{Msg: "2"}, &queue.EnqueueOpts{Queue: "q1", Unique: byQueue})
	require.NoError(t, err)
	require.True(t, q1b.Duplicate)
	require.Equal(t, q1.ID, q1b.ID)
	q2, err := c.Enqueue(ctx, failArgs{Msg: "2"}, &queue.EnqueueOpts{Queue: "q2", Unique: byQueue})
	require.NoError(t, err)
	require.False(t, q2.Duplicate)

	// By period, on the injected clock: a new window admits a new job.
	hourly := &queue.Unique{ByArgs: true, Period: time.Hour}
	p1, err := c.Enqueue(ctx, noteArgs{Key: "p"}, &queue.EnqueueOpts{Unique: hourly})
	require.NoError(t, err)
	p2, err := c.Enqueue(ctx, noteArgs{Key: "p"}, &queue.EnqueueOpts{Unique: hourly})
	require.NoError(t, err)
	require.True(t, p2.Duplicate)
	b.clock.Advance(time.Hour)
	p3, err := c.Enqueue(ctx, noteArgs{Key: "p"}, &queue.EnqueueOpts{Unique: hourly})
	require.NoError(t, err)
	require.False(t, p3.Duplicate)
	require.NotEqual(t, p1.ID, p3.ID)

	// Uniqueness holds across transactions: the second waits for the first
	// and then sees its job.
	u2 := &queue.Unique{ByArgs: true}
	var inTx1 queue.Enqueued
	require.NoError(t, inTx(t, b.pool, func(tx pgx.Tx) error {
		var err error
		inTx1, err = c.EnqueueTx(ctx, tx, noteArgs{Key: "tx"}, &queue.EnqueueOpts{Unique: u2})
		return err
	}))
	require.NoError(t, inTx(t, b.pool, func(tx pgx.Tx) error {
		e, err := c.EnqueueTx(ctx, tx, noteArgs{Key: "tx"}, &queue.EnqueueOpts{Unique: u2})
		require.True(t, e.Duplicate)
		require.Equal(t, inTx1.ID, e.ID)
		return err
	}))

	// IgnoreCompleted: once the job completed, the same args enqueue again.
	again := &queue.Unique{ByArgs: true, IgnoreCompleted: true}
	a1, err := c.Enqueue(ctx, noteArgs{Key: "again"}, &queue.EnqueueOpts{Unique: again, Queue: "again"})
	require.NoError(t, err)
	a2, err := c.Enqueue(ctx, noteArgs{Key: "again"}, &queue.EnqueueOpts{Unique: again, Queue: "again"})
	require.NoError(t, err)
	require.True(t, a2.Duplicate)
	_, err = b.pool.Exec(ctx, "UPDATE river_job SET state = 'completed', finalized_at = now() WHERE id = $1", a1.ID)
	require.NoError(t, err)
	a3, err := c.Enqueue(ctx, noteArgs{Key: "again"}, &queue.EnqueueOpts{Unique: again, Queue: "again"})
	require.NoError(t, err)
	require.False(t, a3.Duplicate)
}
