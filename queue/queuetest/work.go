package queuetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/groundwork-dev/groundwork/queue"
)

// workTimeout bounds WorkOne and Drain: a handler that hangs fails the test
// instead of hanging it.
const workTimeout = 30 * time.Second

// WorkOne runs the next due job of kind (by priority, then scheduled time,
// then ID) and returns it as stored after the attempt: completed,
// retryable, discarded, cancelled or snoozed. It first makes due retries
// and scheduled jobs available, on c's clock. It fails the test when no
// job of kind is due.
//
// The job runs through River's executor in a short-lived client built from
// c's configuration, restricted to kind, with one worker: handlers,
// timeouts, retry policy and CompleteTx behave as in production. c itself
// need not be started.
func WorkOne(t testing.TB, c *queue.Client, kind string) queue.JobInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), workTimeout)
	defer cancel()
	cfg := c.Config()
	scheduleDue(ctx, t, cfg)
	due, err := queryJobs(ctx, cfg.Pool, selectJobs+`
		WHERE state = 'available' AND kind = $1 AND scheduled_at <= coalesce($2::timestamptz, now())
		ORDER BY priority, scheduled_at, id LIMIT 1`, kind, nowOrNil(cfg))
	if err != nil {
		t.Fatalf("queuetest: find the next %s job: %v", kind, err)
	}
	if len(due) == 0 {
		t.Fatalf("queuetest: WorkOne: no %s job is due", kind)
	}
	want := due[0]

	// One worker, and a fetch cooldown longer than the test: the producer's
	// first fetch takes exactly one job, and there is no second fetch.
	cfg.Kinds = []string{kind}
	cfg.Queues = map[string]queue.QueueConfig{want.Queue: {MaxWorkers: 1, FetchCooldown: time.Hour, FetchPollInterval: time.Hour}}
	events := run(ctx, t, cfg, func(done []queue.JobInfo) bool { return len(done) > 0 })
	if len(events) == 0 {
		t.Fatalf("queuetest: WorkOne: job %d (%s) did not finish within %v", want.ID, kind, workTimeout)
	}
	if events[0].ID != want.ID {
		t.Fatalf("queuetest: WorkOne: River ran job %d, want %d", events[0].ID, want.ID)
	}
	return events[0]
}

// Drain runs due jobs of every registered kind until none is due and none
// is running, and returns each job it ran as stored after its last attempt,
// in the order they finished. It first makes due retries and scheduled
// jobs available, on c's clock. Jobs become due only as c's clock passes
// their time: with a queuetest.Clock, a failed job is retried by the next
// Drain after Advance; with the wall clock, Drain keeps running a job whose
// retry falls due while it runs.
func Drain(t testing.TB, c *queue.Client) []queue.JobInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), workTimeout)
	defer cancel()
	cfg := c.Config()
	scheduleDue(ctx, t, cfg)
	kinds := cfg.Registry.Kinds()
	if len(cfg.Kinds) > 0 {
		kinds = cfg.Kinds
	}
	queues := dueQueues(ctx, t, cfg, kinds)
	if len(queues) == 0 {
		return nil
	}
	cfg.Kinds = kinds
	cfg.Queues = map[string]queue.QueueConfig{}
	for _, q := range queues {
		cfg.Queues[q] = queue.QueueConfig{MaxWorkers: 1, FetchCooldown: time.Millisecond, FetchPollInterval: 20 * time.Millisecond}
	}
	var last time.Time
	return run(ctx, t, cfg, func([]queue.JobInfo) bool {
		// Polled: stop when nothing of ours is due or running.
		if time.Since(last) < 10*time.Millisecond {
			return false
		}
		last = time.Now()
		var n int
		err := cfg.Pool.QueryRow(ctx, `
			SELECT count(*) FROM river_job
			 WHERE kind = ANY($1) AND queue = ANY($2)
			   AND (state = 'running' OR (state = 'available' AND scheduled_at <= coalesce($3::timestamptz, now())))`,
			kinds, queues, nowOrNil(cfg)).Scan(&n)
		if err != nil {
			t.Fatalf("queuetest: Drain: count pending jobs: %v", err)
		}
		return n == 0
	})
}

