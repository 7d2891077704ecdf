package policy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/export"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/invalid"
	"github.com/groundwork-dev/groundwork/server/internal/messenger/testaccount"
	"github.com/groundwork-dev/groundwork/server/internal/policy"
	"github.com/groundwork-dev/groundwork/server/internal/user"
)

const (
	alice = "6f1f4a0e-8a4b-4c1e-9d3a-0b7c2e5f9a11"
	bob   = "0d9e8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b"
	accID = "9b2d6a8e-3f1c-4f7a-9f5e-2a6c1d8b7e40"
	expID = "3c0b9a8d-7e6f-4a5b-8c9d-0e1f2a3b4c5d"
)

// fakeStore records the messages that reach the end of the chain.
type fakeStore struct{ got []any }

func (f *fakeStore) HandleCreateAccount(_ context.Context, msg account.Create) (account.Account, error) {
	f.got = append(f.got, msg)
	return account.Account{ID: accID, OwnerID: msg.Owner, Name: msg.Name}, nil
}

func (f *fakeStore) HandleGetAccount(_ context.Context, msg account.Get) (account.Account, error) {
	f.got = append(f.got, msg)
	return account.Account{ID: msg.ID, OwnerID: msg.Owner}, nil
}

func (f *fakeStore) HandleListAccounts(_ context.Context, msg account.List) (account.Page, error) {
	f.got = append(f.got, msg)
	return account.Page{}, nil
}

func (f *fakeStore) HandleUpdateAccount(_ context.Context, msg account.Update) (account.Account, error) {
	f.got = append(f.got, msg)
	return account.Account{ID: msg.ID, OwnerID: msg.Owner, Name: msg.Name}, nil
}

func (f *fakeStore) HandleDeleteAccount(_ context.Context, msg account.Delete) (account.Account, error) {
	f.got = append(f.got, msg)
	return account.Account{ID: msg.ID, OwnerID: msg.Owner}, nil
}

func (f *fakeStore) HandleCreateAccountExport(_ context.Context, msg export.Create) (export.Export, error) {
	f.got = append(f.got, msg)
	return export.Export{ID: expID, AccountID: msg.AccountID, OwnerID: msg.Owner, State: export.StatePending}, nil
}

func (f *fakeStore) HandleGetAccountExport(_ context.Context, msg export.Get) (export.Export, error) {
	f.got = append(f.got, msg)
	return export.Export{ID: msg.ID, AccountID: msg.AccountID, OwnerID: msg.Owner}, nil
}

func (f *fakeStore) HandleDownloadAccountExport(_ context.Context, msg export.Download) (export.Content, error) {
	f.got = append(f.got, msg)
	return export.Content{Filename: export.Filename(msg.AccountID)}, nil
}

type testBundle struct {
	store *fakeStore
	send  *testaccount.Messenger
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	s := &fakeStore{}
	return &testBundle{store: s, send: testaccount.New(&policy.Validator{}, &policy.Authorizer{}, s, s)}
}

func as(id string) context.Context {
	return identity.With(context.Background(), identity.User{ID: id, Email: id + "@example.com"})
}

// TestChainOrder shows the order Validate → Authorize → store through the
// generated messenger: each stage stops what it rejects, and nothing it
// stops reaches the store.
func TestChainOrder(t *testing.T) {
	t.Parallel()

	t.Run("validation runs before authorization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// A bad name from an unauthenticated context, and from the wrong
		// caller: both fail validation, so Validate ran first.
		for _, ctx := range []context.Context{context.Background(), as(bob)} {
			_, err := b.send.SendCreateAccount(ctx, account.Create{Owner: alice, Name: "   "})
			var bad *invalid.Error
			require.ErrorAs(t, err, &bad)
			assert.Equal(t, "name", bad.Violations[0].Field)
			assert.NotErrorIs(t, err, identity.ErrNone)
			assert.NotErrorIs(t, err, policy.ErrForbidden)
		}
		assert.Empty(t, b.store.got, "a bad name never reaches the store")
	})

	t.Run("authorization runs before the store", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.send.SendCreateAccount(context.Background(), account.Create{Owner: alice, Name: "Acme"})
		require.ErrorIs(t, err, identity.ErrNone)
		_, err = b.send.SendCreateAccount(as(bob), account.Create{Owner: alice, Name: "Acme"})
		require.ErrorIs(t, err, policy.ErrForbidden)
		assert.Empty(t, b.store.got)
	})

	t.Run("a valid, authorized message reaches the store unchanged", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		msg := account.Create{Owner: alice, Name: "Acme"}
		acc, err := b.send.SendCreateAccount(as(alice), msg)
		require.NoError(t, err)
		assert.Equal(t, account.Account{ID: accID, OwnerID: alice, Name: "Acme"}, acc, "the store's response comes back")
		assert.Equal(t, []any{msg}, b.store.got)
	})
}

