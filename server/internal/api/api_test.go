package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/api"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/messenger"
	"github.com/groundwork-dev/groundwork/server/internal/policy"
	"github.com/groundwork-dev/groundwork/server/internal/store"
	"github.com/groundwork-dev/groundwork/server/internal/uuidtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type testBundle struct {
	db       *pgtest.DB
	accounts *api.Accounts
	users    *api.Users
	alice    identity.User // both have a users row, as the auth layer ensures
	bob      identity.User
}

// setup wires the request path as the server does, over a fresh database.
func setup(t *testing.T) *testBundle {
	t.Helper()
	db := pgtest.New(t)
	userStore := store.NewUsers(db.Pool)
	m := messenger.New(&policy.Validator{}, &policy.Authorizer{}, store.NewAccounts(db.Pool), userStore, store.NewExports(db.Pool))
	b := &testBundle{
		db:       db,
		accounts: api.NewAccounts(m),
		users:    api.NewUsers(m),
		alice:    identity.User{ID: uuidtest.New(t), Email: "alice@example.com", DisplayName: "Alice", SessionID: "s-alice"},
		bob:      identity.User{ID: uuidtest.New(t), Email: "bob@example.com", SessionID: "s-bob"},
	}
	for _, u := range []identity.User{b.alice, b.bob} {
		require.NoError(t, userStore.Upsert(context.Background(), u))
	}
	return b
}

func as(u identity.User) context.Context { return identity.With(context.Background(), u) }

func (b *testBundle) create(t *testing.T, u identity.User, name string) *groundworkv1.Account {
	t.Helper()
	resp, err := b.accounts.CreateAccount(as(u), &groundworkv1.CreateAccountRequest{Name: name})
	require.NoError(t, err)
	return resp.GetAccount()
}

