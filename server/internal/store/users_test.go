package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/user"
	"github.com/groundwork-dev/groundwork/server/internal/uuidtest"
)

func TestUsersUpsertAndGet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	got, err := b.users.HandleGetUser(ctx, user.Get{ID: b.alice})
	require.NoError(t, err)
	assert.Equal(t, b.alice, got.ID)
	assert.Equal(t, "alice@example.com", got.Email)
	assert.Equal(t, "Alice", got.DisplayName)
	assert.Equal(t, got.CreateTime, got.UpdateTime)

	// Age the row so that a change of updated_at is visible.
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = b.db.Pool.Exec(ctx, `UPDATE users SET created_at = $2, updated_at = $2 WHERE id = $1`, b.alice, old)
	require.NoError(t, err)

	// The same identity again writes nothing.
	require.NoError(t, b.users.Upsert(ctx, identity.User{ID: b.alice, Email: "alice@example.com", DisplayName: "Alice", SessionID: "s2"}))
	got, err = b.users.HandleGetUser(ctx, user.Get{ID: b.alice})
	require.NoError(t, err)
	assert.True(t, got.UpdateTime.Equal(old), "unchanged identity keeps update time, got %v", got.UpdateTime)

	// A changed one updates the mirror and its update time.
	require.NoError(t, b.users.Upsert(ctx, identity.User{ID: b.alice, Email: "alice@example.org", DisplayName: ""}))
	got, err = b.users.HandleGetUser(ctx, user.Get{ID: b.alice})
	require.NoError(t, err)
	assert.Equal(t, "alice@example.org", got.Email)
	assert.Empty(t, got.DisplayName)
	assert.True(t, got.CreateTime.Equal(old))
	assert.True(t, got.UpdateTime.After(old))
}

func TestUsersGetMissing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.users.HandleGetUser(context.Background(), user.Get{ID: uuidtest.New(t)})
	require.ErrorIs(t, err, user.ErrNotFound)
}

func TestUsersUpsertRejectsBadIdentities(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := uuidtest.New(t)
	require.ErrorContains(t, b.users.Upsert(ctx, identity.User{ID: id}), "no email")
	require.Error(t, b.users.Upsert(ctx, identity.User{ID: "not-a-uuid", Email: "x@example.com"}))
	_, err := b.users.HandleGetUser(ctx, user.Get{ID: id})
	require.ErrorIs(t, err, user.ErrNotFound, "nothing was written")
}

// deletedMark reads a user's identity_deleted_at; ok is false when unset.
func (b *testBundle) deletedMark(t *testing.T, id string) (time.Time, bool) {
	t.Helper()
	var at *time.Time
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT identity_deleted_at FROM users WHERE id = $1`, id).Scan(&at))
	if at == nil {
		return time.Time{}, false
	}
	return *at, true
}

func TestUsersUpsertManyAndMarkDeleted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	carol := uuidtest.New(t)
	n, err := b.users.UpsertMany(ctx, []identity.User{
		{ID: b.alice, Email: "alice@example.com", DisplayName: "Alice"}, // unchanged
		{ID: b.bob, Email: "bob@example.org"},                           // changed
		{ID: carol, Email: "carol@example.com", DisplayName: "Carol"},   // new
	})
	require.NoError(t, err)
	assert.Equal(t, int64(2), n, "an unchanged row is not written")
	got, err := b.users.HandleGetUser(ctx, user.Get{ID: carol})
	require.NoError(t, err)
	assert.Equal(t, "Carol", got.DisplayName)

	n, err = b.users.UpsertMany(ctx, nil)
	require.NoError(t, err)
	assert.Zero(t, n)
	_, err = b.users.UpsertMany(ctx, []identity.User{{ID: uuidtest.New(t), Email: "x@example.com"}, {ID: uuidtest.New(t)}})
	require.ErrorContains(t, err, "has no email")

	// The listing began after every row so far; bob is missing from it.
	since, err := b.users.Now(ctx)
	require.NoError(t, err)
	// dave registers while the listing runs: his row is younger than it.
	dave := uuidtest.New(t)
	require.NoError(t, b.users.Upsert(ctx, identity.User{ID: dave, Email: "dave@example.com"}))

	marked, err := b.users.MarkIdentitiesDeleted(ctx, []string{b.alice, carol}, since)
	require.NoError(t, err)
	assert.Equal(t, []string{b.bob}, marked)
	_, ok := b.deletedMark(t, b.bob)
	assert.True(t, ok)
	for _, id := range []string{b.alice, carol, dave} {
		_, ok := b.deletedMark(t, id)
		assert.False(t, ok, "%s is listed or younger than the listing", id)
	}

	// Marking again changes nothing, and keeps the first time.
	first, _ := b.deletedMark(t, b.bob)
	marked, err = b.users.MarkIdentitiesDeleted(ctx, []string{b.alice, carol}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{dave}, marked)
	again, _ := b.deletedMark(t, b.bob)
	assert.True(t, first.Equal(again))

	// The identity shows up again (a request, the hook, a listing): unmarked.
	require.NoError(t, b.users.Upsert(ctx, identity.User{ID: b.bob, Email: "bob@example.org"}))
	_, ok = b.deletedMark(t, b.bob)
	assert.False(t, ok)
	_, err = b.users.UpsertMany(ctx, []identity.User{{ID: dave, Email: "dave@example.com"}})
	require.NoError(t, err)
	_, ok = b.deletedMark(t, dave)
	assert.False(t, ok)
}
