package queue_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/queue/queuetest"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := queue.Backoff{Base: time.Second, Max: time.Minute}
	var got []time.Duration
	for n := 1; n <= 8; n++ {
		got = append(got, b.Delay(n))
	}
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	require.Equal(t, want, got)
	require.Equal(t, time.Minute, b.Delay(10_000), "no overflow at absurd attempt counts")
	require.Equal(t, time.Second, b.Delay(0), "0 failures counts as the first")

	// Jitter stays within ±Jitter of the delay, at both ends of r.
	j := queue.Backoff{Base: 10 * time.Second, Max: time.Hour, Jitter: 0.2}
	j.Rand = func() float64 { return 0 }
	require.Equal(t, 8*time.Second, j.Delay(1))
	j.Rand = func() float64 { return 0.999999 }
	require.InDelta(t, float64(12*time.Second), float64(j.Delay(1)), float64(time.Millisecond))
	j.Rand = nil
	for range 1000 {
		d := j.Delay(3)
		require.True(t, d >= 32*time.Second && d <= 48*time.Second, "delay %v outside 40s ± 20%%", d)
	}

	def := queue.DefaultBackoff()
	def.Rand = func() float64 { return 0.5 }
	require.Equal(t, time.Second, def.Delay(1))
	require.Equal(t, time.Hour, def.Delay(20))
}

// The retry schedule follows the kind's policy on the injected clock, the
// job is discarded after its last attempt, an operator lists and retries
// it, and the retried job runs again.
func TestRetryScheduleDiscardAndOperatorRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var healthy atomic.Bool
	require.NoError(t, queue.Register(b.reg, func(_ context.Context, j *queue.Job[flakyArgs]) error {
		if healthy.Load() {
			return nil
		}
		return errors.New("partner down")
	}, queue.KindOptions{MaxAttempts: 3, Retry: queue.Backoff{Base: 10 * time.Second, Max: time.Hour}}))
	c := b.client(t, nil)
	ctx := context.Background()

	e, err := c.Enqueue(ctx, flakyArgs{}, nil)
	require.NoError(t, err)

	now := t0
	for attempt, wait := range []time.Duration{10 * time.Second, 20 * time.Second} {
		j := queuetest.WorkOne(t, c, "flaky")
		require.Equal(t, queue.StateRetryable, j.State, "attempt %d", attempt+1)
		require.Equal(t, attempt+1, j.Attempt)
		require.Len(t, j.Errors, attempt+1)
		require.Equal(t, "partner down", j.Errors[attempt].Error)
		require.Equal(t, now.Add(wait), j.ScheduledAt.UTC(), "attempt %d: retry after %v on the injected clock", attempt+1, wait)

		// Not due a microsecond early...
		b.clock.Set(now.Add(wait - time.Microsecond))
		require.Empty(t, queuetest.Drain(t, c), "retry ran before its time")
		// ...due on time.
		now = b.clock.Advance(time.Microsecond)
	}
	j := queuetest.WorkOne(t, c, "flaky")
	require.Equal(t, queue.StateDiscarded, j.State, "the third attempt was the last")
	require.Equal(t, 3, j.Attempt)
	require.Equal(t, now, j.FinalizedAt.UTC())

	discarded, err := c.ListDiscarded(ctx, queue.ListOpts{})
	require.NoError(t, err)
	require.Len(t, discarded, 1)
	require.Equal(t, e.ID, discarded[0].ID)
	require.Len(t, discarded[0].Errors, 3)
	byKind, err := c.ListDiscarded(ctx, queue.ListOpts{Kind: "note"})
	require.NoError(t, err)
	require.Empty(t, byKind)

	healthy.Store(true)
	r, err := c.Retry(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, queue.StateAvailable, r.State)
	require.Equal(t, 4, r.MaxAttempts, "a discarded job gets one more attempt")
	j = queuetest.WorkOne(t, c, "flaky")
	require.Equal(t, queue.StateCompleted, j.State)
	require.Len(t, j.Errors, 3, "earlier errors are kept")
	discarded, err = c.ListDiscarded(ctx, queue.ListOpts{})
	require.NoError(t, err)
	require.Empty(t, discarded)

	_, err = c.Retry(ctx, 987654)
	require.ErrorIs(t, err, queue.ErrNotFound)
	_, err = c.Get(ctx, 987654)
	require.ErrorIs(t, err, queue.ErrNotFound)
}

type flakyArgs struct{}

func (flakyArgs) Kind() string { return "flaky" }

type outcomeArgs struct {
	Do string `json:"do"`
}

func (outcomeArgs) Kind() string { return "outcome" }

// Cancel, Snooze, panics and timeouts each end an attempt the documented way.
func TestHandlerOutcomes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, queue.Register(b.reg, func(ctx context.Context, j *queue.Job[outcomeArgs]) error {
		switch j.Args.Do {
		case "cancel":
			return queue.Cancel(errors.New("account is gone"))
		case "snooze":
			return queue.Snooze(time.Minute)
		case "panic":
			panic("boom")
		case "hang":
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}, queue.KindOptions{Timeout: 50 * time.Millisecond, Retry: queue.Backoff{Base: time.Minute, Max: time.Hour}}))
	c := b.client(t, nil)
	ctx := context.Background()
	work := func(do string) queue.JobInfo {
		t.Helper()
		_, err := c.Enqueue(ctx, outcomeArgs{Do: do}, &queue.EnqueueOpts{Queue: do})
		require.NoError(t, err)
		return queuetest.WorkOne(t, c, "outcome")
	}

	j := work("cancel")
	assert.Equal(t, queue.StateCancelled, j.State, "a cancelled job is not retried")
	assert.Equal(t, "JobCancelError: account is gone", j.Errors[0].Error)

	j = work("snooze")
	assert.Equal(t, queue.StateScheduled, j.State)
	assert.Equal(t, 0, j.Attempt, "a snooze gives the attempt back")
	assert.Equal(t, t0.Add(time.Minute), j.ScheduledAt.UTC())
	assert.Empty(t, j.Errors)

	j = work("panic")
	assert.Equal(t, queue.StateRetryable, j.State)
	assert.Contains(t, j.Errors[0].Error, "boom")
	assert.Contains(t, j.Errors[0].Trace, "retry_test.go", "the panic's stack is kept")

	j = work("hang")
	assert.Equal(t, queue.StateRetryable, j.State)
	assert.Contains(t, j.Errors[0].Error, "deadline exceeded", "the kind's timeout cancelled the attempt")
}
