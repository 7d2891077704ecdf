package e2e_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
)

const uuidPattern = `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`

// TestEveryRPC runs the whole API, every RPC with its success path and its
// bad input, once for each kind of client: gRPC with a session token or a
// Bearer token, and the JSON gateway with a session token, a Bearer token
// or a browser's session cookie. Each kind has a user of its own, and a
// second user of the same kind who must not see the first one's accounts.
func TestEveryRPC(t *testing.T) {
	t.Parallel()
	k := kratostest.Shared(t)
	s := startServer(t, serverOptions{kratos: k})

	code, body := get(t, s.opsURL+"/readyz")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "[+]database ok\n[+]kratos ok\nready\n", body)

	t.Run("kinds", func(t *testing.T) {
		for _, kd := range kinds {
			t.Run(kd.name, func(t *testing.T) {
				t.Parallel()
				me, u, ss := kd.signUp(t, s, k)
				other, _, _ := kd.signUp(t, s, k)
				scenario(t, s, me, u, ss.IdentityID, other)
			})
		}
	})

	// Native calls come with the test client's certificate; the gateway's
	// calls with the gateway's own, over the same interceptors. Every
	// successful call was made for a user.
	seen := map[string]bool{}
	for _, r := range s.log.rpcs("") {
		if r["code"] == codes.OK.String() {
			seen[fmt.Sprint(r["peer_cn"])] = true
			require.NotEmpty(t, r["user_id"], "an OK call without a user: %v", r)
		}
	}
	require.Equal(t, map[string]bool{"test-client": true, "gateway": true}, seen)
}

