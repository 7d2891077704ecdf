package example_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/messengergen"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/account"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/api"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/messenger"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/policy"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/store"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/testaccount"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/testadmin"
)

// TestGeneratedIsCurrent fails when a routing.yaml and the committed
// generated files disagree: run go generate ./... in messengergen/.
func TestGeneratedIsCurrent(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		dir   string
		opts  messengergen.Options // as in the directory's go:generate line
		files int
	}{
		{".", messengergen.Options{Graph: true}, 9},
		{"nopchain", messengergen.Options{}, 2},
	} {
		spec, err := os.ReadFile(filepath.Join(c.dir, "routing.yaml"))
		require.NoError(t, err)
		files, err := messengergen.Generate(spec, "routing.yaml", c.opts)
		require.NoError(t, err)
		require.Len(t, files, c.files, c.dir)
		for name, want := range files {
			got, err := os.ReadFile(filepath.Join(c.dir, filepath.FromSlash(name)))
			require.NoError(t, err)
			require.Equal(t, string(want), string(got), "%s is stale: run go generate ./...", filepath.Join(c.dir, name))
		}
	}
}

type testBundle struct {
	repo  *store.Accounts
	audit *policy.Audit
	msgr  *messenger.Messenger
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	b := &testBundle{repo: store.NewAccounts(), audit: &policy.Audit{}}
	b.msgr = messenger.New(&policy.Authorizer{Admins: map[string]bool{"root": true}}, b.audit, b.repo)
	return b
}

func TestAppMessenger(t *testing.T) {
	t.Parallel()

	t.Run("SourcesReachTheRepository", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		accounts := api.NewAccounts(b.msgr)

		id, err := accounts.Open(ctx, "ada")
		require.NoError(t, err)
		acc, err := accounts.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, account.Account{ID: id, Owner: "ada"}, acc)

		_, err = accounts.Get(ctx, "nope")
		require.ErrorIs(t, err, account.ErrNotFound)
	})

	t.Run("MiddlewaresForwardAndSeeTheResponse", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := policy.WithActor(context.Background(), "root")
		id, err := api.NewAccounts(b.msgr).Open(ctx, "ada")
		require.NoError(t, err)

		res, err := api.NewAdmin(b.msgr).Close(ctx, id, "asked")
		require.NoError(t, err)
		require.Equal(t, account.CloseAccountResult{ID: id, WasOpen: true, AuditRecord: 1}, res)
		acc, err := b.repo.HandleGetAccount(ctx, &account.GetAccountRequest{ID: id})
		require.NoError(t, err)
		require.True(t, acc.Closed)
	})

	t.Run("MiddlewareShortCircuits", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		id, err := api.NewAccounts(b.msgr).Open(ctx, "ada")
		require.NoError(t, err)

		_, err = api.NewAdmin(b.msgr).Close(policy.WithActor(ctx, "mallory"), id, "mine now")
		require.ErrorIs(t, err, policy.ErrForbidden)
		require.Zero(t, b.audit.Records(), "Audit comes after Authorize and must not run")
		acc, err := b.repo.HandleGetAccount(ctx, &account.GetAccountRequest{ID: id})
		require.NoError(t, err)
		require.False(t, acc.Closed, "the repository must not run")
	})

	t.Run("NewPanicsOnANilHandler", func(t *testing.T) {
		t.Parallel()
		// With direct dispatch New takes *policy.Audit; with interface
		// dispatch, testadmin.New takes an AuditHandler.
		require.PanicsWithValue(t, "messenger.New: nil Audit (*policy.Audit)", func() {
			messenger.New(&policy.Authorizer{}, nil, store.NewAccounts())
		})
		require.PanicsWithValue(t, "testadmin.New: nil AuditHandler", func() {
			testadmin.New(&policy.Authorizer{}, nil, store.NewAccounts())
		})
	})
}

// TestTestMessenger wires the account API to the repository alone, through
// the generated subset messenger testaccount: no middleware to construct.
func TestTestMessenger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	accounts := api.NewAccounts(testaccount.New(store.NewAccounts()))

	id, err := accounts.Open(ctx, "grace")
	require.NoError(t, err)
	acc, err := accounts.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "grace", acc.Owner)
}

// TestTestAdminMessenger reuses the middleware types, written against
// messenger.NextCloseAccount, in another generated package.
func TestTestAdminMessenger(t *testing.T) {
	t.Parallel()
	ctx := policy.WithActor(context.Background(), "root")
	repo := store.NewAccounts()
	acc, err := repo.HandleOpenAccount(ctx, &account.OpenAccountRequest{Owner: "ada"})
	require.NoError(t, err)
	admin := api.NewAdmin(testadmin.New(&policy.Authorizer{Admins: map[string]bool{"root": true}}, &policy.Audit{}, repo))

	res, err := admin.Close(ctx, acc.ID, "test")
	require.NoError(t, err)
	require.Equal(t, account.CloseAccountResult{ID: acc.ID, WasOpen: true, AuditRecord: 1}, res)
}

