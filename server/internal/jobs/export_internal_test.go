package jobs

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/export"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/store"
)

// TestExportAttemptFailures: a failed attempt puts the export back to
// pending while attempts remain, and fails it, for the owner to see, on
// the last one. The attempt's error is returned either way, for the
// queue's retry or discard.
func TestExportAttemptFailures(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	owner := identity.User{ID: "6f1f4a0e-8a4b-4c1e-9d3a-0b7c2e5f9a11", Email: "alice@example.com"}
	require.NoError(t, store.NewUsers(db.Pool).Upsert(ctx, owner))
	acc, err := store.NewAccounts(db.Pool).HandleCreateAccount(ctx, account.Create{Owner: owner.ID, Name: "Acme"})
	require.NoError(t, err)
	exports := store.NewExports(db.Pool)
	e, err := exports.HandleCreateAccountExport(ctx, export.Create{Owner: owner.ID, AccountID: acc.ID})
	require.NoError(t, err)
	get := func() export.Export {
		got, err := exports.HandleGetAccountExport(ctx, export.Get{Owner: owner.ID, AccountID: acc.ID, ID: e.ID})
		require.NoError(t, err)
		return got
	}
	x := exporter{Deps{DB: db.Pool}}
	boom := errors.New("database hiccup")

	for attempt := 1; attempt < 5; attempt++ {
		_, ok, err := exports.Start(ctx, e.ID)
		require.NoError(t, err)
		require.True(t, ok)
		job := &queue.Job[ExportArgs]{Args: ExportArgs{ExportID: e.ID}, Attempt: attempt, MaxAttempts: 5}
		require.ErrorIs(t, x.failed(ctx, job, boom), boom)
		assert.Equal(t, export.StatePending, get().State, "attempt %d of 5 is retried", attempt)
	}

	_, _, err = exports.Start(ctx, e.ID)
	require.NoError(t, err)
	// The last attempt, failed by its own timeout: the failure is still
	// recorded (on a fresh context).
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	job := &queue.Job[ExportArgs]{Args: ExportArgs{ExportID: e.ID}, Attempt: 5, MaxAttempts: 5}
	require.ErrorIs(t, x.failed(cctx, job, context.Canceled), context.Canceled)
	got := get()
	assert.Equal(t, export.StateFailed, got.State)
	assert.Equal(t, "the export failed 5 times; create a new export", got.Error)
	assert.Equal(t, 5, got.Attempts)
}
