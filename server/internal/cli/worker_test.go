package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/logtest"
	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/export"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/jobs"
	"github.com/groundwork-dev/groundwork/server/internal/requesttest"
	"github.com/groundwork-dev/groundwork/server/internal/store"
)

// noIdentities is a Kratos with nobody in it.
type noIdentities struct{}

func (noIdentities) ListIdentities(context.Context, string) ([]identity.User, string, error) {
	return nil, "", nil
}

// workerBundle is a running `server worker` over its own database, with
// an enqueue-only queue client and a user who owns an account.
type workerBundle struct {
	db      *pgtest.DB
	q       *queue.Client
	owner   string
	acc     account.Account
	stderr  *logtest.Buffer
	ops     string // http://host:port
	cancel  context.CancelFunc
	done    chan struct{}
	code    int
	stopped time.Time // when run returned
}

func startWorker(t *testing.T, extra map[string]string) *workerBundle {
	t.Helper()
	return startWorkerWith(t, extra, nil)
}

// startWorkerWith is startWorker, handing the metrics registry to registry.
func startWorkerWith(t *testing.T, extra map[string]string, registry func(*prometheus.Registry)) *workerBundle {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	reg, err := jobs.NewRegistry(jobs.Deps{DB: db.Pool})
	require.NoError(t, err)
	q, err := queue.New(queue.Config{Pool: db.Pool, Registry: reg})
	require.NoError(t, err)
	b := &workerBundle{db: db, q: q, owner: "6f1f4a0e-8a4b-4c1e-9d3a-0b7c2e5f9a11", stderr: &logtest.Buffer{}, done: make(chan struct{})}
	require.NoError(t, store.NewUsers(db.Pool).Upsert(ctx, identity.User{ID: b.owner, Email: "alice@example.com"}))
	b.acc, err = store.NewAccounts(db.Pool).HandleCreateAccount(ctx, account.Create{Owner: b.owner, Name: "Acme"})
	require.NoError(t, err)

	envm := map[string]string{"DATABASE_URL": db.URL, "OPS_ADDR": "127.0.0.1:0", "LOG_FORMAT": "json", "SHUTDOWN_TIMEOUT": "10s"}
	for k, v := range extra {
		envm[k] = v
	}
	started := make(chan WorkerAddrs, 1)
	rctx, cancel := context.WithCancel(ctx)
	b.cancel = cancel
	o := options{worker: workerOptions{
		identities: noIdentities{},
		queue: func(c *queue.Config) {
			c.StartMaintenanceAtOnce = true
			c.Queues[queue.QueueDefault] = queue.QueueConfig{MaxWorkers: c.Queues[queue.QueueDefault].MaxWorkers, FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond}
		},
		started:  func(a WorkerAddrs) { started <- a },
		registry: registry,
	}}
	go func() {
		defer close(b.done)
		b.code = run(rctx, []string{"worker"}, func(k string) string { return envm[k] }, io.Discard, b.stderr, o)
		b.stopped = time.Now()
	}()
	t.Cleanup(func() {
		cancel()
		<-b.done
		if t.Failed() {
			t.Logf("worker log:\n%s", b.stderr.String())
		}
	})
	select {
	case a := <-started:
		b.ops = "http://" + a.Ops.String()
	case <-b.done:
		t.Fatalf("worker exited with %d before working:\n%s", b.code, b.stderr.String())
	}
	return b
}

func (b *workerBundle) get(t *testing.T, path string) (int, string) {
	t.Helper()
	return requesttest.Get(t, b.ops+path, nil)
}

// logLines decodes the worker's JSON log.
func (b *workerBundle) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.stderr.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		out = append(out, rec)
	}
	return out
}

// TestWorkerRunsJobsAndShutsDown runs the real worker: ops endpoints,
// an export enqueued by the API's side is worked, SIGTERM stops it cleanly.
func TestWorkerRunsJobsAndShutsDown(t *testing.T) {
	t.Parallel()
	b := startWorker(t, nil)
	ctx := t.Context()

	code, body := b.get(t, "/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)
	code, body = b.get(t, "/readyz")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "[+]database ok\n[+]queue ok\nready\n", body)

	// What CreateAccountExport does: the row and its job in one transaction.
	exports := store.NewExports(b.db.Pool, store.WithAfterCreateExport(jobs.AfterCreateExport(b.q)))
	e, err := exports.HandleCreateAccountExport(ctx, export.Create{Owner: b.owner, AccountID: b.acc.ID})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := exports.HandleGetAccountExport(ctx, export.Get{Owner: b.owner, AccountID: b.acc.ID, ID: e.ID})
		require.NoError(t, err)
		return got.State == export.StateSucceeded
	}, 15*time.Second, 20*time.Millisecond, "the worker wrote the export")

	code, body = b.get(t, "/metrics")
	require.Equal(t, http.StatusOK, code)
	for _, m := range []string{`pgqueue_jobs_completed_total{kind="account.export"`, "pgqueue_queue_depth", "pgxpool_total_conns", "go_goroutines", "process_cpu_seconds_total"} {
		require.Contains(t, body, m)
	}

	b.cancel()
	<-b.done
	require.Equal(t, ExitOK, b.code, b.stderr.String())
	var msgs []string
	for _, rec := range b.logLines(t) {
		msgs = append(msgs, rec["msg"].(string))
		require.NotEqual(t, "ERROR", rec["level"], "the worker logged an error: %v", rec)
	}
	require.Contains(t, msgs, "working")
	require.Contains(t, msgs, "shutting down")
	require.Equal(t, "stopped", msgs[len(msgs)-1])
}

