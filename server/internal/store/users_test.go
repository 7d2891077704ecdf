package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/user"
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
	_, err := b.users.HandleGetUser(context.Background(), user.Get{ID: newID(t)})
	require.ErrorIs(t, err, user.ErrNotFound)
}

func TestUsersUpsertRejectsBadIdentities(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := newID(t)
	require.ErrorContains(t, b.users.Upsert(ctx, identity.User{ID: id}), "no email")
	require.Error(t, b.users.Upsert(ctx, identity.User{ID: "not-a-uuid", Email: "x@example.com"}))
	_, err := b.users.HandleGetUser(ctx, user.Get{ID: id})
	require.ErrorIs(t, err, user.ErrNotFound, "nothing was written")
}
