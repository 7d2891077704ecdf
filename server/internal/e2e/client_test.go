package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles/tlsfilestest"
)

// client is what a caller of the API holds: both services, bound to one
// credential over one transport. The gRPC and the JSON clients implement
// the same generated interfaces, so a scenario is written once and runs
// over both.
type client struct {
	users    groundworkv1.UserServiceClient
	accounts groundworkv1.AccountServiceClient
}

// --- gRPC -----------------------------------------------------------------

// tokenCreds puts a credential into one metadata key of every call.
type tokenCreds struct{ key, value string }

func (c tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{c.key: c.value}, nil
}

func (tokenCreds) RequireTransportSecurity() bool { return true }

// grpcClient connects with the test client certificate and sends value
// under the metadata key (nothing when key is empty) with every call.
func (s *server) grpcClient(t *testing.T, key, value string) client {
	t.Helper()
	var opts []grpc.DialOption
	if key != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(tokenCreds{key, value}))
	}
	conn := s.dial(t, tlsfilestest.TestClient, opts...)
	return client{users: groundworkv1.NewUserServiceClient(conn), accounts: groundworkv1.NewAccountServiceClient(conn)}
}

// --- HTTP/JSON --------------------------------------------------------------

// gateway calls the HTTP/JSON gateway the way the webapp and curl do. It
// implements the generated client interfaces: an answer other than 200
// becomes the status error its google.rpc.Status body describes, after
// checking that the HTTP status is grpc-gateway's mapping of its code.
type gateway struct {
	base   string
	http   *http.Client
	header func(*http.Request) // sets the credentials
}

var (
	_ groundworkv1.UserServiceClient    = (*gateway)(nil)
	_ groundworkv1.AccountServiceClient = (*gateway)(nil)
)

// jsonClient is a gateway client whose requests header sets credentials on.
func (s *server) jsonClient(t *testing.T, header func(*http.Request)) client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	g := &gateway{base: s.gatewayURL, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}, header: header}
	return client{users: g, accounts: g}
}

// withHeader sends a header with every request (a token client).
func withHeader(name, value string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

// withCookie is the webapp in a browser on the allowed origin: the session
// cookie among the site's other cookies, and on writes the Origin the
// browser adds and the JSON content type the webapp always sends.
func withCookie(session *http.Cookie) func(*http.Request) {
	return func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: "theme", Value: "dark"})
		r.AddCookie(session)
		if r.Method != http.MethodGet {
			r.Header.Set("Origin", allowedOrigin)
			r.Header.Set("Content-Type", "application/json")
		}
	}
}

func (g *gateway) GetMe(ctx context.Context, _ *groundworkv1.GetMeRequest, _ ...grpc.CallOption) (*groundworkv1.GetMeResponse, error) {
	return call(ctx, g, http.MethodGet, "/api/v1/me", nil, &groundworkv1.GetMeResponse{})
}

func (g *gateway) CreateAccount(ctx context.Context, in *groundworkv1.CreateAccountRequest, _ ...grpc.CallOption) (*groundworkv1.CreateAccountResponse, error) {
	return call(ctx, g, http.MethodPost, "/api/v1/accounts", map[string]string{"name": in.GetName()}, &groundworkv1.CreateAccountResponse{})
}

func (g *gateway) GetAccount(ctx context.Context, in *groundworkv1.GetAccountRequest, _ ...grpc.CallOption) (*groundworkv1.GetAccountResponse, error) {
	return call(ctx, g, http.MethodGet, "/api/v1/accounts/"+url.PathEscape(in.GetId()), nil, &groundworkv1.GetAccountResponse{})
}

func (g *gateway) ListAccounts(ctx context.Context, in *groundworkv1.ListAccountsRequest, _ ...grpc.CallOption) (*groundworkv1.ListAccountsResponse, error) {
	q := url.Values{}
	if in.GetPageSize() != 0 {
		q.Set("page_size", strconv.Itoa(int(in.GetPageSize())))
	}
	if in.GetPageToken() != "" {
		q.Set("page_token", in.GetPageToken())
	}
	path := "/api/v1/accounts"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return call(ctx, g, http.MethodGet, path, nil, &groundworkv1.ListAccountsResponse{})
}

