package e2e_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
	"github.com/groundwork-dev/groundwork/server/internal/requesttest"
)

// The experiment of a database outage, replayed: a logged-in client calls
// GET /api/v1/accounts through the gateway (and ListAccounts over gRPC)
// every 100 ms while PostgreSQL is away for 5 s — for the server and for Kratos, which share it, as in the
// cluster. Kratos answers whoami with 401 while it cannot read its
// database; nobody may be logged out by that: no 401, some 503, and the
// same session gets 200 again afterwards. The session cache is off, so
// every call asks Kratos (with the default 5 s cache the outage would have
// to outlast the cached entry to show the same).
func TestDatabaseOutageLogsNobodyOut(t *testing.T) {
	t.Parallel()
	k, kratosDB := kratostest.StartWithDatabaseProxy(t, kratostest.Options{})
	s := startServer(t, serverOptions{kratos: k, databaseProxy: true, cacheTTL: ttl(0)})
	_, ss := registerAPI(t, k)
	call := func() int {
		return requesttest.Do(t, http.MethodGet, s.gatewayURL+"/api/v1/accounts", "", map[string]string{"X-Session-Token": ss.Token}).StatusCode
	}
	grpcClient := s.grpcClient(t, "x-session-token", ss.Token)
	callGRPC := func() codes.Code {
		_, err := grpcClient.accounts.ListAccounts(t.Context(), &groundworkv1.ListAccountsRequest{})
		return status.Code(err)
	}
	require.Equal(t, http.StatusOK, call(), "before the outage")
	require.Equal(t, codes.OK, callGRPC(), "before the outage")

	statuses, grpcCodes := map[int]int{}, map[codes.Code]int{}
	s.dbProxy.Down()
	kratosDB.Down()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		statuses[call()]++
		grpcCodes[callGRPC()]++
	}
	s.dbProxy.Up(t)
	kratosDB.Up(t)

	require.Zero(t, statuses[http.StatusUnauthorized], "JSON calls during the outage by status: %v", statuses)
	require.Positive(t, statuses[http.StatusServiceUnavailable], "JSON calls during the outage by status: %v", statuses)
	require.Zero(t, grpcCodes[codes.Unauthenticated], "gRPC calls during the outage by code: %v", grpcCodes)
	require.Positive(t, grpcCodes[codes.Unavailable], "gRPC calls during the outage by code: %v", grpcCodes)
	require.Eventually(t, func() bool { return call() == http.StatusOK && callGRPC() == codes.OK }, 30*time.Second, 100*time.Millisecond,
		"the same session works again after the outage, without signing in")
}
