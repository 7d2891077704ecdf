package e2e_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
)

// everyRPC calls each RPC once with input that is valid apart from the
// credentials.
func everyRPC(c client) map[string]func(context.Context) error {
	const id = "6f0d3b9e-5c4a-4e8b-9d2a-1b3c4d5e6f70"
	return map[string]func(context.Context) error{
		"GetMe": func(ctx context.Context) error {
			_, err := c.users.GetMe(ctx, &groundworkv1.GetMeRequest{})
			return err
		},
		"CreateAccount": func(ctx context.Context) error {
			_, err := c.accounts.CreateAccount(ctx, &groundworkv1.CreateAccountRequest{Name: "Unauthenticated"})
			return err
		},
		"GetAccount": func(ctx context.Context) error {
			_, err := c.accounts.GetAccount(ctx, &groundworkv1.GetAccountRequest{Id: id})
			return err
		},
		"ListAccounts": func(ctx context.Context) error {
			_, err := c.accounts.ListAccounts(ctx, &groundworkv1.ListAccountsRequest{})
			return err
		},
		"UpdateAccount": func(ctx context.Context) error {
			_, err := c.accounts.UpdateAccount(ctx, &groundworkv1.UpdateAccountRequest{Id: id, Name: "Unauthenticated"})
			return err
		},
		"DeleteAccount": func(ctx context.Context) error {
			_, err := c.accounts.DeleteAccount(ctx, &groundworkv1.DeleteAccountRequest{Id: id})
			return err
		},
	}
}

