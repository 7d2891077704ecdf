package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/queue/queuetest"
	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/export"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/jobs"
	"github.com/groundwork-dev/groundwork/server/internal/store"
	"github.com/groundwork-dev/groundwork/server/internal/uuidtest"
)

// exportedAt is the fixed clock of the export documents.
var exportedAt = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

type testBundle struct {
	db    *pgtest.DB
	q     *queue.Client
	clock *queuetest.Clock
	alice identity.User
}

// setup gives a test a migrated database with one user, and a queue
// client over it with every job kind, on a manual clock, not started:
// queuetest.WorkOne runs its jobs through River's real executor.
func setup(t *testing.T, lister jobs.IdentityLister) *testBundle {
	t.Helper()
	db := pgtest.New(t)
	reg, err := jobs.NewRegistry(jobs.Deps{DB: db.Pool, Identities: lister, Now: func() time.Time { return exportedAt }})
	require.NoError(t, err)
	b := &testBundle{db: db, clock: queuetest.NewClock(time.Now()), alice: identity.User{ID: uuidtest.New(t), Email: "alice@example.com", DisplayName: "Alice"}}
	b.q, err = queue.New(queue.Config{
		Pool: db.Pool, Registry: reg, Clock: b.clock,
		Queues: map[string]queue.QueueConfig{queue.QueueDefault: {MaxWorkers: 1}},
	})
	require.NoError(t, err)
	require.NoError(t, store.NewUsers(db.Pool).Upsert(context.Background(), b.alice))
	return b
}

func (b *testBundle) createAccount(t *testing.T, name string) account.Account {
	t.Helper()
	acc, err := store.NewAccounts(b.db.Pool).HandleCreateAccount(context.Background(), account.Create{Owner: b.alice.ID, Name: name})
	require.NoError(t, err)
	return acc
}

