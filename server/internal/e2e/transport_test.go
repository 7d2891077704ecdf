package e2e_test

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles/tlsfilestest"
)

// TestCrossSiteRequests: a write authenticated by the browser's cookie is
// refused (403, PERMISSION_DENIED) unless it comes from the allowed origin
// as JSON, and a refused write changes nothing.
func TestCrossSiteRequests(t *testing.T) {
	t.Parallel()
	k := kratostest.Shared(t)
	s := startServer(t, serverOptions{kratos: k})
	u := kratostest.NewUser()
	browser := k.RegisterBrowser(t, u.Email, u.Name, u.Password)
	app := s.jsonClient(t, withCookie(browser.Cookie))
	ctx := t.Context()

	mine, err := app.accounts.CreateAccount(ctx, &groundworkv1.CreateAccountRequest{Name: "Mine"})
	require.NoError(t, err)
	path := "/api/v1/accounts/" + mine.GetAccount().GetId()

	cookie := browser.Cookie.Name + "=" + browser.Cookie.Value
	const evil = "https://evil.example"
	for _, tc := range []struct {
		name, method, path, body string
		header                   http.Header
		reason                   string
	}{
		{"create from another origin", http.MethodPost, "/api/v1/accounts", `{"name":"Evil"}`,
			http.Header{"Origin": {evil}, "Content-Type": {"application/json"}}, "origin " + evil + " is not allowed"},
		{"form post from another origin", http.MethodPost, "/api/v1/accounts", `name=Evil`,
			http.Header{"Origin": {evil}, "Content-Type": {"application/x-www-form-urlencoded"}}, "origin " + evil + " is not allowed"},
		{"referer of another origin", http.MethodPost, "/api/v1/accounts", `{"name":"Evil"}`,
			http.Header{"Referer": {evil + "/page"}, "Content-Type": {"application/json"}}, "origin " + evil + " is not allowed"},
		{"no origin", http.MethodPost, "/api/v1/accounts", `{"name":"Evil"}`,
			http.Header{"Content-Type": {"application/json"}}, "no Origin or Referer header"},
		{"text from the allowed origin", http.MethodPost, "/api/v1/accounts", `{"name":"Evil"}`,
			http.Header{"Origin": {allowedOrigin}, "Content-Type": {"text/plain"}}, "Content-Type must be application/json"},
		{"rename from another origin", http.MethodPatch, path, `{"name":"Evil"}`,
			http.Header{"Origin": {evil}, "Content-Type": {"application/json"}}, "origin " + evil + " is not allowed"},
		{"delete from another origin", http.MethodDelete, path, ``,
			http.Header{"Origin": {evil}, "Content-Type": {"application/json"}}, "origin " + evil + " is not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.header.Set("Cookie", cookie)
			code, st := s.rawRequest(t, tc.method, tc.path, tc.body, tc.header)
			require.Equal(t, http.StatusForbidden, code)
			require.Equal(t, int32(codes.PermissionDenied), st.GetCode())
			require.Equal(t, "cross-site request refused: "+tc.reason, st.GetMessage())
		})
	}

	page, err := app.accounts.ListAccounts(ctx, &groundworkv1.ListAccountsRequest{})
	require.NoError(t, err)
	requireSameAccounts(t, []*groundworkv1.Account{mine.GetAccount()}, page.GetAccounts())
	live, all := s.accountCounts(t, browser.IdentityID)
	require.Equal(t, [2]int{1, 1}, [2]int{live, all})

	// A browser that sends only a Referer of the allowed origin is let through.
	code, st := s.rawRequest(t, http.MethodPost, "/api/v1/accounts", `{"name":"Via Referer"}`, http.Header{
		"Cookie": {cookie}, "Referer": {allowedOrigin + "/accounts"}, "Content-Type": {"application/json"},
	})
	require.Equal(t, http.StatusOK, code, "%v", st)
}

// TestMessageLimits: a request larger than --max-message-size is refused
// before it reaches the API (RESOURCE_EXHAUSTED; 413 over JSON).
func TestMessageLimits(t *testing.T) {
	t.Parallel()
	k := kratostest.Shared(t)
	s := startServer(t, serverOptions{kratos: k})
	_, ss := registerAPI(t, k)
	c := s.grpcClient(t, "x-session-token", ss.Token)

	_, err := c.accounts.CreateAccount(t.Context(), &groundworkv1.CreateAccountRequest{Name: strings.Repeat("x", maxMessageSize)})
	st := requireCode(t, err, codes.ResourceExhausted)
	require.Contains(t, st.Message(), "received message larger than max", "refused by the server, not the client")

	body := `{"name":"` + strings.Repeat("x", maxMessageSize) + `"}`
	code, jst := s.rawRequest(t, http.MethodPost, "/api/v1/accounts", body, http.Header{
		"X-Session-Token": {ss.Token}, "Content-Type": {"application/json"},
	})
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.Equal(t, int32(codes.ResourceExhausted), jst.GetCode())

	page, err := c.accounts.ListAccounts(t.Context(), &groundworkv1.ListAccountsRequest{})
	require.NoError(t, err)
	require.Empty(t, page.GetAccounts())
}

// TestMutualTLS: the gRPC port refuses a client without a certificate of
// server-ca in the handshake, before any credential is looked at.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	k := kratostest.Shared(t)
	s := startServer(t, serverOptions{kratos: k})
	_, ss := registerAPI(t, k)

	for secret, want := range map[string]string{
		"":                       "certificate required",
		tlsfilestest.OtherClient: "unknown certificate authority",
	} {
		cfg := s.clientTLS(t, secret)
		cfg.NextProtos = []string{"h2"}
		require.ErrorContains(t, handshake(t, s.grpcAddr, cfg), want, "client certificate %q", secret)

		// A valid session does not help: there is no connection.
		conn := s.dial(t, secret, grpc.WithPerRPCCredentials(tokenCreds{"x-session-token", ss.Token}))
		_, err := groundworkv1.NewUserServiceClient(conn).GetMe(t.Context(), &groundworkv1.GetMeRequest{})
		requireCode(t, err, codes.Unavailable, "client certificate ", secret)
	}

	cfg := s.clientTLS(t, tlsfilestest.TestClient)
	cfg.NextProtos = []string{"h2"}
	require.NoError(t, handshake(t, s.grpcAddr, cfg))
	_, err := s.grpcClient(t, "x-session-token", ss.Token).users.GetMe(t.Context(), &groundworkv1.GetMeRequest{})
	require.NoError(t, err)
}

// handshake connects with TLS and reads once: a TLS 1.3 client learns only
// then that the server refused its certificate (the server speaks first in
// HTTP/2, so the read succeeds on an accepted connection).
func handshake(t *testing.T, addr string, cfg *tls.Config) error {
	t.Helper()
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Read(make([]byte, 1))
	return err
}