// scenario calls every RPC as me (signed up as u, identity id) and checks
// that other, another user, sees none of it.
func scenario(t *testing.T, s *server, me client, u kratostest.User, id string, other client) {
	t.Helper()
	ctx := t.Context()

	// This server has no web hook: the users row is written by the first
	// authenticated request, which GetMe then reads.
	_, exists := s.userRow(t, id)
	require.False(t, exists, "a users row before the first request")
	meResp, err := me.users.GetMe(ctx, &groundworkv1.GetMeRequest{})
	require.NoError(t, err)
	usr := meResp.GetUser()
	require.Equal(t, id, usr.GetId())
	require.Equal(t, u.Email, usr.GetEmail())
	require.Equal(t, u.Name, usr.GetDisplayName())
	row, exists := s.userRow(t, id)
	require.True(t, exists, "the first request wrote the users row")
	require.Equal(t, u.Email, row.Email)
	require.Equal(t, u.Name, row.DisplayName)
	require.True(t, row.CreatedAt.Equal(usr.GetCreateTime().AsTime()), "create_time %v, row %v", usr.GetCreateTime().AsTime(), row.CreatedAt)
	require.True(t, row.UpdatedAt.Equal(usr.GetUpdateTime().AsTime()))

	list := func(c client, size int32, token string) *groundworkv1.ListAccountsResponse {
		t.Helper()
		resp, err := c.accounts.ListAccounts(ctx, &groundworkv1.ListAccountsRequest{PageSize: size, PageToken: token})
		require.NoError(t, err)
		return resp
	}
	getAcc := func(c client, accID string) (*groundworkv1.Account, error) {
		resp, err := c.accounts.GetAccount(ctx, &groundworkv1.GetAccountRequest{Id: accID})
		return resp.GetAccount(), err
	}
	create := func(name string) (*groundworkv1.Account, error) {
		resp, err := me.accounts.CreateAccount(ctx, &groundworkv1.CreateAccountRequest{Name: name})
		return resp.GetAccount(), err
	}
	update := func(c client, accID, name string) (*groundworkv1.Account, error) {
		resp, err := c.accounts.UpdateAccount(ctx, &groundworkv1.UpdateAccountRequest{Id: accID, Name: name})
		return resp.GetAccount(), err
	}
	del := func(c client, accID string) error {
		_, err := c.accounts.DeleteAccount(ctx, &groundworkv1.DeleteAccountRequest{Id: accID})
		return err
	}

	empty := list(me, 0, "")
	require.Empty(t, empty.GetAccounts())
	require.Empty(t, empty.GetNextPageToken())

	// CreateAccount: five, and one with a name of exactly 100 characters.
	var created []*groundworkv1.Account
	for _, name := range []string{"Account 1", "Account 2", "Account 3", "Account 4", strings.Repeat("é", 100)} {
		acc, err := create(name)
		require.NoError(t, err, name)
		require.Regexp(t, uuidPattern, acc.GetId())
		require.Equal(t, id, acc.GetOwnerId())
		require.Equal(t, name, acc.GetName())
		require.NotNil(t, acc.GetCreateTime())
		require.True(t, acc.GetCreateTime().AsTime().Equal(acc.GetUpdateTime().AsTime()), "update_time equals create_time")
		created = append(created, acc)
	}
	live, all := s.accountCounts(t, id)
	require.Equal(t, [2]int{5, 5}, [2]int{live, all}, "rows in PostgreSQL")

	// GetAccount.
	got, err := getAcc(me, created[1].GetId())
	require.NoError(t, err)
	require.True(t, proto.Equal(created[1], got), "got %v, created %v", got, created[1])

	// ListAccounts in pages of two: three pages, oldest first, each
	// account once, no token on the last page.
	var listed []*groundworkv1.Account
	var token, firstToken string
	pages := 0
	for {
		p := list(me, 2, token)
		require.LessOrEqual(t, len(p.GetAccounts()), 2)
		listed = append(listed, p.GetAccounts()...)
		pages++
		if p.GetNextPageToken() == "" {
			break
		}
		require.Less(t, pages, 10, "the listing does not end")
		token = p.GetNextPageToken()
		if firstToken == "" {
			firstToken = token
		}
	}
	require.Equal(t, 3, pages)
	requireSameAccounts(t, created, listed)
	whole := list(me, 0, "")
	requireSameAccounts(t, created, whole.GetAccounts())
	require.Empty(t, whole.GetNextPageToken(), "the default page size (20) holds all five")

	// UpdateAccount.
	renamed, err := update(me, created[0].GetId(), "Renamed")
	require.NoError(t, err)
	require.Equal(t, "Renamed", renamed.GetName())
	require.Equal(t, created[0].GetId(), renamed.GetId())
	require.True(t, renamed.GetCreateTime().AsTime().Equal(created[0].GetCreateTime().AsTime()), "create_time unchanged")
	require.True(t, renamed.GetUpdateTime().AsTime().After(created[0].GetUpdateTime().AsTime()), "update_time moved")
	created[0] = renamed
	got, err = getAcc(me, renamed.GetId())
	require.NoError(t, err)
	require.True(t, proto.Equal(renamed, got))

	// Names are unique per owner, ignoring case.
	_, err = create("ACCOUNT 2")
	requireCode(t, err, codes.AlreadyExists)
	_, err = update(me, created[0].GetId(), "account 3")
	requireCode(t, err, codes.AlreadyExists)

	// Bad input names its field.
	for what, name := range map[string]string{
		"empty":                 "",
		"101 characters":        strings.Repeat("x", 101),
		"only whitespace":       " \t ",
		"a control character":   "a\nb",
		"101 multibyte letters": strings.Repeat("日", 101),
	} {
		t.Run("name "+what, func(t *testing.T) {
			_, err := create(name)
			requireInvalid(t, err, "name")
			_, err = update(me, created[1].GetId(), name)
			requireInvalid(t, err, "name")
		})
	}
	_, err = getAcc(me, "not-a-uuid")
	requireInvalid(t, err, "id")
	_, err = me.accounts.ListAccounts(ctx, &groundworkv1.ListAccountsRequest{PageToken: "not-a-page-token"})
	requireInvalid(t, err, "page_token")
	_, err = me.accounts.ListAccounts(ctx, &groundworkv1.ListAccountsRequest{PageSize: -1})
	requireInvalid(t, err, "page_size")
	live, all = s.accountCounts(t, id)
	require.Equal(t, [2]int{5, 5}, [2]int{live, all}, "bad input wrote nothing")

	// Another user: the accounts do not exist for them.
	for _, acc := range created {
		_, err := getAcc(other, acc.GetId())
		requireCode(t, err, codes.NotFound)
		_, err = update(other, acc.GetId(), "Taken over")
		requireCode(t, err, codes.NotFound)
		requireCode(t, del(other, acc.GetId()), codes.NotFound)
	}
	require.Empty(t, list(other, 0, "").GetAccounts())
	_, err = other.accounts.ListAccounts(ctx, &groundworkv1.ListAccountsRequest{PageToken: firstToken})
	requireInvalid(t, err, "page_token") // not issued for them
	requireSameAccounts(t, created, list(me, 0, "").GetAccounts())

	// DeleteAccount: then NOT_FOUND everywhere, gone from the listing, its
	// row soft-deleted, its name free again.
	gone := created[2]
	require.NoError(t, del(me, gone.GetId()))
	_, err = getAcc(me, gone.GetId())
	requireCode(t, err, codes.NotFound)
	_, err = update(me, gone.GetId(), "Back")
	requireCode(t, err, codes.NotFound)
	requireCode(t, del(me, gone.GetId()), codes.NotFound)
	remaining := append(append([]*groundworkv1.Account{}, created[:2]...), created[3:]...)
	requireSameAccounts(t, remaining, list(me, 0, "").GetAccounts())
	live, all = s.accountCounts(t, id)
	require.Equal(t, [2]int{4, 5}, [2]int{live, all}, "soft-deleted")
	again, err := create(gone.GetName())
	require.NoError(t, err)
	require.NotEqual(t, gone.GetId(), again.GetId())
}