func (b *testBundle) accountExists(t *testing.T, id string) bool {
	t.Helper()
	var n int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM accounts WHERE id = $1`, id).Scan(&n))
	return n == 1
}

const grace = 7 * 24 * time.Hour

// deleteAccount creates an account named name and soft-deletes it through
// the store with jobs.AfterDelete as its hook, as the server wires it: its
// purge job is enqueued, due after grace.
func (b *testBundle) deleteAccount(t *testing.T, name string) account.Account {
	t.Helper()
	acc := b.createAccount(t, name)
	accounts := store.NewAccounts(b.db.Pool, store.WithAfterDelete(jobs.AfterDelete(b.q, grace)))
	_, err := accounts.HandleDeleteAccount(context.Background(), account.Delete{Owner: b.alice.ID, ID: acc.ID})
	require.NoError(t, err)
	return acc
}

func TestPurgeIsEnqueuedWithTheDelete(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	acc := b.deleteAccount(t, "Acme")

	deletedAt, deleted, err := store.NewAccounts(b.db.Pool).DeletedAt(ctx, acc.ID)
	require.NoError(t, err)
	require.True(t, deleted)
	queuetest.RequireEnqueued(t, b.db.Pool, jobs.KindPurge, &queuetest.Want{
		Args:        jobs.PurgeArgs{AccountID: acc.ID, DeletedAt: deletedAt},
		State:       queue.StateScheduled,
		ScheduledAt: deletedAt.Add(grace),
	})

	// Due after the grace period: the account and its exports go.
	_, err = store.NewExports(b.db.Pool).HandleCreateAccountExport(ctx, export.Create{Owner: b.alice.ID, AccountID: b.createAccount(t, "Kept").ID})
	require.NoError(t, err)
	b.clock.Set(deletedAt.Add(grace + time.Second))
	job := queuetest.WorkOne(t, b.q, jobs.KindPurge)
	assert.Equal(t, queue.StateCompleted, job.State)
	assert.False(t, b.accountExists(t, acc.ID))

	// Running the job again (an operator's retry) changes nothing.
	_, err = b.q.Retry(ctx, job.ID)
	require.NoError(t, err)
	job = queuetest.WorkOne(t, b.q, jobs.KindPurge)
	assert.Equal(t, queue.StateCompleted, job.State)
	var n int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&n))
	assert.Equal(t, 1, n, "the other account stays")
}

// TestNoPurgeWithoutTheDelete: when the delete's transaction rolls back,
// its purge job is gone with it.
func TestNoPurgeWithoutTheDelete(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()

	t.Run("a later step of the delete fails", func(t *testing.T) {
		acc := b.createAccount(t, "Hook")
		boom := errors.New("audit log unavailable")
		enqueue := jobs.AfterDelete(b.q, grace)
		accounts := store.NewAccounts(b.db.Pool, store.WithAfterDelete(func(ctx context.Context, tx pgx.Tx, a account.Account) error {
			if err := enqueue(ctx, tx, a); err != nil {
				return err
			}
			queuetest.RequireEnqueued(t, tx, jobs.KindPurge, nil) // there, inside the transaction
			return boom
		}))
		_, err := accounts.HandleDeleteAccount(ctx, account.Delete{Owner: b.alice.ID, ID: acc.ID})
		require.ErrorIs(t, err, boom)
		queuetest.RequireNotEnqueued(t, b.db.Pool, jobs.KindPurge, nil)
		_, deleted, err := accounts.DeletedAt(ctx, acc.ID)
		require.NoError(t, err)
		assert.False(t, deleted)
	})

	t.Run("the caller's transaction rolls back", func(t *testing.T) {
		acc := b.createAccount(t, "Outer")
		tx, err := b.db.Pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = store.NewAccounts(tx, store.WithAfterDelete(jobs.AfterDelete(b.q, grace))).
			HandleDeleteAccount(ctx, account.Delete{Owner: b.alice.ID, ID: acc.ID})
		require.NoError(t, err)
		queuetest.RequireEnqueued(t, tx, jobs.KindPurge, nil)
		queuetest.RequireNotEnqueued(t, b.db.Pool, jobs.KindPurge, nil) // not committed: no worker sees it
		require.NoError(t, tx.Rollback(ctx))
		queuetest.RequireNotEnqueued(t, b.db.Pool, jobs.KindPurge, nil)
		assert.True(t, b.accountExists(t, acc.ID))
	})
}

// TestPurgeLeavesARestoredAccount: the job re-checks the deletion.
func TestPurgeLeavesARestoredAccount(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	acc := b.deleteAccount(t, "Acme")
	_, err := b.db.Pool.Exec(ctx, `UPDATE accounts SET deleted_at = NULL WHERE id = $1`, acc.ID) // restored by support
	require.NoError(t, err)

	b.clock.Advance(grace + time.Minute)
	job := queuetest.WorkOne(t, b.q, jobs.KindPurge)
	assert.Equal(t, queue.StateCompleted, job.State)
	assert.True(t, b.accountExists(t, acc.ID))
}

func TestPurgeBadArgsAreCancelled(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, err := b.q.Enqueue(context.Background(), jobs.PurgeArgs{AccountID: "nope", DeletedAt: time.Now()}, nil)
	require.NoError(t, err)
	job := queuetest.WorkOne(t, b.q, jobs.KindPurge)
	assert.Equal(t, queue.StateCancelled, job.State)
	require.NotEmpty(t, job.Errors)
	assert.Contains(t, job.Errors[len(job.Errors)-1].Error, "bad arguments")
}

// requestExport creates an export of the account through the store with
// jobs.AfterCreateExport as its hook, as the API does: the export job is
// enqueued in the same transaction.
func (b *testBundle) requestExport(t *testing.T, accountID string) export.Export {
	t.Helper()
	e, err := store.NewExports(b.db.Pool, store.WithAfterCreateExport(jobs.AfterCreateExport(b.q))).
		HandleCreateAccountExport(context.Background(), export.Create{Owner: b.alice.ID, AccountID: accountID})
	require.NoError(t, err)
	return e
}

func (b *testBundle) export(t *testing.T, accountID, id string) export.Export {
	t.Helper()
	e, err := store.NewExports(b.db.Pool).HandleGetAccountExport(context.Background(), export.Get{Owner: b.alice.ID, AccountID: accountID, ID: id})
	require.NoError(t, err)
	return e
}

func TestExportJob(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	exports := store.NewExports(b.db.Pool)
	acc := b.createAccount(t, "Acme")

	e := b.requestExport(t, acc.ID)
	queuetest.RequireEnqueued(t, b.db.Pool, jobs.KindExport, &queuetest.Want{Args: jobs.ExportArgs{ExportID: e.ID}, State: queue.StateAvailable})

	job := queuetest.WorkOne(t, b.q, jobs.KindExport)
	assert.Equal(t, queue.StateCompleted, job.State)
	done := b.export(t, acc.ID, e.ID)
	assert.Equal(t, export.StateSucceeded, done.State)
	assert.Equal(t, 1, done.Attempts)

	c, err := exports.HandleDownloadAccountExport(ctx, export.Download{Owner: b.alice.ID, AccountID: acc.ID, ID: e.ID})
	require.NoError(t, err)
	var doc export.Document
	require.NoError(t, json.Unmarshal(c.Data, &doc))
	assert.Equal(t, export.Document{
		Format:     export.Format,
		ExportID:   e.ID,
		ExportedAt: exportedAt,
		Account:    export.DocumentAccount{ID: acc.ID, Name: "Acme", CreateTime: acc.CreateTime.UTC(), UpdateTime: acc.UpdateTime.UTC()},
		Owner:      export.DocumentOwner{ID: b.alice.ID, Email: b.alice.Email, DisplayName: b.alice.DisplayName},
	}, doc)

	// Run again by an operator: the finished export stays as it is.
	_, err = b.q.Retry(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, queue.StateCompleted, queuetest.WorkOne(t, b.q, jobs.KindExport).State)
	assert.Equal(t, done, b.export(t, acc.ID, e.ID))
	again, err := exports.HandleDownloadAccountExport(ctx, export.Download{Owner: b.alice.ID, AccountID: acc.ID, ID: e.ID})
	require.NoError(t, err)
	assert.Equal(t, c, again)
}

// TestExportOfADeletedAccountFails: deleted between the request and the
// job, the account is not exported; the export fails at once (no retries)
// and the job is cancelled.
func TestExportOfADeletedAccountFails(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	acc := b.createAccount(t, "Acme")
	e := b.requestExport(t, acc.ID)
	_, err := store.NewAccounts(b.db.Pool).HandleDeleteAccount(ctx, account.Delete{Owner: b.alice.ID, ID: acc.ID})
	require.NoError(t, err)

	job := queuetest.WorkOne(t, b.q, jobs.KindExport)
	assert.Equal(t, queue.StateCancelled, job.State)
	var state export.State
	var reason string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT state, error FROM account_exports WHERE id = $1`, e.ID).Scan(&state, &reason))
	assert.Equal(t, export.StateFailed, state)
	assert.Equal(t, "the account was deleted before it could be exported", reason)
}

