package e2e_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
)

// TestDatabaseOutage takes PostgreSQL away from a running server: every
// request fails with UNAVAILABLE (503 over JSON), the code clients retry
// on, saying nothing about the database; /readyz reports it; and when the
// database is back the same process serves again, without a restart.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	k := kratostest.Shared(t)
	s := startServer(t, serverOptions{kratos: k, databaseProxy: true})
	_, ss := registerAPI(t, k)
	clients := map[string]client{
		"gRPC": s.grpcClient(t, "x-session-token", ss.Token),
		"JSON": s.jsonClient(t, withHeader("X-Session-Token", ss.Token)),
	}
	created, err := clients["gRPC"].accounts.CreateAccount(t.Context(), &groundworkv1.CreateAccountRequest{Name: "Before the outage"})
	require.NoError(t, err)
	id := created.GetAccount().GetId()

	s.dbProxy.Down()
	for name, c := range clients {
		_, err := c.accounts.GetAccount(t.Context(), &groundworkv1.GetAccountRequest{Id: id})
		st := requireCode(t, err, codes.Unavailable, name, " GetAccount while the database is down")
		require.Contains(t, st.Message(), "try again")
		for _, leak := range []string{"postgres", "sslkey", "127.0.0.1", "dial", "tls"} {
			require.NotContains(t, strings.ToLower(st.Message()), leak, "%s: the message says too much", name)
		}
		_, err = c.accounts.CreateAccount(t.Context(), &groundworkv1.CreateAccountRequest{Name: "During the outage " + name})
		requireCode(t, err, codes.Unavailable, name, " CreateAccount while the database is down")
	}
	code, body := get(t, s.opsURL+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	require.Contains(t, body, "database")

	s.dbProxy.Up(t)
	// The pool dials again on the next request: no restart.
	require.Eventually(t, func() bool {
		_, err := clients["JSON"].accounts.GetAccount(t.Context(), &groundworkv1.GetAccountRequest{Id: id})
		return err == nil
	}, 20*time.Second, 100*time.Millisecond, "the server does not serve again after the database came back")
	for name, c := range clients {
		got, err := c.accounts.GetAccount(t.Context(), &groundworkv1.GetAccountRequest{Id: id})
		require.NoError(t, err, name)
		require.Equal(t, "Before the outage", got.GetAccount().GetName(), name)
	}
	list, err := clients["gRPC"].accounts.ListAccounts(t.Context(), &groundworkv1.ListAccountsRequest{})
	require.NoError(t, err)
	require.Len(t, list.GetAccounts(), 1, "nothing written during the outage")
	code, body = get(t, s.opsURL+"/readyz")
	require.Equal(t, http.StatusOK, code, body)
}
