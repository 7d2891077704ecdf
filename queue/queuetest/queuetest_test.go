package queuetest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/queue/queuetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type stepArgs struct {
	N int `json:"n"`
}

func (stepArgs) Kind() string { return "step" }

type otherArgs struct{}

func (otherArgs) Kind() string { return "other" }

type testBundle struct {
	db     *pgtest.DB
	client *queue.Client
	clock  *queuetest.Clock
	mu     sync.Mutex
	ran    []int
}

// setup registers "step", whose handler records N and, while N > 0,
// enqueues step N-1 into queue "q<N-1>", and "other", which does nothing.
func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{db: pgtest.New(t), clock: queuetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))}
	reg := queue.NewRegistry()
	require.NoError(t, queue.Register(reg, func(ctx context.Context, j *queue.Job[stepArgs]) error {
		b.mu.Lock()
		b.ran = append(b.ran, j.Args.N)
		b.mu.Unlock()
		if j.Args.N > 0 {
			_, err := b.client.Enqueue(ctx, stepArgs{N: j.Args.N - 1}, &queue.EnqueueOpts{Queue: fmt.Sprintf("q%d", j.Args.N-1)})
			return err
		}
		return nil
	}, queue.KindOptions{}))
	require.NoError(t, queue.Register(reg, func(context.Context, *queue.Job[otherArgs]) error { return nil }, queue.KindOptions{}))
	c, err := queue.New(queue.Config{Pool: b.db.Pool, Registry: reg, Clock: b.clock})
	require.NoError(t, err)
	b.client = c
	return b
}

func TestWorkOneRunsExactlyTheNextJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	low, err := b.client.Enqueue(ctx, stepArgs{N: 0}, &queue.EnqueueOpts{Priority: 4})
	require.NoError(t, err)
	high, err := b.client.Enqueue(ctx, stepArgs{N: 0}, &queue.EnqueueOpts{Priority: 1})
	require.NoError(t, err)
	_, err = b.client.Enqueue(ctx, otherArgs{}, nil)
	require.NoError(t, err)

	j := queuetest.WorkOne(t, b.client, "step")
	require.Equal(t, high.ID, j.ID, "priority 1 first")
	require.Equal(t, queue.StateCompleted, j.State)
	queuetest.RequireEnqueued(t, b.db.Pool, "step", &queuetest.Want{State: queue.StateAvailable, Priority: 4})
	queuetest.RequireEnqueued(t, b.db.Pool, "other", &queuetest.Want{State: queue.StateAvailable})

	j = queuetest.WorkOne(t, b.client, "step")
	require.Equal(t, low.ID, j.ID)

	msg := fatal(t, func(ft testing.TB) { queuetest.WorkOne(ft, b.client, "step") })
	require.Equal(t, "queuetest: WorkOne: no step job is due", msg)
}

func TestDrainFollowsJobsAcrossQueues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.client.Enqueue(ctx, stepArgs{N: 3}, nil)
	require.NoError(t, err)
	_, err = b.client.Enqueue(ctx, otherArgs{}, &queue.EnqueueOpts{In: time.Hour})
	require.NoError(t, err)

	done := queuetest.Drain(t, b.client)
	require.Len(t, done, 4, "step 3 enqueued 2, 1 and 0 in new queues; the scheduled job is not due")
	require.Equal(t, []int{3, 2, 1, 0}, b.ran)
	for _, j := range done {
		require.Equal(t, queue.StateCompleted, j.State)
	}
	require.Empty(t, queuetest.Drain(t, b.client), "nothing left")

	b.clock.Advance(time.Hour)
	done = queuetest.Drain(t, b.client)
	require.Len(t, done, 1)
	require.Equal(t, "other", done[0].Kind)
}

func TestRequireEnqueued(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = b.client.EnqueueTx(ctx, tx, stepArgs{N: 1}, &queue.EnqueueOpts{Queue: "mail", Tags: []string{"abc"}})
	require.NoError(t, err)

	// The transaction sees its job; the pool does not yet.
	j := queuetest.RequireEnqueued(t, tx, "step", &queuetest.Want{Args: stepArgs{N: 1}, Queue: "mail", Tags: []string{"abc"}, MaxAttempts: queue.DefaultMaxAttempts})
	require.Equal(t, "step", j.Kind)
	queuetest.RequireNotEnqueued(t, b.db.Pool, "step", nil)
	queuetest.RequireNotEnqueued(t, tx, "step", &queuetest.Want{Args: stepArgs{N: 2}})

	msg := fatal(t, func(ft testing.TB) {
		queuetest.RequireEnqueued(ft, tx, "step", &queuetest.Want{Args: stepArgs{N: 2}, Queue: "web"})
	})
	require.Contains(t, msg, "no step job matches")
	require.Contains(t, msg, `near misses: job `+fmt.Sprint(j.ID)+`: args {"n": 1}, want {"n":2}, queue "mail", want "web"`)
	msg = fatal(t, func(ft testing.TB) { queuetest.RequireEnqueued(ft, tx, "other", nil) })
	require.Contains(t, msg, "no job of that kind at all")
	msg = fatal(t, func(ft testing.TB) { queuetest.RequireNotEnqueued(ft, tx, "step", nil) })
	require.Contains(t, msg, "want no step job matching anything, found 1")

	_, err = b.client.EnqueueTx(ctx, tx, stepArgs{N: 1}, &queue.EnqueueOpts{Queue: "mail"})
	require.NoError(t, err)
	msg = fatal(t, func(ft testing.TB) { queuetest.RequireEnqueued(ft, tx, "step", &queuetest.Want{Queue: "mail"}) })
	require.Contains(t, msg, "2 step jobs match")

	require.NoError(t, pgx.BeginFunc(ctx, b.db.Pool, func(pgx.Tx) error { return nil }))
}

func TestClock(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	c := queuetest.NewClock(at)
	require.Equal(t, at, c.Now())
	require.Equal(t, at.Add(time.Minute), c.Advance(time.Minute))
	c.Set(at)
	require.Equal(t, at, c.Now())
}

// fatal runs fn with a testing.TB whose Fatalf stops fn, and returns the
// message.
func fatal(t *testing.T, fn func(testing.TB)) string {
	t.Helper()
	ft := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = recover() }()
		fn(ft)
	}()
	<-done
	require.NotEmpty(t, ft.msg, "expected a fatal error")
	return ft.msg
}

type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, a ...any) {
	f.msg = strings.TrimSpace(fmt.Sprintf(format, a...))
	panic(f.msg)
}