func (g *gateway) UpdateAccount(ctx context.Context, in *groundworkv1.UpdateAccountRequest, _ ...grpc.CallOption) (*groundworkv1.UpdateAccountResponse, error) {
	return call(ctx, g, http.MethodPatch, "/api/v1/accounts/"+url.PathEscape(in.GetId()), map[string]string{"name": in.GetName()}, &groundworkv1.UpdateAccountResponse{})
}

func (g *gateway) DeleteAccount(ctx context.Context, in *groundworkv1.DeleteAccountRequest, _ ...grpc.CallOption) (*groundworkv1.DeleteAccountResponse, error) {
	return call(ctx, g, http.MethodDelete, "/api/v1/accounts/"+url.PathEscape(in.GetId()), nil, &groundworkv1.DeleteAccountResponse{})
}

func (g *gateway) CreateAccountExport(ctx context.Context, in *groundworkv1.CreateAccountExportRequest, _ ...grpc.CallOption) (*groundworkv1.CreateAccountExportResponse, error) {
	return call(ctx, g, http.MethodPost, exportsPath(in.GetAccountId()), map[string]string{}, &groundworkv1.CreateAccountExportResponse{})
}

func (g *gateway) GetAccountExport(ctx context.Context, in *groundworkv1.GetAccountExportRequest, _ ...grpc.CallOption) (*groundworkv1.GetAccountExportResponse, error) {
	return call(ctx, g, http.MethodGet, exportsPath(in.GetAccountId())+"/"+url.PathEscape(in.GetId()), nil, &groundworkv1.GetAccountExportResponse{})
}

func (g *gateway) DownloadAccountExport(ctx context.Context, in *groundworkv1.DownloadAccountExportRequest, _ ...grpc.CallOption) (*groundworkv1.DownloadAccountExportResponse, error) {
	return call(ctx, g, http.MethodGet, exportsPath(in.GetAccountId())+"/"+url.PathEscape(in.GetId())+"/content", nil, &groundworkv1.DownloadAccountExportResponse{})
}

func exportsPath(accountID string) string {
	return "/api/v1/accounts/" + url.PathEscape(accountID) + "/exports"
}

// call sends one request and decodes the answer into out (strictly: a
// field the client does not know fails).
func call[T proto.Message](ctx context.Context, g *gateway, method, path string, body any, out T) (T, error) {
	var zero T
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return zero, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, rd)
	if err != nil {
		return zero, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	g.header(req)
	resp, err := g.http.Do(req)
	if err != nil {
		return zero, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return zero, err
	}
	if resp.StatusCode != http.StatusOK {
		return zero, httpError(resp.StatusCode, b)
	}
	if err := protojson.Unmarshal(b, out); err != nil {
		return zero, fmt.Errorf("%s %s: decode %s: %w", method, path, b, err)
	}
	return out, nil
}

// httpError turns a gateway error answer into the status error it carries.
func httpError(httpStatus int, body []byte) error {
	st, err := decodeStatus(body)
	if err != nil {
		return fmt.Errorf("HTTP %d: %w", httpStatus, err)
	}
	code := codes.Code(st.GetCode())
	if want := runtime.HTTPStatusFromCode(code); httpStatus != want {
		return fmt.Errorf("HTTP %d for %s (%s), but grpc-gateway maps %s to %d", httpStatus, code, st.GetMessage(), code, want)
	}
	return status.ErrorProto(st)
}

// decodeStatus decodes a google.rpc.Status in JSON, details included.
func decodeStatus(body []byte) (*spb.Status, error) {
	var st spb.Status
	if err := protojson.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("body is no google.rpc.Status: %q: %w", body, err)
	}
	return &st, nil
}

// rawRequest sends a request to the gateway with exactly these headers and
// returns the HTTP status and the decoded error status (nil on 200).
func (s *server) rawRequest(t *testing.T, method, path, body string, header http.Header) (int, *spb.Status) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.gatewayURL+path, strings.NewReader(body))
	require.NoError(t, err)
	for name, v := range header {
		req.Header[name] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, nil
	}
	st, err := decodeStatus(b)
	require.NoError(t, err)
	return resp.StatusCode, st
}

