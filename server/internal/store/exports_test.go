package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/export"
	"github.com/groundwork-dev/groundwork/server/internal/store"
	"github.com/groundwork-dev/groundwork/server/internal/uuidtest"
)

func (b *testBundle) exports(opts ...store.ExportsOption) *store.Exports {
	return store.NewExports(b.db.Pool, opts...)
}

func (b *testBundle) createExport(t *testing.T, owner, accountID string) export.Export {
	t.Helper()
	e, err := b.exports().HandleCreateAccountExport(context.Background(), export.Create{Owner: owner, AccountID: accountID})
	require.NoError(t, err)
	return e
}

func TestExportsCreateGetDownload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acc := b.create(t, b.alice, "Acme")

	e := b.createExport(t, b.alice, acc.ID)
	assert.True(t, account.ValidID(e.ID))
	assert.Equal(t, acc.ID, e.AccountID)
	assert.Equal(t, b.alice, e.OwnerID)
	assert.Equal(t, export.StatePending, e.State)
	assert.Zero(t, e.Attempts)
	assert.False(t, e.CreateTime.IsZero())
	assert.True(t, e.StartTime.IsZero())
	assert.True(t, e.CompleteTime.IsZero())
	assert.Empty(t, e.Error)

	got, err := b.exports().HandleGetAccountExport(ctx, export.Get{Owner: b.alice, AccountID: acc.ID, ID: e.ID})
	require.NoError(t, err)
	assert.Equal(t, e, got)

	// Not ready in each unfinished state, with the state in the error.
	for _, st := range []export.State{export.StatePending, export.StateRunning} {
		if st == export.StateRunning {
			_, ok, err := b.exports().Start(ctx, e.ID)
			require.NoError(t, err)
			require.True(t, ok)
		}
		_, err = b.exports().HandleDownloadAccountExport(ctx, export.Download{Owner: b.alice, AccountID: acc.ID, ID: e.ID})
		require.ErrorIs(t, err, export.ErrNotReady)
		var nr *export.NotReadyError
		require.ErrorAs(t, err, &nr)
		assert.Equal(t, st, nr.State)
	}

	ok, err := b.exports().Succeed(ctx, e.ID, []byte(`{"a":1}`))
	require.NoError(t, err)
	require.True(t, ok)
	c, err := b.exports().HandleDownloadAccountExport(ctx, export.Download{Owner: b.alice, AccountID: acc.ID, ID: e.ID})
	require.NoError(t, err)
	assert.Equal(t, export.Content{Filename: "account-" + acc.ID + "-export.json", ContentType: "application/json", Data: []byte(`{"a":1}`)}, c)

	got, err = b.exports().HandleGetAccountExport(ctx, export.Get{Owner: b.alice, AccountID: acc.ID, ID: e.ID})
	require.NoError(t, err)
	assert.Equal(t, export.StateSucceeded, got.State)
	assert.Equal(t, 1, got.Attempts)
	assert.False(t, got.StartTime.IsZero())
	assert.False(t, got.CompleteTime.Before(got.StartTime))
}