// TestAuthenticationFailures: requests without a valid session fail with
// UNAUTHENTICATED (401 over JSON), never say what credential they carried,
// and change nothing. The session cache is off (TTL 0), as it must be for
// a revocation to take effect at once.
func TestAuthenticationFailures(t *testing.T) {
	t.Parallel()
	k := kratostest.Shared(t)
	s := startServer(t, serverOptions{kratos: k, cacheTTL: ttl(0)})
	const garbage = "garbage-session-token"

	var revoked kratostest.Session
	t.Run("cases", func(t *testing.T) {
		t.Run("no credentials", func(t *testing.T) {
			t.Parallel()
			for name, c := range map[string]client{
				"gRPC": s.grpcClient(t, "", ""),
				"JSON": s.jsonClient(t, func(*http.Request) {}),
				// Not a Kratos scheme: ignored, as Kratos ignores it.
				"gRPC Basic": s.grpcClient(t, "authorization", "Basic dXNlcjpwYXNzd29yZA=="),
			} {
				for rpc, call := range everyRPC(c) {
					st := requireCode(t, call(t.Context()), codes.Unauthenticated, name, " ", rpc)
					require.NotEmpty(t, st.Message(), "%s %s", name, rpc)
				}
			}
			code, st := s.rawRequest(t, http.MethodGet, "/api/v1/me", "", nil)
			require.Equal(t, http.StatusUnauthorized, code)
			require.Equal(t, int32(codes.Unauthenticated), st.GetCode())
		})

		t.Run("garbage credentials", func(t *testing.T) {
			t.Parallel()
			garbageCookie := &http.Cookie{Name: kratostest.SessionCookieName, Value: garbage}
			for name, c := range map[string]client{
				"gRPC x-session-token": s.grpcClient(t, "x-session-token", garbage),
				"gRPC Bearer":          s.grpcClient(t, "authorization", "Bearer "+garbage),
				"JSON X-Session-Token": s.jsonClient(t, withHeader("X-Session-Token", garbage)),
				"JSON Bearer":          s.jsonClient(t, withHeader("Authorization", "Bearer "+garbage)),
				"JSON cookie":          s.jsonClient(t, withCookie(garbageCookie)),
			} {
				for rpc, call := range everyRPC(c) {
					st := requireCode(t, call(t.Context()), codes.Unauthenticated, name, " ", rpc)
					require.NotContains(t, st.Message(), garbage, "%s %s: the message repeats the credential", name, rpc)
				}
			}
		})

		t.Run("revoked session", func(t *testing.T) {
			t.Parallel()
			u, api := registerAPI(t, k)
			browser := k.LoginBrowser(t, u.Email, u.Password)
			revoked = api
			grpcToken := s.grpcClient(t, "x-session-token", api.Token)
			jsonToken := s.jsonClient(t, withHeader("X-Session-Token", api.Token))
			cookie := s.jsonClient(t, withCookie(browser.Cookie))
			for _, c := range []client{grpcToken, jsonToken, cookie} {
				_, err := c.users.GetMe(t.Context(), &groundworkv1.GetMeRequest{})
				require.NoError(t, err)
			}

			// Revoking the API session ends it at once (no cache) and
			// leaves the user's other session alone.
			k.RevokeSession(t, api.ID)
			for _, c := range []client{grpcToken, jsonToken} {
				for rpc, call := range everyRPC(c) {
					requireCode(t, call(t.Context()), codes.Unauthenticated, rpc)
				}
			}
			_, err := cookie.users.GetMe(t.Context(), &groundworkv1.GetMeRequest{})
			require.NoError(t, err, "the browser session is another session")

			k.RevokeSession(t, browser.ID)
			_, err = cookie.users.GetMe(t.Context(), &groundworkv1.GetMeRequest{})
			requireCode(t, err, codes.Unauthenticated)
			_, err = cookie.accounts.CreateAccount(t.Context(), &groundworkv1.CreateAccountRequest{Name: "After sign-out"})
			requireCode(t, err, codes.Unauthenticated)
		})
	})

	// Nothing was written but the users row of the one user whose requests
	// succeeded before the revocation.
	var accounts, users int
	require.NoError(t, s.db.Pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM users)`).Scan(&accounts, &users))
	require.Zero(t, accounts)
	require.Equal(t, 1, users)
	_, ok := s.userRow(t, revoked.IdentityID)
	require.True(t, ok)
}

// TestSessionCache uses a server that reuses verified sessions for a minute
// (the maximum): within that window a revoked session still works (the
// documented price of the cache), and a session verified before Kratos went
// down keeps working through the outage, while one never seen fails with
// UNAVAILABLE, so that clients retry instead of signing the user out.
func TestSessionCache(t *testing.T) {
	t.Parallel()
	k := kratostest.Start(t, kratostest.Options{})
	s := startServer(t, serverOptions{kratos: k, cacheTTL: ttl(time.Minute)})
	ctx := t.Context()

	_, seen := registerAPI(t, k)
	_, unseen := registerAPI(t, k)
	seenClient := s.grpcClient(t, "x-session-token", seen.Token)
	_, err := seenClient.users.GetMe(ctx, &groundworkv1.GetMeRequest{})
	require.NoError(t, err)

	k.RevokeSession(t, seen.ID)
	_, err = seenClient.users.GetMe(ctx, &groundworkv1.GetMeRequest{})
	require.NoError(t, err, "revoked, but still cached")

	k.Stop()
	_, err = seenClient.users.GetMe(ctx, &groundworkv1.GetMeRequest{})
	require.NoError(t, err, "cached: works while Kratos is down")
	for name, c := range map[string]client{
		"gRPC": s.grpcClient(t, "x-session-token", unseen.Token),
		"JSON": s.jsonClient(t, withHeader("X-Session-Token", unseen.Token)),
	} {
		_, err := c.users.GetMe(ctx, &groundworkv1.GetMeRequest{})
		st := requireCode(t, err, codes.Unavailable, name)
		require.Equal(t, "authentication is unavailable, try again", st.Message(), name)
	}
}

// TestExpiredSession: a session past its expiry is UNAUTHENTICATED, also on
// a server whose cache would otherwise keep it for a minute: the cache never
// outlives the session. Kratos's sessions last 3 s here, so this test
// waits that long (Kratos's clock is real; nothing else would do).
func TestExpiredSession(t *testing.T) {
	t.Parallel()
	k := kratostest.Start(t, kratostest.Options{Env: map[string]string{"SESSION_LIFESPAN": "3s"}})
	s := startServer(t, serverOptions{kratos: k, cacheTTL: ttl(time.Minute)})
	ctx := t.Context()

	_, ss := registerAPI(t, k)
	require.WithinDuration(t, time.Now().Add(3*time.Second), ss.ExpiresAt, 2*time.Second, "Kratos took the lifespan")
	grpcToken := s.grpcClient(t, "x-session-token", ss.Token)
	jsonToken := s.jsonClient(t, withHeader("X-Session-Token", ss.Token))
	for _, c := range []client{grpcToken, jsonToken} {
		_, err := c.users.GetMe(ctx, &groundworkv1.GetMeRequest{})
		require.NoError(t, err, "before the expiry (%s left)", time.Until(ss.ExpiresAt))
	}

	select {
	case <-time.After(time.Until(ss.ExpiresAt) + 100*time.Millisecond):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	for _, c := range []client{grpcToken, jsonToken} {
		for rpc, call := range everyRPC(c) {
			st := requireCode(t, call(ctx), codes.Unauthenticated, rpc)
			require.NotEmpty(t, st.Message(), rpc)
		}
	}
}