func TestExportJobOfAPurgedExportIsDone(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, err := b.q.Enqueue(context.Background(), jobs.ExportArgs{ExportID: uuidtest.New(t)}, nil)
	require.NoError(t, err)
	assert.Equal(t, queue.StateCompleted, queuetest.WorkOne(t, b.q, jobs.KindExport).State, "nothing to do")

	_, err = b.q.Enqueue(context.Background(), jobs.ExportArgs{ExportID: "x"}, nil)
	require.NoError(t, err)
	assert.Equal(t, queue.StateCancelled, queuetest.WorkOne(t, b.q, jobs.KindExport).State, "bad arguments")
}

func TestRegistryAndPeriodic(t *testing.T) {
	t.Parallel()
	_, err := jobs.NewRegistry(jobs.Deps{})
	require.ErrorContains(t, err, "Deps.DB is required")

	b := setup(t, nil)
	assert.ElementsMatch(t, []string{jobs.KindExport, jobs.KindPurge, jobs.KindReconcileUsers, jobs.KindSweepExports}, b.q.Config().Registry.Kinds())
	off := jobs.Periodic("off")
	require.Len(t, off, 1, "the exports sweep always runs")
	assert.Equal(t, jobs.SweepExportsArgs{}, off[0].Args)
	p := jobs.Periodic("*/5 * * * *")
	require.Len(t, p, 2)
	assert.Equal(t, "*/5 * * * *", p[1].Schedule)
	assert.Equal(t, jobs.ReconcileUsersArgs{}, p[1].Args)
}

// TestSweepFailsExportsWhoseJobCannotRun: a worker that dies during the
// export job's last attempt leaves the export running and the job to
// River's rescuer, which discards it without running the handler. The
// sweep fails such exports (and ones whose job is gone) and leaves those
// whose job can still run.
func TestSweepFailsExportsWhoseJobCannotRun(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	create := func(name string) export.Export { return b.requestExport(t, b.createAccount(t, name).ID) }
	abandoned, gone, live := create("Abandoned"), create("Gone"), create("Live")
	_, ok, err := store.NewExports(b.db.Pool).Start(ctx, abandoned.ID)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = b.db.Pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now() WHERE args->>'export_id' = $1`, abandoned.ID)
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(ctx, `DELETE FROM river_job WHERE args->>'export_id' = $1`, gone.ID)
	require.NoError(t, err)

	_, err = b.q.Enqueue(ctx, jobs.SweepExportsArgs{}, nil)
	require.NoError(t, err)
	assert.Equal(t, queue.StateCompleted, queuetest.WorkOne(t, b.q, jobs.KindSweepExports).State)

	for _, e := range []export.Export{abandoned, gone} {
		got := b.export(t, e.AccountID, e.ID)
		assert.Equal(t, export.StateFailed, got.State, e.AccountID)
		assert.Contains(t, got.Error, "create a new export")
	}
	assert.Equal(t, export.StatePending, b.export(t, live.AccountID, live.ID).State, "its job can still run")
	assert.Equal(t, queue.StateCompleted, queuetest.WorkOne(t, b.q, jobs.KindExport).State)
	assert.Equal(t, export.StateSucceeded, b.export(t, live.AccountID, live.ID).State)
}