// TestOneUserManyCredentials signs one user in through both Kratos flows
// (an API session and a browser session) and uses all of their
// credentials over both transports: it is one user and one set of
// accounts, whichever way a request arrives.
func TestOneUserManyCredentials(t *testing.T) {
	t.Parallel()
	k := kratostest.Shared(t)
	s := startServer(t, serverOptions{kratos: k})
	ctx := t.Context()

	u, api := registerAPI(t, k)
	browser := k.LoginBrowser(t, u.Email, u.Password)
	require.Equal(t, api.IdentityID, browser.IdentityID)
	require.NotEqual(t, api.ID, browser.ID, "two sessions")

	grpcToken := s.grpcClient(t, "x-session-token", api.Token)
	grpcBearer := s.grpcClient(t, "authorization", "Bearer "+api.Token)
	jsonToken := s.jsonClient(t, withHeader("X-Session-Token", api.Token))
	jsonBearer := s.jsonClient(t, withHeader("Authorization", "Bearer "+api.Token))
	cookie := s.jsonClient(t, withCookie(browser.Cookie))
	for name, c := range map[string]client{
		"gRPC token": grpcToken, "gRPC Bearer": grpcBearer,
		"JSON token": jsonToken, "JSON Bearer": jsonBearer, "JSON cookie": cookie,
	} {
		me, err := c.users.GetMe(ctx, &groundworkv1.GetMeRequest{})
		require.NoError(t, err, name)
		require.Equal(t, api.IdentityID, me.GetUser().GetId(), name)
		require.Equal(t, u.Email, me.GetUser().GetEmail(), name)
	}

	// Written with the browser's cookie, read over gRPC with the token.
	created, err := cookie.accounts.CreateAccount(ctx, &groundworkv1.CreateAccountRequest{Name: "From the browser"})
	require.NoError(t, err)
	got, err := grpcToken.accounts.GetAccount(ctx, &groundworkv1.GetAccountRequest{Id: created.GetAccount().GetId()})
	require.NoError(t, err)
	require.True(t, proto.Equal(created.GetAccount(), got.GetAccount()))

	// Renamed over gRPC with Bearer, listed over JSON with the token.
	renamed, err := grpcBearer.accounts.UpdateAccount(ctx, &groundworkv1.UpdateAccountRequest{Id: created.GetAccount().GetId(), Name: "From gRPC"})
	require.NoError(t, err)
	page, err := jsonToken.accounts.ListAccounts(ctx, &groundworkv1.ListAccountsRequest{})
	require.NoError(t, err)
	requireSameAccounts(t, []*groundworkv1.Account{renamed.GetAccount()}, page.GetAccounts())

	// Deleted over JSON with Bearer, gone for the browser.
	_, err = jsonBearer.accounts.DeleteAccount(ctx, &groundworkv1.DeleteAccountRequest{Id: created.GetAccount().GetId()})
	require.NoError(t, err)
	_, err = cookie.accounts.GetAccount(ctx, &groundworkv1.GetAccountRequest{Id: created.GetAccount().GetId()})
	requireCode(t, err, codes.NotFound)
}
