package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/store"
	"github.com/groundwork-dev/groundwork/server/internal/uuidtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type testBundle struct {
	db       *pgtest.DB
	accounts *store.Accounts
	users    *store.Users
	alice    string // user IDs with a users row
	bob      string
}

func setup(t *testing.T, opts ...store.AccountsOption) *testBundle {
	t.Helper()
	db := pgtest.New(t)
	b := &testBundle{
		db:       db,
		accounts: store.NewAccounts(db.Pool, opts...),
		users:    store.NewUsers(db.Pool),
		alice:    uuidtest.New(t),
		bob:      uuidtest.New(t),
	}
	ctx := context.Background()
	require.NoError(t, b.users.Upsert(ctx, identity.User{ID: b.alice, Email: "alice@example.com", DisplayName: "Alice"}))
	require.NoError(t, b.users.Upsert(ctx, identity.User{ID: b.bob, Email: "bob@example.com"}))
	return b
}