// TestExportsAreScopedToTheOwnersLiveAccount: another user's account, a
// deleted account, a missing one, and an export asked for under the wrong
// account all read as not found, for every message.
func TestExportsAreScopedToTheOwnersLiveAccount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acc := b.create(t, b.alice, "Acme")
	other := b.create(t, b.alice, "Other")
	e := b.createExport(t, b.alice, acc.ID)

	_, err := b.exports().HandleCreateAccountExport(ctx, export.Create{Owner: b.bob, AccountID: acc.ID})
	require.ErrorIs(t, err, account.ErrNotFound, "bob cannot export alice's account")
	_, err = b.exports().HandleCreateAccountExport(ctx, export.Create{Owner: b.alice, AccountID: uuidtest.New(t)})
	require.ErrorIs(t, err, account.ErrNotFound)

	for name, msg := range map[string]export.Get{
		"other owner":   {Owner: b.bob, AccountID: acc.ID, ID: e.ID},
		"wrong account": {Owner: b.alice, AccountID: other.ID, ID: e.ID},
		"no such id":    {Owner: b.alice, AccountID: acc.ID, ID: uuidtest.New(t)},
	} {
		_, err := b.exports().HandleGetAccountExport(ctx, msg)
		require.ErrorIs(t, err, export.ErrNotFound, name)
		_, err = b.exports().HandleDownloadAccountExport(ctx, export.Download(msg))
		require.ErrorIs(t, err, export.ErrNotFound, name)
	}

	_, err = b.accounts.HandleDeleteAccount(ctx, account.Delete{Owner: b.alice, ID: acc.ID})
	require.NoError(t, err)
	_, err = b.exports().HandleGetAccountExport(ctx, export.Get{Owner: b.alice, AccountID: acc.ID, ID: e.ID})
	require.ErrorIs(t, err, export.ErrNotFound, "the export of a deleted account")
	_, err = b.exports().HandleCreateAccountExport(ctx, export.Create{Owner: b.alice, AccountID: acc.ID})
	require.ErrorIs(t, err, account.ErrNotFound, "a deleted account cannot be exported")

	var n int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM account_exports`).Scan(&n))
	assert.Equal(t, 1, n, "no refused create left a row")
}

func TestExportsCreateHookRunsInTheTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acc := b.create(t, b.alice, "Acme")

	var seen export.Export
	hook := func(ctx context.Context, tx pgx.Tx, e export.Export) error {
		seen = e
		// The row is visible in the transaction, not outside it yet.
		var in, out int
		require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM account_exports WHERE id = $1`, e.ID).Scan(&in))
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM account_exports WHERE id = $1`, e.ID).Scan(&out))
		assert.Equal(t, [2]int{1, 0}, [2]int{in, out})
		return nil
	}
	e, err := b.exports(store.WithAfterCreateExport(hook)).HandleCreateAccountExport(ctx, export.Create{Owner: b.alice, AccountID: acc.ID})
	require.NoError(t, err)
	assert.Equal(t, e, seen)

	boom := errors.New("queue unavailable")
	_, err = b.exports(store.WithAfterCreateExport(func(context.Context, pgx.Tx, export.Export) error { return boom })).
		HandleCreateAccountExport(ctx, export.Create{Owner: b.alice, AccountID: acc.ID})
	require.ErrorIs(t, err, boom)
	var n int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM account_exports`).Scan(&n))
	assert.Equal(t, 1, n, "the hook's error rolled the insert back")
}