// --- signing up -------------------------------------------------------------

// kind is one way of calling the API: a transport and a credential.
type kind struct {
	name string
	// signUp registers a new user the way such a client does (API flow
	// for tokens, browser flow for the cookie) and returns a client
	// acting for them.
	signUp func(t *testing.T, s *server, k *kratostest.Kratos) (client, kratostest.User, kratostest.Session)
}

// kinds are every way of calling the API.
var kinds = []kind{
	{"gRPC x-session-token", func(t *testing.T, s *server, k *kratostest.Kratos) (client, kratostest.User, kratostest.Session) {
		u, ss := registerAPI(t, k)
		return s.grpcClient(t, "x-session-token", ss.Token), u, ss
	}},
	{"gRPC authorization Bearer", func(t *testing.T, s *server, k *kratostest.Kratos) (client, kratostest.User, kratostest.Session) {
		u, ss := registerAPI(t, k)
		return s.grpcClient(t, "authorization", "Bearer "+ss.Token), u, ss
	}},
	{"JSON X-Session-Token", func(t *testing.T, s *server, k *kratostest.Kratos) (client, kratostest.User, kratostest.Session) {
		u, ss := registerAPI(t, k)
		return s.jsonClient(t, withHeader("X-Session-Token", ss.Token)), u, ss
	}},
	{"JSON Authorization Bearer", func(t *testing.T, s *server, k *kratostest.Kratos) (client, kratostest.User, kratostest.Session) {
		u, ss := registerAPI(t, k)
		return s.jsonClient(t, withHeader("Authorization", "Bearer "+ss.Token)), u, ss
	}},
	{"JSON browser cookie", func(t *testing.T, s *server, k *kratostest.Kratos) (client, kratostest.User, kratostest.Session) {
		u := kratostest.NewUser()
		ss := k.RegisterBrowser(t, u.Email, u.Name, u.Password)
		return s.jsonClient(t, withCookie(ss.Cookie)), u, ss
	}},
}

// registerAPI signs a new user up through Kratos's API flow.
func registerAPI(t *testing.T, k *kratostest.Kratos) (kratostest.User, kratostest.Session) {
	t.Helper()
	u := kratostest.NewUser()
	return u, k.Register(t, u.Email, u.Name, u.Password)
}

// --- assertions -------------------------------------------------------------

// requireCode checks err's gRPC status code.
func requireCode(t *testing.T, err error, code codes.Code, about ...any) *status.Status {
	t.Helper()
	where := fmt.Sprint(about...)
	require.Error(t, err, "%s: want %s", where, code)
	st, ok := status.FromError(err)
	require.True(t, ok, "%s: not a status error: %v", where, err)
	require.Equal(t, code, st.Code(), "%s: message: %s", where, st.Message())
	return st
}

// requireInvalid checks for INVALID_ARGUMENT naming field in the message
// and in a google.rpc.BadRequest field violation.
func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	st := requireCode(t, err, codes.InvalidArgument)
	require.True(t, strings.HasPrefix(st.Message(), field+": "), "message %q names %s", st.Message(), field)
	require.Len(t, st.Details(), 1, "one detail")
	br, ok := st.Details()[0].(*errdetails.BadRequest)
	require.True(t, ok, "detail is a google.rpc.BadRequest, got %T", st.Details()[0])
	require.Len(t, br.GetFieldViolations(), 1)
	require.Equal(t, field, br.GetFieldViolations()[0].GetField())
	require.NotEmpty(t, br.GetFieldViolations()[0].GetDescription())
}

// requireSameAccounts compares two lists of accounts, in order.
func requireSameAccounts(t *testing.T, want, got []*groundworkv1.Account) {
	t.Helper()
	format := func(accs []*groundworkv1.Account) string {
		var b strings.Builder
		for _, a := range accs {
			b.WriteString(protojson.Format(a) + "\n")
		}
		return b.String()
	}
	require.Equal(t, len(want), len(got), "want:\n%sgot:\n%s", format(want), format(got))
	for i := range want {
		require.True(t, proto.Equal(want[i], got[i]), "account %d:\nwant:\n%sgot:\n%s", i, format(want), format(got))
	}
}