// recorder is a chain of fakes that logs each step, to pin down exactly
// what the generated dispatch does. The app messenger has direct dispatch
// and takes only the declared types, so the fakes go through testadmin, a
// messenger of the same chain with interface dispatch; the middlewares are
// written against messenger.NextCloseAccount, the same type as testadmin's.
type recorder struct {
	log  []string
	deny error // Authorize returns it when set
}

type ctxKey string

type recAuthorize struct{ r *recorder }

func (f recAuthorize) HandleCloseAccount(ctx context.Context, msg *account.CloseAccountRequest, next messenger.NextCloseAccount) (account.CloseAccountResult, error) {
	f.r.log = append(f.r.log, "authorize:"+msg.ID)
	if f.r.deny != nil {
		return account.CloseAccountResult{}, f.r.deny
	}
	res, err := next.Send(context.WithValue(ctx, ctxKey("authorized-by"), "authorize"), msg)
	f.r.log = append(f.r.log, "authorize saw:"+res.ID)
	return res, err
}

type recAudit struct{ r *recorder }

func (f recAudit) HandleCloseAccount(ctx context.Context, msg *account.CloseAccountRequest, next messenger.NextCloseAccount) (account.CloseAccountResult, error) {
	f.r.log = append(f.r.log, "audit:"+msg.ID)
	res, err := next.Send(ctx, msg)
	f.r.log = append(f.r.log, "audit saw:"+res.ID)
	return res, err
}

type recRepo struct{ r *recorder }

func (f recRepo) HandleOpenAccount(context.Context, *account.OpenAccountRequest) (account.Account, error) {
	return account.Account{}, errors.New("not used")
}

func (f recRepo) HandleGetAccount(context.Context, *account.GetAccountRequest) (account.Account, error) {
	return account.Account{}, errors.New("not used")
}

func (f recRepo) HandleCloseAccount(ctx context.Context, msg *account.CloseAccountRequest) (account.CloseAccountResult, error) {
	f.r.log = append(f.r.log, "repo:"+msg.ID+" ctx:"+ctx.Value(ctxKey("request")).(string)+","+ctx.Value(ctxKey("authorized-by")).(string))
	return account.CloseAccountResult{ID: "closed-" + msg.ID, WasOpen: true}, nil
}

func TestDispatch(t *testing.T) {
	t.Parallel()
	ctx := context.WithValue(context.Background(), ctxKey("request"), "r1")

	t.Run("ChainOrderContextAndResult", func(t *testing.T) {
		t.Parallel()
		r := &recorder{}
		m := testadmin.New(recAuthorize{r}, recAudit{r}, recRepo{r})
		res, err := m.SendCloseAccount(ctx, &account.CloseAccountRequest{ID: "a1"})
		require.NoError(t, err)
		require.Equal(t, account.CloseAccountResult{ID: "closed-a1", WasOpen: true}, res, "the final receiver's result comes back")
		require.Equal(t, []string{
			"authorize:a1",
			"audit:a1",
			"repo:a1 ctx:r1,authorize", // the caller's context and the one a middleware derived
			"audit saw:closed-a1",
			"authorize saw:closed-a1",
		}, r.log)
	})

	t.Run("ShortCircuit", func(t *testing.T) {
		t.Parallel()
		denied := errors.New("denied")
		r := &recorder{deny: denied}
		m := testadmin.New(recAuthorize{r}, recAudit{r}, recRepo{r})
		_, err := m.SendCloseAccount(ctx, &account.CloseAccountRequest{ID: "a1"})
		require.ErrorIs(t, err, denied)
		require.Equal(t, []string{"authorize:a1"}, r.log)
	})
}

// TestDispatchAllocations runs alone (not in parallel): AllocsPerRun counts
// every allocation in the process.
func TestDispatchAllocations(t *testing.T) {
	b := setup(t)
	ctx := policy.WithActor(context.Background(), "root")
	acc, err := b.msgr.SendOpenAccount(ctx, &account.OpenAccountRequest{Owner: "ada"})
	require.NoError(t, err)
	msg := &account.CloseAccountRequest{ID: acc.ID}
	for name, m := range map[string]messenger.AdminAPISender{
		"direct (messenger)":    b.msgr,
		"interface (testadmin)": testadmin.New(&policy.Authorizer{Admins: map[string]bool{"root": true}}, b.audit, b.repo),
	} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := m.SendCloseAccount(ctx, msg); err != nil {
				panic(err)
			}
		})
		require.Zero(t, allocs, "%s: dispatch through two middlewares must not allocate", name)
	}
}