// holdAccount gives the account an export and locks that row in a
// transaction of its own until release is called: purging the account
// deletes its exports (ON DELETE CASCADE), so the purge job's DELETE
// waits for the lock, in flight. (Soft-deleting the account does not.)
func (b *workerBundle) holdAccount(t *testing.T) (release func()) {
	t.Helper()
	ctx := context.Background()
	_, err := store.NewExports(b.db.Pool).HandleCreateAccountExport(ctx, export.Create{Owner: b.owner, AccountID: b.acc.ID})
	require.NoError(t, err)
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT 1 FROM account_exports WHERE account_id = $1 FOR UPDATE`, b.acc.ID)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	return func() { require.NoError(t, tx.Commit(ctx)) }
}

// enqueuePurgeInFlight deletes the account with its purge job due at
// once, and waits until the worker runs it (blocked on the row lock).
func (b *workerBundle) enqueuePurgeInFlight(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	accounts := store.NewAccounts(b.db.Pool, store.WithAfterDelete(jobs.AfterDelete(b.q, 0)))
	_, err := accounts.HandleDeleteAccount(ctx, account.Delete{Owner: b.owner, ID: b.acc.ID})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var waiting bool
		err := b.db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM accounts%')`).Scan(&waiting)
		require.NoError(t, err)
		return waiting
	}, 15*time.Second, 20*time.Millisecond, "the purge job is running, waiting for the row lock")
}

func (b *workerBundle) purgeJobState(t *testing.T) queue.State {
	t.Helper()
	var st string
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT state::text FROM river_job WHERE kind = $1`, jobs.KindPurge).Scan(&st))
	return queue.State(st)
}

// TestWorkerShutdownFinishesAJobInFlight: on SIGTERM the worker stops
// fetching and becomes not ready, but the running job finishes.
func TestWorkerShutdownFinishesAJobInFlight(t *testing.T) {
	t.Parallel()
	b := startWorker(t, nil)
	release := b.holdAccount(t)
	b.enqueuePurgeInFlight(t)

	b.cancel()
	require.Eventually(t, func() bool { return strings.Contains(b.stderr.String(), `"msg":"shutting down"`) }, 5*time.Second, 10*time.Millisecond)
	select {
	case <-b.done:
		t.Fatalf("the worker stopped with a job in flight:\n%s", b.stderr.String())
	case <-time.After(300 * time.Millisecond):
	}
	release()
	<-b.done
	require.Equal(t, ExitOK, b.code, b.stderr.String())
	require.Equal(t, queue.StateCompleted, b.purgeJobState(t))
	var n int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM accounts`).Scan(&n))
	require.Zero(t, n, "the job in flight purged the account")
}

// TestWorkerShutdownCancelsAJobPastTheDeadline: a job that does not finish
// within the shutdown budget is cancelled and left for a later run; the
// process still stops within SHUTDOWN_TIMEOUT.
func TestWorkerShutdownCancelsAJobPastTheDeadline(t *testing.T) {
	t.Parallel()
	b := startWorker(t, map[string]string{"SHUTDOWN_TIMEOUT": "4s"})
	b.holdAccount(t) // never released
	b.enqueuePurgeInFlight(t)

	stopAt := time.Now()
	b.cancel()
	<-b.done
	took := b.stopped.Sub(stopAt)
	require.Less(t, took, 4*time.Second, "stopped within --shutdown-timeout")
	require.Greater(t, took, time.Second, "the job had its time")
	require.Equal(t, ExitOK, b.code, b.stderr.String())
	require.Contains(t, b.stderr.String(), "cancelling them")
	require.NotEqual(t, queue.StateCompleted, b.purgeJobState(t), "the cancelled job will run again")
	var n int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM accounts`).Scan(&n))
	require.Equal(t, 1, n)
}

func TestWorkerUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"worker", "-h"}, ExitOK, "Usage: server worker [flags]"},
		{[]string{"worker"}, ExitUsage, "server worker: --database-url (DATABASE_URL): required"},
		{[]string{"worker", "--reconcile-users-schedule", "sometimes"}, ExitUsage, "server worker: --reconcile-users-schedule (RECONCILE_USERS_SCHEDULE)"},
	} {
		var stdout, stderr bytes.Buffer
		code := Run(t.Context(), tc.args, func(string) string { return "" }, &stdout, &stderr)
		require.Equal(t, tc.code, code, stderr.String())
		require.Contains(t, stderr.String(), tc.stderr)
	}
	var stdout bytes.Buffer
	require.Equal(t, ExitOK, Run(t.Context(), []string{"help"}, nil, &stdout, io.Discard))
	require.Regexp(t, `\n  worker +run the background jobs`, stdout.String())
}

func TestWorkerFailsOnARejectedLogin(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	var stderr logtest.Buffer
	url := strings.Replace(db.URL, "db-server-tls", "db-kratos-tls", 2)
	code := run(t.Context(), []string{"worker"}, func(k string) string {
		return map[string]string{"DATABASE_URL": url, "OPS_ADDR": "127.0.0.1:0", "LOG_FORMAT": "json"}[k]
	}, io.Discard, &stderr, options{worker: workerOptions{identities: noIdentities{}}})
	require.Equal(t, ExitFailed, code, stderr.String())
	require.Contains(t, stderr.String(), `"msg":"worker failed"`)
	require.Contains(t, stderr.String(), "--database-url")
}
