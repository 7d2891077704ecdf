package store_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// newID returns a random UUID (version 4) in canonical text form.
func newID(t testing.TB) string {
	t.Helper()
	var b [16]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

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
		alice:    newID(t),
		bob:      newID(t),
	}
	ctx := context.Background()
	require.NoError(t, b.users.Upsert(ctx, identity.User{ID: b.alice, Email: "alice@example.com", DisplayName: "Alice"}))
	require.NoError(t, b.users.Upsert(ctx, identity.User{ID: b.bob, Email: "bob@example.com"}))
	return b
}
