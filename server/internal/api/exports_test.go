package api_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/store"
	"github.com/groundwork-dev/groundwork/server/internal/uuidtest"
)

func (b *testBundle) createExport(t *testing.T, u identity.User, accountID string) *groundworkv1.AccountExport {
	t.Helper()
	resp, err := b.accounts.CreateAccountExport(as(u), &groundworkv1.CreateAccountExportRequest{AccountId: accountID})
	require.NoError(t, err)
	return resp.GetExport()
}

func (b *testBundle) getExport(t *testing.T, u identity.User, accountID, id string) *groundworkv1.AccountExport {
	t.Helper()
	resp, err := b.accounts.GetAccountExport(as(u), &groundworkv1.GetAccountExportRequest{AccountId: accountID, Id: id})
	require.NoError(t, err)
	return resp.GetExport()
}

func (b *testBundle) download(u identity.User, accountID, id string) (*groundworkv1.DownloadAccountExportResponse, error) {
	return b.accounts.DownloadAccountExport(as(u), &groundworkv1.DownloadAccountExportRequest{AccountId: accountID, Id: id})
}

// TestAccountExports walks an export through its states, playing the
// worker's part with the store's job methods.
func TestAccountExports(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acc := b.create(t, b.alice, "Acme")
	worker := store.NewExports(b.db.Pool)

	e := b.createExport(t, b.alice, acc.GetId())
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, e.GetId())
	assert.Equal(t, acc.GetId(), e.GetAccountId())
	assert.Equal(t, groundworkv1.AccountExport_STATE_PENDING, e.GetState())
	assert.NotNil(t, e.GetCreateTime())
	assert.Nil(t, e.GetCompleteTime(), "unset before it finishes")
	assert.Empty(t, e.GetError())

	_, err := b.download(b.alice, acc.GetId(), e.GetId())
	requireCode(t, err, codes.FailedPrecondition, "the export is pending")

	_, _, err = worker.Start(ctx, e.GetId())
	require.NoError(t, err)
	assert.Equal(t, groundworkv1.AccountExport_STATE_RUNNING, b.getExport(t, b.alice, acc.GetId(), e.GetId()).GetState())
	_, err = b.download(b.alice, acc.GetId(), e.GetId())
	requireCode(t, err, codes.FailedPrecondition, "the export is running")

	_, err = worker.Succeed(ctx, e.GetId(), []byte(`{"format":"x"}`))
	require.NoError(t, err)
	done := b.getExport(t, b.alice, acc.GetId(), e.GetId())
	assert.Equal(t, groundworkv1.AccountExport_STATE_SUCCEEDED, done.GetState())
	require.NotNil(t, done.GetCompleteTime())
	assert.False(t, done.GetCompleteTime().AsTime().Before(done.GetCreateTime().AsTime()))
	resp, err := b.download(b.alice, acc.GetId(), e.GetId())
	require.NoError(t, err)
	assert.Equal(t, "account-"+acc.GetId()+"-export.json", resp.GetFilename())
	assert.Equal(t, "application/json", resp.GetContentType())
	assert.JSONEq(t, `{"format":"x"}`, string(resp.GetContent()))

	failed := b.createExport(t, b.alice, acc.GetId())
	require.NoError(t, worker.Fail(ctx, failed.GetId(), "the export failed 5 times; create a new export"))
	got := b.getExport(t, b.alice, acc.GetId(), failed.GetId())
	assert.Equal(t, groundworkv1.AccountExport_STATE_FAILED, got.GetState())
	assert.Equal(t, "the export failed 5 times; create a new export", got.GetError())
	assert.NotNil(t, got.GetCompleteTime())
	_, err = b.download(b.alice, acc.GetId(), failed.GetId())
	requireCode(t, err, codes.FailedPrecondition, "the export failed")
}

// TestAccountExportsOfOthersAreNotFound: another user's account and its
// exports read like missing ones; so do a deleted account's exports.
func TestAccountExportsOfOthersAreNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc := b.create(t, b.alice, "Acme")
	e := b.createExport(t, b.alice, acc.GetId())

	_, err := b.accounts.CreateAccountExport(as(b.bob), &groundworkv1.CreateAccountExportRequest{AccountId: acc.GetId()})
	requireCode(t, err, codes.NotFound, "account not found")
	_, err = b.accounts.CreateAccountExport(as(b.alice), &groundworkv1.CreateAccountExportRequest{AccountId: uuidtest.New(t)})
	requireCode(t, err, codes.NotFound, "account not found")
	_, err = b.accounts.GetAccountExport(as(b.bob), &groundworkv1.GetAccountExportRequest{AccountId: acc.GetId(), Id: e.GetId()})
	requireCode(t, err, codes.NotFound, "account export not found")
	_, err = b.download(b.bob, acc.GetId(), e.GetId())
	requireCode(t, err, codes.NotFound, "account export not found")
	_, err = b.accounts.GetAccountExport(as(b.alice), &groundworkv1.GetAccountExportRequest{AccountId: acc.GetId(), Id: uuidtest.New(t)})
	requireCode(t, err, codes.NotFound, "account export not found")

	_, err = b.accounts.DeleteAccount(as(b.alice), &groundworkv1.DeleteAccountRequest{Id: acc.GetId()})
	require.NoError(t, err)
	_, err = b.accounts.GetAccountExport(as(b.alice), &groundworkv1.GetAccountExportRequest{AccountId: acc.GetId(), Id: e.GetId()})
	requireCode(t, err, codes.NotFound, "account export not found")
}

// TestAccountExportsBadInput: every malformed ID of every export RPC is
// INVALID_ARGUMENT naming its field, before any query.
func TestAccountExportsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc := b.create(t, b.alice, "Acme").GetId()
	good := uuidtest.New(t)
	for _, bad := range []string{"", "42", "not-a-uuid", good + "0", "{" + good + "}", "9b2d6a8e3f1c4f7a9f5e2a6c1d8b7e40"} {
		_, err := b.accounts.CreateAccountExport(as(b.alice), &groundworkv1.CreateAccountExportRequest{AccountId: bad})
		requireInvalid(t, err, "account_id")

		_, err = b.accounts.GetAccountExport(as(b.alice), &groundworkv1.GetAccountExportRequest{AccountId: bad, Id: good})
		requireInvalid(t, err, "account_id")
		_, err = b.accounts.GetAccountExport(as(b.alice), &groundworkv1.GetAccountExportRequest{AccountId: acc, Id: bad})
		requireInvalid(t, err, "id")

		_, err = b.download(b.alice, bad, good)
		requireInvalid(t, err, "account_id")
		_, err = b.download(b.alice, acc, bad)
		requireInvalid(t, err, "id")
	}
	// Both wrong: both reported.
	_, err := b.download(b.alice, "", "x")
	st := requireCode(t, err, codes.InvalidArgument, "account_id: must not be empty; id: must be a UUID")
	require.Len(t, st.Details(), 1)

	var n int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM account_exports`).Scan(&n))
	assert.Zero(t, n, "bad input never reaches the database")
}