// run starts a temporary client with cfg, collects the jobs it finishes
// until done reports true (checked after each finished job and every few
// milliseconds), then stops it.
func run(ctx context.Context, t testing.TB, cfg queue.Config, done func([]queue.JobInfo) bool) []queue.JobInfo {
	t.Helper()
	cfg.Metrics = nil // the caller's client registered them already
	cfg.Periodic = nil
	cfg.ID = "queuetest-" + randHex()
	cfg.StartMaintenanceAtOnce = true
	tc, err := queue.New(cfg)
	if err != nil {
		t.Fatalf("queuetest: build worker client: %v", err)
	}
	events, unsubscribe := tc.River().Subscribe(
		river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled, river.EventKindJobSnoozed)
	defer unsubscribe()
	if err := tc.Start(ctx); err != nil {
		t.Fatalf("queuetest: start worker client: %v", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), workTimeout)
		defer cancel()
		if err := tc.Stop(stopCtx); err != nil {
			t.Errorf("queuetest: stop worker client: %v", err)
		}
	}()

	var finished []queue.JobInfo
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !done(finished) {
		select {
		case ev := <-events:
			info := jobInfoOf(ev)
			// A job retried within the drain appears once, as it ended.
			if i := slices.IndexFunc(finished, func(j queue.JobInfo) bool { return j.ID == info.ID }); i >= 0 {
				finished = slices.Delete(finished, i, i+1)
			}
			finished = append(finished, info)
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("queuetest: jobs still running after %v (finished: %d)", workTimeout, len(finished))
		}
	}
	return finished
}

func jobInfoOf(ev *river.Event) queue.JobInfo {
	// JobInfo's conversion is the queue package's; reuse it through Get's
	// shape by building the same fields here.
	r := ev.Job
	j := queue.JobInfo{
		ID: r.ID, Kind: r.Kind, Queue: r.Queue, State: queue.State(r.State), Priority: r.Priority,
		Tags: r.Tags, Args: r.EncodedArgs, Attempt: r.Attempt, MaxAttempts: r.MaxAttempts,
		CreatedAt: r.CreatedAt, ScheduledAt: r.ScheduledAt,
	}
	if r.AttemptedAt != nil {
		j.AttemptedAt = *r.AttemptedAt
	}
	if r.FinalizedAt != nil {
		j.FinalizedAt = *r.FinalizedAt
	}
	for _, e := range r.Errors {
		j.Errors = append(j.Errors, queue.AttemptError{At: e.At, Attempt: e.Attempt, Error: e.Error, Trace: e.Trace})
	}
	return j
}

// scheduleDue runs River's scheduler query once on cfg's clock: retryable
// and scheduled jobs whose time has come become available (the leader does
// this every few seconds in production).
func scheduleDue(ctx context.Context, t testing.TB, cfg queue.Config) {
	t.Helper()
	exec := riverpgxv5.New(cfg.Pool).GetExecutor()
	if _, err := exec.JobSchedule(ctx, &riverdriver.JobScheduleParams{Max: 10_000, Now: nowOrNil(cfg)}); err != nil {
		t.Fatalf("queuetest: make due jobs available: %v", err)
	}
}

func dueQueues(ctx context.Context, t testing.TB, cfg queue.Config, kinds []string) []string {
	t.Helper()
	rows, err := cfg.Pool.Query(ctx, `
		SELECT DISTINCT queue FROM river_job
		 WHERE state = 'available' AND kind = ANY($1) AND scheduled_at <= coalesce($2::timestamptz, now())
		 ORDER BY queue`, kinds, nowOrNil(cfg))
	if err != nil {
		t.Fatalf("queuetest: find queues with due jobs: %v", err)
	}
	var qs []string
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			t.Fatalf("queuetest: find queues with due jobs: %v", err)
		}
		qs = append(qs, q)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("queuetest: find queues with due jobs: %v", err)
	}
	return qs
}

func nowOrNil(cfg queue.Config) *time.Time {
	if cfg.Clock == nil {
		return nil
	}
	n := cfg.Clock.Now().UTC()
	return &n
}

func randHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
