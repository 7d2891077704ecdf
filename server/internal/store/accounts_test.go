package store_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/invalid"
	"github.com/groundwork-dev/groundwork/server/internal/store"
	"github.com/groundwork-dev/groundwork/server/internal/user"
	"github.com/groundwork-dev/groundwork/server/internal/uuidtest"
)

func (b *testBundle) create(t *testing.T, owner, name string) account.Account {
	t.Helper()
	acc, err := b.accounts.HandleCreateAccount(context.Background(), account.Create{Owner: owner, Name: name})
	require.NoError(t, err)
	return acc
}

func TestAccountsCRUD(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	created := b.create(t, b.alice, "Acme")
	assert.True(t, account.ValidID(created.ID), "id %q", created.ID)
	assert.Equal(t, b.alice, created.OwnerID)
	assert.Equal(t, "Acme", created.Name)
	assert.False(t, created.CreateTime.IsZero())
	assert.Equal(t, created.CreateTime, created.UpdateTime, "update time equals create time until the first update")

	got, err := b.accounts.HandleGetAccount(ctx, account.Get{Owner: b.alice, ID: created.ID})
	require.NoError(t, err)
	assert.Equal(t, created, got)

	updated, err := b.accounts.HandleUpdateAccount(ctx, account.Update{Owner: b.alice, ID: created.ID, Name: "Acme Corp"})
	require.NoError(t, err)
	assert.Equal(t, "Acme Corp", updated.Name)
	assert.Equal(t, created.CreateTime, updated.CreateTime)
	assert.True(t, updated.UpdateTime.After(created.UpdateTime), "update time moves: %v then %v", created.UpdateTime, updated.UpdateTime)

	// The current name again succeeds, as does a change of case only.
	_, err = b.accounts.HandleUpdateAccount(ctx, account.Update{Owner: b.alice, ID: created.ID, Name: "Acme Corp"})
	require.NoError(t, err)
	_, err = b.accounts.HandleUpdateAccount(ctx, account.Update{Owner: b.alice, ID: created.ID, Name: "ACME CORP"})
	require.NoError(t, err)

	deleted, err := b.accounts.HandleDeleteAccount(ctx, account.Delete{Owner: b.alice, ID: created.ID})
	require.NoError(t, err)
	assert.Equal(t, created.ID, deleted.ID)
	assert.Equal(t, "ACME CORP", deleted.Name)
}

func TestAccountsSoftDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acc := b.create(t, b.alice, "Acme")
	keep := b.create(t, b.alice, "Other")

	_, err := b.accounts.HandleDeleteAccount(ctx, account.Delete{Owner: b.alice, ID: acc.ID})
	require.NoError(t, err)

	// The row stays, marked deleted.
	var deletedAt *time.Time
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT deleted_at FROM accounts WHERE id = $1`, acc.ID).Scan(&deletedAt))
	require.NotNil(t, deletedAt, "deleted_at is set")

	// ... and is invisible to every operation.
	_, err = b.accounts.HandleGetAccount(ctx, account.Get{Owner: b.alice, ID: acc.ID})
	require.ErrorIs(t, err, account.ErrNotFound)
	_, err = b.accounts.HandleUpdateAccount(ctx, account.Update{Owner: b.alice, ID: acc.ID, Name: "New"})
	require.ErrorIs(t, err, account.ErrNotFound)
	_, err = b.accounts.HandleDeleteAccount(ctx, account.Delete{Owner: b.alice, ID: acc.ID})
	require.ErrorIs(t, err, account.ErrNotFound, "deleting twice")
	page, err := b.accounts.HandleListAccounts(ctx, account.List{Owner: b.alice})
	require.NoError(t, err)
	assert.Equal(t, []account.Account{keep}, page.Accounts)

	// Its name is free again.
	again := b.create(t, b.alice, "acme")
	assert.NotEqual(t, acc.ID, again.ID)
}

func TestAccountsUniqueName(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acme := b.create(t, b.alice, "Acme")
	other := b.create(t, b.alice, "Other")

	for _, name := range []string{"Acme", "ACME", "acme"} {
		_, err := b.accounts.HandleCreateAccount(ctx, account.Create{Owner: b.alice, Name: name})
		require.ErrorIs(t, err, account.ErrAlreadyExists, name)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, "the PostgreSQL error stays in the chain for the log")
		assert.Equal(t, "23505", pgErr.Code)
	}
	_, err := b.accounts.HandleUpdateAccount(ctx, account.Update{Owner: b.alice, ID: other.ID, Name: "aCmE"})
	require.ErrorIs(t, err, account.ErrAlreadyExists)

	// Names are unique per owner only.
	bobs := b.create(t, b.bob, "Acme")
	assert.NotEqual(t, acme.ID, bobs.ID)

	// The failed statements changed nothing.
	got, err := b.accounts.HandleGetAccount(ctx, account.Get{Owner: b.alice, ID: other.ID})
	require.NoError(t, err)
	assert.Equal(t, "Other", got.Name)
}

func TestAccountsConcurrentCreateSameName(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = b.accounts.HandleCreateAccount(context.Background(), account.Create{Owner: b.alice, Name: "Race"})
		})
	}
	wg.Wait()
	var ok, exists int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, account.ErrAlreadyExists):
			exists++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	assert.Equal(t, 1, ok)
	assert.Equal(t, n-1, exists)
}

func TestAccountsOtherOwnerIsNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acc := b.create(t, b.alice, "Alice's")

	_, err := b.accounts.HandleGetAccount(ctx, account.Get{Owner: b.bob, ID: acc.ID})
	require.ErrorIs(t, err, account.ErrNotFound)
	_, err = b.accounts.HandleUpdateAccount(ctx, account.Update{Owner: b.bob, ID: acc.ID, Name: "Mine now"})
	require.ErrorIs(t, err, account.ErrNotFound)
	_, err = b.accounts.HandleDeleteAccount(ctx, account.Delete{Owner: b.bob, ID: acc.ID})
	require.ErrorIs(t, err, account.ErrNotFound)
	page, err := b.accounts.HandleListAccounts(ctx, account.List{Owner: b.bob})
	require.NoError(t, err)
	assert.Empty(t, page.Accounts)
	assert.Empty(t, page.NextPageToken)

	// Nothing happened to Alice's account.
	got, err := b.accounts.HandleGetAccount(ctx, account.Get{Owner: b.alice, ID: acc.ID})
	require.NoError(t, err)
	assert.Equal(t, acc, got)

	// An ID that exists nowhere reads the same.
	_, err = b.accounts.HandleGetAccount(ctx, account.Get{Owner: b.alice, ID: uuidtest.New(t)})
	require.ErrorIs(t, err, account.ErrNotFound)
}

func TestAccountsCreateForUnknownOwner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.accounts.HandleCreateAccount(context.Background(), account.Create{Owner: uuidtest.New(t), Name: "Orphan"})
	require.ErrorIs(t, err, user.ErrNotFound)
}

func TestAccountsNameCheckWithoutValidator(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The store called directly, without the Validate middleware: the
	// table's CHECK still answers with a field violation, not an internal
	// error.
	_, err := b.accounts.HandleCreateAccount(context.Background(), account.Create{Owner: b.alice, Name: ""})
	var bad *invalid.Error
	require.ErrorAs(t, err, &bad)
	assert.Equal(t, "name", bad.Violations[0].Field)
}

// listAll pages through owner's accounts with size and returns every page.
func (b *testBundle) listAll(t *testing.T, owner string, size int) [][]account.Account {
	t.Helper()
	var pages [][]account.Account
	token := ""
	for {
		page, err := b.accounts.HandleListAccounts(context.Background(), account.List{Owner: owner, PageSize: size, PageToken: token})
		require.NoError(t, err)
		pages = append(pages, page.Accounts)
		if page.NextPageToken == "" {
			return pages
		}
		require.Less(t, len(pages), 100, "pagination does not end")
		token = page.NextPageToken
	}
}

func ids(accs []account.Account) []string {
	out := make([]string, len(accs))
	for i, a := range accs {
		out[i] = a.ID
	}
	return out
}

func TestAccountsListPaginationWithTies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	// Seven accounts; five share one create time (ties broken by ID), two
	// are older and newer than them.
	var all []account.Account
	for i := range 7 {
		all = append(all, b.create(t, b.alice, fmt.Sprintf("acc-%d", i)))
	}
	b.create(t, b.bob, "bob's, never listed for alice")
	tie := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	_, err := b.db.Pool.Exec(ctx, `UPDATE accounts SET created_at = $2 WHERE id = ANY($1)`, ids(all[1:6]), tie)
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(ctx, `UPDATE accounts SET created_at = $2 WHERE id = $1`, all[0].ID, tie.Add(-time.Hour))
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(ctx, `UPDATE accounts SET created_at = $2 WHERE id = $1`, all[6].ID, tie.Add(time.Hour))
	require.NoError(t, err)
	tied := ids(all[1:6])
	sort.Strings(tied)
	want := append(append([]string{all[0].ID}, tied...), all[6].ID)

	for _, size := range []int{1, 2, 3, 5, 6, 7, 8, 0} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			pages := b.listAll(t, b.alice, size)
			var got []string
			for i, p := range pages {
				if size > 0 && i < len(pages)-1 {
					assert.Len(t, p, size, "a full page before the last one")
				}
				got = append(got, ids(p)...)
			}
			assert.Equal(t, want, got, "every account once, oldest first, ties by id")
			wantPages := 1
			if size > 0 {
				wantPages = (len(want) + size - 1) / size
			}
			assert.Len(t, pages, wantPages, "the page that ends the list has no next token")
		})
	}
}

func TestAccountsListIsStableWhileAccountsChange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var all []account.Account
	for i := range 6 {
		all = append(all, b.create(t, b.alice, fmt.Sprintf("acc-%d", i)))
	}

	first, err := b.accounts.HandleListAccounts(ctx, account.List{Owner: b.alice, PageSize: 3})
	require.NoError(t, err)
	require.Equal(t, ids(all[:3]), ids(first.Accounts))

	// Between pages: an account of the first page and one of the second
	// are deleted, and a new one is created.
	for _, acc := range []account.Account{all[1], all[4]} {
		_, err := b.accounts.HandleDeleteAccount(ctx, account.Delete{Owner: b.alice, ID: acc.ID})
		require.NoError(t, err)
	}
	fresh := b.create(t, b.alice, "fresh")

	second, err := b.accounts.HandleListAccounts(ctx, account.List{Owner: b.alice, PageSize: 3, PageToken: first.NextPageToken})
	require.NoError(t, err)
	assert.Equal(t, []string{all[3].ID, all[5].ID, fresh.ID}, ids(second.Accounts), "no account twice, none skipped")
	assert.Empty(t, second.NextPageToken)
}

func TestAccountsListLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.db.Pool.Exec(ctx,
		`INSERT INTO accounts (owner_id, name) SELECT $1, 'acc-' || i FROM generate_series(1, 101) AS i`, b.alice)
	require.NoError(t, err)

	for size, want := range map[int]int{0: account.DefaultPageSize, 1000: account.MaxPageSize, 100: 100, 101: 100} {
		page, err := b.accounts.HandleListAccounts(ctx, account.List{Owner: b.alice, PageSize: size})
		require.NoError(t, err)
		assert.Len(t, page.Accounts, want, "page size %d", size)
		assert.NotEmpty(t, page.NextPageToken, "page size %d: 101 accounts do not fit", size)
	}

	// A token of another owner is refused, even by the store alone.
	page, err := b.accounts.HandleListAccounts(ctx, account.List{Owner: b.alice, PageSize: 1})
	require.NoError(t, err)
	_, err = b.accounts.HandleListAccounts(ctx, account.List{Owner: b.bob, PageToken: page.NextPageToken})
	var bad *invalid.Error
	require.ErrorAs(t, err, &bad)
	assert.Equal(t, "page_token", bad.Violations[0].Field)
}

func TestAccountsDeleteHookRunsInTheTransaction(t *testing.T) {
	t.Parallel()
	var (
		seen        account.Account
		deletedInTx bool
	)
	hook := func(ctx context.Context, tx pgx.Tx, acc account.Account) error {
		seen = acc
		// The delete is visible inside the transaction: a job enqueued here
		// commits with it.
		return tx.QueryRow(ctx, `SELECT deleted_at IS NOT NULL FROM accounts WHERE id = $1`, acc.ID).Scan(&deletedInTx)
	}
	b := setup(t, store.WithAfterDelete(hook))
	acc := b.create(t, b.alice, "Doomed")

	_, err := b.accounts.HandleDeleteAccount(context.Background(), account.Delete{Owner: b.alice, ID: acc.ID})
	require.NoError(t, err)
	assert.Equal(t, acc, seen)
	assert.True(t, deletedInTx)

	// Not called when there is nothing to delete.
	seen = account.Account{}
	_, err = b.accounts.HandleDeleteAccount(context.Background(), account.Delete{Owner: b.alice, ID: acc.ID})
	require.ErrorIs(t, err, account.ErrNotFound)
	assert.Empty(t, seen.ID)
}

func TestAccountsDeleteHookErrorRollsBack(t *testing.T) {
	t.Parallel()
	errEnqueue := errors.New("enqueue purge job: queue unavailable")
	b := setup(t, store.WithAfterDelete(func(ctx context.Context, tx pgx.Tx, acc account.Account) error {
		return errEnqueue
	}))
	acc := b.create(t, b.alice, "Survivor")

	_, err := b.accounts.HandleDeleteAccount(context.Background(), account.Delete{Owner: b.alice, ID: acc.ID})
	require.ErrorIs(t, err, errEnqueue)

	got, err := b.accounts.HandleGetAccount(context.Background(), account.Get{Owner: b.alice, ID: acc.ID})
	require.NoError(t, err, "the delete was rolled back")
	assert.Equal(t, acc, got)
}

func TestAccountsInsideACallersTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// store.DB is satisfied by a pgx.Tx: the delete's transaction becomes a
	// savepoint, and rolling back the outer transaction undoes everything.
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	inTx := store.NewAccounts(tx)
	acc, err := inTx.HandleCreateAccount(ctx, account.Create{Owner: b.alice, Name: "Temp"})
	require.NoError(t, err)
	_, err = inTx.HandleDeleteAccount(ctx, account.Delete{Owner: b.alice, ID: acc.ID})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))

	page, err := b.accounts.HandleListAccounts(ctx, account.List{Owner: b.alice})
	require.NoError(t, err)
	assert.Empty(t, page.Accounts)
}