// TestEveryAccountMessageIsGuarded sends each account message three ways:
// invalid, valid but for another owner, and valid for the caller.
func TestEveryAccountMessageIsGuarded(t *testing.T) {
	t.Parallel()
	type send func(ctx context.Context, m *testaccount.Messenger, owner string, valid bool) error
	pick := func(valid bool, good, bad string) string {
		if valid {
			return good
		}
		return bad
	}
	for name, fn := range map[string]send{
		"CreateAccount": func(ctx context.Context, m *testaccount.Messenger, owner string, valid bool) error {
			_, err := m.SendCreateAccount(ctx, account.Create{Owner: owner, Name: pick(valid, "Acme", strings.Repeat("x", 101))})
			return err
		},
		"GetAccount": func(ctx context.Context, m *testaccount.Messenger, owner string, valid bool) error {
			_, err := m.SendGetAccount(ctx, account.Get{Owner: owner, ID: pick(valid, accID, "42")})
			return err
		},
		"ListAccounts": func(ctx context.Context, m *testaccount.Messenger, owner string, valid bool) error {
			size := 10
			if !valid {
				size = -1
			}
			_, err := m.SendListAccounts(ctx, account.List{Owner: owner, PageSize: size})
			return err
		},
		"UpdateAccount": func(ctx context.Context, m *testaccount.Messenger, owner string, valid bool) error {
			_, err := m.SendUpdateAccount(ctx, account.Update{Owner: owner, ID: accID, Name: pick(valid, "New", "")})
			return err
		},
		"DeleteAccount": func(ctx context.Context, m *testaccount.Messenger, owner string, valid bool) error {
			_, err := m.SendDeleteAccount(ctx, account.Delete{Owner: owner, ID: pick(valid, accID, "")})
			return err
		},
		"CreateAccountExport": func(ctx context.Context, m *testaccount.Messenger, owner string, valid bool) error {
			_, err := m.SendCreateAccountExport(ctx, export.Create{Owner: owner, AccountID: pick(valid, accID, "")})
			return err
		},
		"GetAccountExport": func(ctx context.Context, m *testaccount.Messenger, owner string, valid bool) error {
			_, err := m.SendGetAccountExport(ctx, export.Get{Owner: owner, AccountID: accID, ID: pick(valid, expID, "nope")})
			return err
		},
		"DownloadAccountExport": func(ctx context.Context, m *testaccount.Messenger, owner string, valid bool) error {
			_, err := m.SendDownloadAccountExport(ctx, export.Download{Owner: owner, AccountID: pick(valid, accID, accID+"x"), ID: expID})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var bad *invalid.Error
			require.ErrorAs(t, fn(as(alice), b.send, alice, false), &bad)
			require.ErrorIs(t, fn(as(bob), b.send, alice, true), policy.ErrForbidden)
			require.ErrorIs(t, fn(context.Background(), b.send, alice, true), identity.ErrNone)
			assert.Empty(t, b.store.got)
			require.NoError(t, fn(as(alice), b.send, alice, true))
			assert.Len(t, b.store.got, 1)
		})
	}
}

type nextGetUser struct{ called bool }

func (n *nextGetUser) Send(_ context.Context, msg user.Get) (user.User, error) {
	n.called = true
	return user.User{ID: msg.ID}, nil
}

func TestAuthorizeGetUser(t *testing.T) {
	t.Parallel()
	a := &policy.Authorizer{}

	next := &nextGetUser{}
	u, err := a.HandleGetUser(as(alice), user.Get{ID: alice}, next)
	require.NoError(t, err)
	assert.Equal(t, alice, u.ID)
	assert.True(t, next.called)

	next = &nextGetUser{}
	_, err = a.HandleGetUser(as(bob), user.Get{ID: alice}, next)
	require.ErrorIs(t, err, policy.ErrForbidden)
	_, err = a.HandleGetUser(context.Background(), user.Get{ID: alice}, next)
	require.ErrorIs(t, err, identity.ErrNone)
	assert.False(t, next.called, "another user is never read")
}