// accountRows counts every row of the accounts table, deleted ones too.
func (b *testBundle) accountRows(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM accounts`).Scan(&n))
	return n
}

// requireCode checks err's gRPC status code and message prefix.
func requireCode(t *testing.T, err error, code codes.Code, msgPrefix string) *status.Status {
	t.Helper()
	require.Error(t, err)
	st, ok := status.FromError(err)
	require.True(t, ok, "not a status error: %v", err)
	require.Equal(t, code, st.Code(), "message: %s", st.Message())
	require.True(t, strings.HasPrefix(st.Message(), msgPrefix), "message %q, want prefix %q", st.Message(), msgPrefix)
	return st
}

// requireInvalid checks for INVALID_ARGUMENT naming field, in the message
// and in a BadRequest detail.
func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	st := requireCode(t, err, codes.InvalidArgument, field+": ")
	require.Len(t, st.Details(), 1)
	br, ok := st.Details()[0].(*errdetails.BadRequest)
	require.True(t, ok, "detail %T", st.Details()[0])
	var fields []string
	for _, v := range br.GetFieldViolations() {
		fields = append(fields, v.GetField())
		assert.NotEmpty(t, v.GetDescription())
	}
	assert.Contains(t, fields, field)
}

func TestCreateAccount(t *testing.T) {
	t.Parallel()
	b := setup(t)

	acc := b.create(t, b.alice, "Acme")
	assert.NotEmpty(t, acc.GetId())
	assert.Equal(t, b.alice.ID, acc.GetOwnerId())
	assert.Equal(t, "Acme", acc.GetName())
	require.NotNil(t, acc.GetCreateTime())
	assert.True(t, acc.GetCreateTime().AsTime().Equal(acc.GetUpdateTime().AsTime()))

	long := b.create(t, b.alice, strings.Repeat("é", 100))
	assert.Equal(t, strings.Repeat("é", 100), long.GetName(), "100 characters, 200 bytes: accepted")

	_, err := b.accounts.CreateAccount(as(b.alice), &groundworkv1.CreateAccountRequest{Name: "ACME"})
	requireCode(t, err, codes.AlreadyExists, "")

	// Another user may use the name.
	b.create(t, b.bob, "Acme")
}

func TestCreateAccountBadName(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for name, input := range map[string]string{
		"empty":           "",
		"oversized":       strings.Repeat("a", 101),
		"oversized runes": strings.Repeat("日", 101),
		"whitespace":      " \t ",
		"NUL":             "a\x00b",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := b.accounts.CreateAccount(as(b.alice), &groundworkv1.CreateAccountRequest{Name: input})
			requireInvalid(t, err, "name")
		})
	}
	assert.Zero(t, b.accountRows(t), "bad names never reach the database")
}

func TestGetAccount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc := b.create(t, b.alice, "Acme")

	resp, err := b.accounts.GetAccount(as(b.alice), &groundworkv1.GetAccountRequest{Id: acc.GetId()})
	require.NoError(t, err)
	assert.Equal(t, acc.GetId(), resp.GetAccount().GetId())
	assert.Equal(t, "Acme", resp.GetAccount().GetName())

	_, err = b.accounts.GetAccount(as(b.bob), &groundworkv1.GetAccountRequest{Id: acc.GetId()})
	requireCode(t, err, codes.NotFound, "account not found")
	_, err = b.accounts.GetAccount(as(b.alice), &groundworkv1.GetAccountRequest{Id: uuidtest.New(t)})
	requireCode(t, err, codes.NotFound, "account not found")

	_, err = b.accounts.GetAccount(as(b.alice), &groundworkv1.GetAccountRequest{})
	requireInvalid(t, err, "id")
	_, err = b.accounts.GetAccount(as(b.alice), &groundworkv1.GetAccountRequest{Id: "1; DROP TABLE accounts"})
	requireInvalid(t, err, "id")
}

func TestListAccounts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var want []string
	for i := range 5 {
		want = append(want, b.create(t, b.alice, fmt.Sprintf("acc-%d", i)).GetId())
	}
	b.create(t, b.bob, "bob's")

	var got []string
	token := ""
	pages := 0
	for {
		resp, err := b.accounts.ListAccounts(as(b.alice), &groundworkv1.ListAccountsRequest{PageSize: 2, PageToken: token})
		require.NoError(t, err)
		pages++
		for _, a := range resp.GetAccounts() {
			assert.Equal(t, b.alice.ID, a.GetOwnerId())
			got = append(got, a.GetId())
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		token = resp.GetNextPageToken()
	}
	assert.Equal(t, want, got, "oldest first, each once")
	assert.Equal(t, 3, pages)

	resp, err := b.accounts.ListAccounts(as(b.bob), &groundworkv1.ListAccountsRequest{})
	require.NoError(t, err)
	require.Len(t, resp.GetAccounts(), 1, "bob sees only his own")
	assert.Empty(t, resp.GetNextPageToken())
}

func TestListAccountsPageSizes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.db.Pool.Exec(context.Background(),
		`INSERT INTO accounts (owner_id, name) SELECT $1, 'acc-' || i FROM generate_series(1, 101) AS i`, b.alice.ID)
	require.NoError(t, err)

	for size, want := range map[int32]int{0: 20, 7: 7, 100: 100, 101: 100, 1 << 30: 100} {
		resp, err := b.accounts.ListAccounts(as(b.alice), &groundworkv1.ListAccountsRequest{PageSize: size})
		require.NoError(t, err)
		assert.Len(t, resp.GetAccounts(), want, "page_size %d", size)
		assert.NotEmpty(t, resp.GetNextPageToken())
	}
}

func TestListAccountsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.create(t, b.alice, "one")
	b.create(t, b.alice, "two")

	_, err := b.accounts.ListAccounts(as(b.alice), &groundworkv1.ListAccountsRequest{PageSize: -1})
	requireInvalid(t, err, "page_size")

	for _, token := range []string{"x", "not a token", strings.Repeat("A", 44), "%%%"} {
		_, err = b.accounts.ListAccounts(as(b.alice), &groundworkv1.ListAccountsRequest{PageToken: token})
		requireInvalid(t, err, "page_token")
	}

	// A token issued to Alice is not valid for Bob.
	resp, err := b.accounts.ListAccounts(as(b.alice), &groundworkv1.ListAccountsRequest{PageSize: 1})
	require.NoError(t, err)
	require.NotEmpty(t, resp.GetNextPageToken())
	_, err = b.accounts.ListAccounts(as(b.bob), &groundworkv1.ListAccountsRequest{PageToken: resp.GetNextPageToken()})
	st := requireCode(t, err, codes.InvalidArgument, "page_token: ")
	assert.Contains(t, st.Message(), "not issued for this caller")
}

func TestUpdateAccount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc := b.create(t, b.alice, "Acme")
	b.create(t, b.alice, "Taken")

	resp, err := b.accounts.UpdateAccount(as(b.alice), &groundworkv1.UpdateAccountRequest{Id: acc.GetId(), Name: "Acme Corp"})
	require.NoError(t, err)
	assert.Equal(t, "Acme Corp", resp.GetAccount().GetName())
	assert.True(t, resp.GetAccount().GetUpdateTime().AsTime().After(acc.GetCreateTime().AsTime()))
	assert.True(t, resp.GetAccount().GetCreateTime().AsTime().Equal(acc.GetCreateTime().AsTime()))

	get, err := b.accounts.GetAccount(as(b.alice), &groundworkv1.GetAccountRequest{Id: acc.GetId()})
	require.NoError(t, err)
	assert.Equal(t, "Acme Corp", get.GetAccount().GetName(), "the change is stored")

	_, err = b.accounts.UpdateAccount(as(b.alice), &groundworkv1.UpdateAccountRequest{Id: acc.GetId(), Name: "taken"})
	requireCode(t, err, codes.AlreadyExists, "")

	_, err = b.accounts.UpdateAccount(as(b.bob), &groundworkv1.UpdateAccountRequest{Id: acc.GetId(), Name: "Bob's now"})
	requireCode(t, err, codes.NotFound, "account not found")

	for name, input := range map[string]string{"empty": "", "oversized": strings.Repeat("n", 101), "whitespace": "    "} {
		t.Run(name, func(t *testing.T) {
			_, err := b.accounts.UpdateAccount(as(b.alice), &groundworkv1.UpdateAccountRequest{Id: acc.GetId(), Name: input})
			requireInvalid(t, err, "name")
		})
	}
	_, err = b.accounts.UpdateAccount(as(b.alice), &groundworkv1.UpdateAccountRequest{Id: "nope", Name: "Fine"})
	requireInvalid(t, err, "id")

	// Both wrong: both named, id first.
	_, err = b.accounts.UpdateAccount(as(b.alice), &groundworkv1.UpdateAccountRequest{})
	requireInvalid(t, err, "id")
	st := status.Convert(err)
	assert.Equal(t, "id: must not be empty; name: must not be empty", st.Message())
	assert.Len(t, st.Details()[0].(*errdetails.BadRequest).GetFieldViolations(), 2)

	get, err = b.accounts.GetAccount(as(b.alice), &groundworkv1.GetAccountRequest{Id: acc.GetId()})
	require.NoError(t, err)
	assert.Equal(t, "Acme Corp", get.GetAccount().GetName(), "failed updates changed nothing")
}

func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc := b.create(t, b.alice, "Acme")

	_, err := b.accounts.DeleteAccount(as(b.bob), &groundworkv1.DeleteAccountRequest{Id: acc.GetId()})
	requireCode(t, err, codes.NotFound, "account not found")
	_, err = b.accounts.GetAccount(as(b.alice), &groundworkv1.GetAccountRequest{Id: acc.GetId()})
	require.NoError(t, err, "Bob's attempt did not delete it")

	_, err = b.accounts.DeleteAccount(as(b.alice), &groundworkv1.DeleteAccountRequest{Id: acc.GetId()})
	require.NoError(t, err)

	_, err = b.accounts.GetAccount(as(b.alice), &groundworkv1.GetAccountRequest{Id: acc.GetId()})
	requireCode(t, err, codes.NotFound, "account not found")
	_, err = b.accounts.UpdateAccount(as(b.alice), &groundworkv1.UpdateAccountRequest{Id: acc.GetId(), Name: "Back"})
	requireCode(t, err, codes.NotFound, "account not found")
	_, err = b.accounts.DeleteAccount(as(b.alice), &groundworkv1.DeleteAccountRequest{Id: acc.GetId()})
	requireCode(t, err, codes.NotFound, "account not found")
	list, err := b.accounts.ListAccounts(as(b.alice), &groundworkv1.ListAccountsRequest{})
	require.NoError(t, err)
	assert.Empty(t, list.GetAccounts())

	again := b.create(t, b.alice, "Acme")
	assert.NotEqual(t, acc.GetId(), again.GetId(), "the name is free again")

	_, err = b.accounts.DeleteAccount(as(b.alice), &groundworkv1.DeleteAccountRequest{Id: ""})
	requireInvalid(t, err, "id")
}

func TestGetMe(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := b.users.GetMe(as(b.alice), &groundworkv1.GetMeRequest{})
	require.NoError(t, err)
	u := resp.GetUser()
	assert.Equal(t, b.alice.ID, u.GetId())
	assert.Equal(t, "alice@example.com", u.GetEmail())
	assert.Equal(t, "Alice", u.GetDisplayName())
	require.NotNil(t, u.GetCreateTime())
	assert.True(t, u.GetCreateTime().AsTime().Equal(u.GetUpdateTime().AsTime()))

	// An identity without a users row (deleted since the auth layer ran).
	_, err = b.users.GetMe(as(identity.User{ID: uuidtest.New(t), Email: "gone@example.com"}), &groundworkv1.GetMeRequest{})
	requireCode(t, err, codes.NotFound, "user not found")
}

func TestEveryRPCNeedsAnIdentity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc := b.create(t, b.alice, "Acme")
	ctx := context.Background() // no identity.With
	calls := map[string]func() error{
		"GetMe": func() error { _, err := b.users.GetMe(ctx, &groundworkv1.GetMeRequest{}); return err },
		"CreateAccount": func() error {
			_, err := b.accounts.CreateAccount(ctx, &groundworkv1.CreateAccountRequest{Name: "x"})
			return err
		},
		"GetAccount": func() error {
			_, err := b.accounts.GetAccount(ctx, &groundworkv1.GetAccountRequest{Id: acc.GetId()})
			return err
		},
		"ListAccounts": func() error {
			_, err := b.accounts.ListAccounts(ctx, &groundworkv1.ListAccountsRequest{})
			return err
		},
		"UpdateAccount": func() error {
			_, err := b.accounts.UpdateAccount(ctx, &groundworkv1.UpdateAccountRequest{Id: acc.GetId(), Name: "y"})
			return err
		},
		"DeleteAccount": func() error {
			_, err := b.accounts.DeleteAccount(ctx, &groundworkv1.DeleteAccountRequest{Id: acc.GetId()})
			return err
		},
		"CreateAccountExport": func() error {
			_, err := b.accounts.CreateAccountExport(ctx, &groundworkv1.CreateAccountExportRequest{AccountId: acc.GetId()})
			return err
		},
		"GetAccountExport": func() error {
			_, err := b.accounts.GetAccountExport(ctx, &groundworkv1.GetAccountExportRequest{AccountId: acc.GetId(), Id: uuidtest.New(t)})
			return err
		},
		"DownloadAccountExport": func() error {
			_, err := b.accounts.DownloadAccountExport(ctx, &groundworkv1.DownloadAccountExportRequest{AccountId: acc.GetId(), Id: uuidtest.New(t)})
			return err
		},
		// Even bad input: UNAUTHENTICATED comes before any other check.
		"CreateAccount with a bad name": func() error {
			_, err := b.accounts.CreateAccount(ctx, &groundworkv1.CreateAccountRequest{Name: ""})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			requireCode(t, call(), codes.Unauthenticated, "authentication required")
		})
	}
	assert.Equal(t, 1, b.accountRows(t), "nothing was written")
	get, err := b.accounts.GetAccount(as(b.alice), &groundworkv1.GetAccountRequest{Id: acc.GetId()})
	require.NoError(t, err)
	assert.Equal(t, "Acme", get.GetAccount().GetName())
}

func TestDatabaseFailureIsInternalAndSaysNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A pool of its own, closed: every query fails inside the store.
	pool := b.db.Pool
	broken := pgtest.New(t).Pool
	broken.Close()
	m := messenger.New(&policy.Validator{}, &policy.Authorizer{}, store.NewAccounts(broken), store.NewUsers(pool), store.NewExports(broken))
	accounts := api.NewAccounts(m)

	_, err := accounts.CreateAccount(as(b.alice), &groundworkv1.CreateAccountRequest{Name: "Acme"})
	st := requireCode(t, err, codes.Internal, "internal error")
	assert.Equal(t, "internal error", st.Message())
	assert.Empty(t, st.Details())
	assert.Contains(t, err.Error(), "create account", "the cause stays for the log")
}