// TestExportsStateMachine is the job's side: Start, Requeue, Succeed and
// Fail move an export only forward, and every step is safe to repeat.
func TestExportsStateMachine(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acc := b.create(t, b.alice, "Acme")
	x := b.exports()
	get := func(id string) export.Export {
		e, err := x.HandleGetAccountExport(ctx, export.Get{Owner: b.alice, AccountID: acc.ID, ID: id})
		require.NoError(t, err)
		return e
	}

	e := b.createExport(t, b.alice, acc.ID)
	ok, err := x.Succeed(ctx, e.ID, []byte(`{}`))
	require.NoError(t, err)
	require.False(t, ok, "a pending export cannot succeed without a start")

	started, ok, err := x.Start(ctx, e.ID)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, export.StateRunning, started.State)
	assert.Equal(t, 1, started.Attempts)
	first := started.StartTime
	require.NoError(t, x.Requeue(ctx, e.ID))
	assert.Equal(t, export.StatePending, get(e.ID).State)
	// A second attempt; a worker that died leaves it running, and the
	// rescued retry starts it again.
	for attempts := 2; attempts <= 3; attempts++ {
		started, ok, err = x.Start(ctx, e.ID)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, attempts, started.Attempts)
		assert.Equal(t, first, started.StartTime, "the start time is the first attempt's")
	}
	require.NoError(t, x.Fail(ctx, e.ID, "gave up"))
	failed := get(e.ID)
	assert.Equal(t, export.StateFailed, failed.State)
	assert.Equal(t, "gave up", failed.Error)
	assert.False(t, failed.CompleteTime.IsZero())

	// Finished exports stay as they are.
	_, ok, err = x.Start(ctx, e.ID)
	require.NoError(t, err)
	assert.False(t, ok)
	require.NoError(t, x.Requeue(ctx, e.ID))
	require.NoError(t, x.Fail(ctx, e.ID, "again"))
	assert.Equal(t, failed, get(e.ID))

	_, ok, err = x.Start(ctx, uuidtest.New(t))
	require.NoError(t, err)
	assert.False(t, ok, "no such export")

	// Source: the account and its owner, and whether it was deleted.
	src, err := x.Source(ctx, acc.ID)
	require.NoError(t, err)
	assert.Equal(t, store.Source{Account: acc, Email: "alice@example.com", DisplayName: "Alice"}, src)
	_, err = b.accounts.HandleDeleteAccount(ctx, account.Delete{Owner: b.alice, ID: acc.ID})
	require.NoError(t, err)
	src, err = x.Source(ctx, acc.ID)
	require.NoError(t, err)
	assert.True(t, src.Deleted)
	_, err = x.Source(ctx, uuidtest.New(t))
	require.ErrorIs(t, err, account.ErrNotFound)
}

func TestExportsDatabaseKeepsStatesConsistent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acc := b.create(t, b.alice, "Acme")
	b.createExport(t, b.alice, acc.ID)
	for _, sql := range []string{
		`UPDATE account_exports SET state = 'done'`,
		`UPDATE account_exports SET state = 'succeeded', completed_at = now()`, // no content
		`UPDATE account_exports SET content = '{}'`,                            // content while pending
		`UPDATE account_exports SET state = 'failed'`,                          // no completion time
		`UPDATE account_exports SET owner_id = '` + b.bob + `'`,                // owner differs from the account's
		`INSERT INTO account_exports (account_id, owner_id) VALUES ('` + acc.ID + `', '` + b.bob + `')`,
	} {
		_, err := b.db.Pool.Exec(ctx, sql)
		require.Error(t, err, sql)
	}
}

func TestAccountsPurge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acc := b.create(t, b.alice, "Acme")
	b.createExport(t, b.alice, acc.ID)

	_, deleted, err := b.accounts.DeletedAt(ctx, acc.ID)
	require.NoError(t, err)
	require.False(t, deleted)
	purged, err := b.accounts.Purge(ctx, acc.ID, time.Now())
	require.NoError(t, err)
	require.False(t, purged, "a live account is never purged")

	_, err = b.accounts.HandleDeleteAccount(ctx, account.Delete{Owner: b.alice, ID: acc.ID})
	require.NoError(t, err)
	at, deleted, err := b.accounts.DeletedAt(ctx, acc.ID)
	require.NoError(t, err)
	require.True(t, deleted)

	purged, err = b.accounts.Purge(ctx, acc.ID, at.Add(-time.Microsecond))
	require.NoError(t, err)
	require.False(t, purged, "a later deletion than the job's is left for its own job")
	purged, err = b.accounts.Purge(ctx, acc.ID, at)
	require.NoError(t, err)
	require.True(t, purged)
	purged, err = b.accounts.Purge(ctx, acc.ID, at)
	require.NoError(t, err)
	require.False(t, purged, "purging twice is a no-op")

	var accounts, exports int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM account_exports)`).Scan(&accounts, &exports))
	assert.Equal(t, [2]int{0, 0}, [2]int{accounts, exports}, "the account and its exports are gone")
	_, _, err = b.accounts.DeletedAt(ctx, acc.ID)
	require.ErrorIs(t, err, account.ErrNotFound)
}
