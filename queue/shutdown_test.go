package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/queue/queuetest"
)

type slowArgs struct {
	// Stubborn handlers ignore their context.
	Stubborn bool `json:"stubborn"`
}

func (slowArgs) Kind() string { return "slow" }

// slowBundle registers a kind whose handler reports when it starts and runs
// until released (or, unless stubborn, until its context ends).
type slowBundle struct {
	*testBundle
	started chan int64
	release chan struct{}
}

func setupSlow(t *testing.T) *slowBundle {
	t.Helper()
	b := &slowBundle{testBundle: setup(t), started: make(chan int64, 10), release: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-b.release:
		default:
			close(b.release)
		}
	})
	require.NoError(t, queue.Register(b.reg, func(ctx context.Context, j *queue.Job[slowArgs]) error {
		b.started <- j.ID
		if j.Args.Stubborn {
			<-b.release
			return nil
		}
		select {
		case <-b.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, queue.KindOptions{Timeout: queue.NoTimeout}))
	return b
}

func (b *slowBundle) startWorker(t *testing.T) *queue.Client {
	t.Helper()
	c := b.client(t, func(cfg *queue.Config) {
		cfg.Queues = map[string]queue.QueueConfig{queue.QueueDefault: {MaxWorkers: 2, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond}}
		cfg.StopCancelWait = 200 * time.Millisecond
	})
	require.NoError(t, c.Start(context.Background()))
	return c
}

func (b *slowBundle) waitStarted(t *testing.T) int64 {
	t.Helper()
	select {
	case id := <-b.started:
		return id
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not start")
		return 0
	}
}

// Stop stops fetching at once and waits for the job in flight to finish.
func TestStopWaitsForJobInFlight(t *testing.T) {
	t.Parallel()
	b := setupSlow(t)
	c := b.startWorker(t)
	ctx := context.Background()
	e, err := c.Enqueue(ctx, slowArgs{}, nil)
	require.NoError(t, err)
	require.Equal(t, e.ID, b.waitStarted(t))

	stopped := make(chan error, 1)
	go func() { stopped <- c.Stop(ctx) }()
	// Stop has begun: a job enqueued now is not fetched.
	time.Sleep(50 * time.Millisecond)
	late, err := c.Enqueue(ctx, slowArgs{}, nil)
	require.NoError(t, err)
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a job was running", err)
	case id := <-b.started:
		t.Fatalf("job %d started after Stop", id)
	case <-time.After(200 * time.Millisecond):
	}

	close(b.release)
	require.NoError(t, <-stopped)
	j, err := c.Get(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, queue.StateCompleted, j.State, "the job in flight finished")
	j, err = c.Get(ctx, late.ID)
	require.NoError(t, err)
	require.Equal(t, queue.StateAvailable, j.State, "the late job waits for the next worker")
	require.NoError(t, c.Stop(ctx), "a second Stop does nothing")
}

// When Stop's deadline passes, running jobs' contexts are cancelled and the
// jobs go back to available without using up an attempt.
func TestStopDeadlineCancelsJobs(t *testing.T) {
	t.Parallel()
	b := setupSlow(t)
	c := b.startWorker(t)
	ctx := context.Background()
	e, err := c.Enqueue(ctx, slowArgs{}, nil)
	require.NoError(t, err)
	b.waitStarted(t)

	stopCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	require.NoError(t, c.Stop(stopCtx))
	require.Less(t, time.Since(begin), 2*time.Second)
	j, err := c.Get(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, queue.StateAvailable, j.State)
	require.Equal(t, 0, j.Attempt, "an interrupted attempt is given back")
	require.Empty(t, j.Errors)

	// The next worker runs it.
	close(b.release)
	done := queuetest.WorkOne(t, c, "slow")
	require.Equal(t, queue.StateCompleted, done.State)
}

// A handler that ignores its context makes Stop report it after
// StopCancelWait rather than hang.
func TestStopReportsStubbornJob(t *testing.T) {
	t.Parallel()
	b := setupSlow(t)
	c := b.startWorker(t)
	ctx := context.Background()
	_, err := c.Enqueue(ctx, slowArgs{Stubborn: true}, nil)
	require.NoError(t, err)
	b.waitStarted(t)

	stopCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = c.Stop(stopCtx)
	require.ErrorContains(t, err, "jobs still running 200ms after their contexts were cancelled")
	close(b.release)
}
