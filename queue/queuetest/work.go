package queuetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"testing"
	"time"

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
// need not be started; its metrics do not count these jobs.
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
	ran := run(ctx, t, cfg, func(id string) bool {
		var finished bool
		err := cfg.Pool.QueryRow(ctx, `SELECT state <> 'running' AND coalesce($2 = ANY(attempted_by), false) FROM river_job WHERE id = $1`, want.ID, id).Scan(&finished)
		if err != nil {
			t.Fatalf("queuetest: WorkOne: read job %d: %v", want.ID, err)
		}
		return finished
	})
	if len(ran) != 1 || ran[0].ID != want.ID {
		t.Fatalf("queuetest: WorkOne: River ran jobs %v, want just %d", ids(ran), want.ID)
	}
	return ran[0]
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
	kinds := cfg.Registry.Kinds()
	if len(cfg.Kinds) > 0 {
		kinds = cfg.Kinds
	}
	var all []queue.JobInfo
	// Handlers may enqueue jobs into queues the last round did not work:
	// go again until no queue has a due job.
	for {
		scheduleDue(ctx, t, cfg)
		queues := dueQueues(ctx, t, cfg, kinds)
		if len(queues) == 0 {
			return all
		}
		all = merge(all, drainQueues(ctx, t, cfg, kinds, queues))
	}
}

func drainQueues(ctx context.Context, t testing.TB, cfg queue.Config, kinds, queues []string) []queue.JobInfo {
	t.Helper()
	cfg.Kinds = kinds
	cfg.Queues = map[string]queue.QueueConfig{}
	for _, q := range queues {
		cfg.Queues[q] = queue.QueueConfig{MaxWorkers: 1, FetchCooldown: time.Millisecond, FetchPollInterval: 20 * time.Millisecond}
	}
	return run(ctx, t, cfg, func(string) bool {
		// Stop when nothing of ours is due or running.
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

// merge appends jobs to all, replacing earlier entries of the same job.
func merge(all, jobs []queue.JobInfo) []queue.JobInfo {
	for _, j := range jobs {
		if i := slices.IndexFunc(all, func(a queue.JobInfo) bool { return a.ID == j.ID }); i >= 0 {
			all = slices.Delete(all, i, i+1)
		}
		all = append(all, j)
	}
	return all
}

// run starts a temporary client with cfg, polls done (given the client's
// ID) every few milliseconds until it reports true, stops the client, and
// returns the jobs the client attempted (River records the client's ID in
// attempted_by), as stored after their last attempt, in attempt order.
func run(ctx context.Context, t testing.TB, cfg queue.Config, done func(clientID string) bool) []queue.JobInfo {
	t.Helper()
	cfg.Metrics = nil // the caller's client registered them already
	cfg.Periodic = nil
	cfg.ID = "queuetest-" + randHex()
	cfg.StartMaintenanceAtOnce = true
	tc, err := queue.New(cfg)
	if err != nil {
		t.Fatalf("queuetest: build worker client: %v", err)
	}
	if err := tc.Start(ctx); err != nil {
		t.Fatalf("queuetest: start worker client: %v", err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		stopCtx, cancel := context.WithTimeout(context.Background(), workTimeout)
		defer cancel()
		if err := tc.Stop(stopCtx); err != nil {
			t.Errorf("queuetest: stop worker client: %v", err)
		}
	}
	defer stop() // also when done calls Fatalf

	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !done(cfg.ID) {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("queuetest: jobs still running after %v", workTimeout)
		}
	}
	stop()
	ran, err := queryJobs(ctx, cfg.Pool, selectJobs+" WHERE $1 = ANY(attempted_by) ORDER BY attempted_at, id", cfg.ID)
	if err != nil {
		t.Fatalf("queuetest: read the jobs that ran: %v", err)
	}
	return ran
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
