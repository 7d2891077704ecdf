package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/groundwork-dev/groundwork/internal/shared/logtest"
	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/ops"
	"github.com/groundwork-dev/groundwork/server/internal/requesttest"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles/tlsfilestest"
	"github.com/groundwork-dev/groundwork/server/internal/transport"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const token = "good-token"

// tokenAuth accepts one session token.
type tokenAuth struct{}

func (tokenAuth) Authenticate(_ context.Context, md metadata.MD) (identity.User, error) {
	for _, v := range md.Get(transport.MDSessionToken) {
		if v == token {
			return identity.User{ID: "u1"}, nil
		}
	}
	return identity.User{}, fmt.Errorf("%w: no session", transport.ErrUnauthenticated)
}

// slowUsers answers GetMe, first waiting for release when block is set.
type slowUsers struct {
	groundworkv1.UnimplementedUserServiceServer
	block            atomic.Bool
	started, release chan struct{}
}

func (s *slowUsers) GetMe(ctx context.Context, _ *groundworkv1.GetMeRequest) (*groundworkv1.GetMeResponse, error) {
	if s.block.Load() {
		close(s.started)
		<-s.release
	}
	u, err := identity.From(ctx)
	if err != nil {
		return nil, err
	}
	return &groundworkv1.GetMeResponse{User: &groundworkv1.User{Id: u.ID}}, nil
}

// testBundle is a running `server serve`.
type testBundle struct {
	tree   tlsfilestest.Tree
	users  *slowUsers
	closed chan struct{} // closed by API.Close
	stderr *logtest.Buffer
	addrs  Addrs
	cancel context.CancelFunc
	done   chan struct{} // closed when serve has returned
	code   int           // its exit code, once done
}

// env is a complete environment for serve with free ports.
func env(tree tlsfilestest.Tree, databaseURL string) map[string]string {
	srv, gw := tree.Paths(tlsfilestest.GRPCServer), tree.Paths(tlsfilestest.GatewayClient)
	return map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "GATEWAY_ADDR": "127.0.0.1:0", "OPS_ADDR": "127.0.0.1:0",
		"DATABASE_URL":  databaseURL,
		"GRPC_TLS_CERT": srv.Cert, "GRPC_TLS_KEY": srv.Key, "GRPC_CLIENT_CA": srv.CA,
		"GATEWAY_TLS_CERT": gw.Cert, "GATEWAY_TLS_KEY": gw.Key, "GATEWAY_SERVER_CA": gw.CA,
		"LOG_FORMAT": "json", "LOG_LEVEL": "debug",
	}
}

// start runs serve with the fake API and waits until it listens.
func start(t *testing.T, envm map[string]string, tree tlsfilestest.Tree) *testBundle {
	t.Helper()
	return startWith(t, envm, tree, nil)
}

// startWith runs serve with build, or the fake API when build is nil.
func startWith(t *testing.T, envm map[string]string, tree tlsfilestest.Tree, build BuildFunc) *testBundle {
	t.Helper()
	return startWithOptions(t, envm, tree, build, options{})
}

// startWithOptions is startWith with further seams set in o.
func startWithOptions(t *testing.T, envm map[string]string, tree tlsfilestest.Tree, build BuildFunc, o options) *testBundle {
	t.Helper()
	b := &testBundle{
		tree: tree, users: &slowUsers{started: make(chan struct{}), release: make(chan struct{})},
		closed: make(chan struct{}), stderr: &logtest.Buffer{}, done: make(chan struct{}),
	}
	fake := func(_ context.Context, d Deps) (API, error) {
		if d.Pool == nil || d.Logger == nil || d.Registerer == nil {
			return API{}, errors.New("incomplete deps")
		}
		return API{
			Services:      transport.Services{User: b.users, Account: groundworkv1.UnimplementedAccountServiceServer{}},
			Authenticator: tokenAuth{},
			Checks:        []ops.Checker{ops.Check("kratos", func(context.Context) error { return nil })},
			OpsHandlers: map[string]http.Handler{"POST /hook": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusNoContent)
			})},
			Close: func() { close(b.closed) },
		}, nil
	}
	if build == nil {
		build = fake
	}
	started := make(chan Addrs, 1)
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go func() {
		defer close(b.done)
		o.build, o.started = build, func(a Addrs) { started <- a }
		b.code = run(ctx, []string{"serve"}, func(k string) string { return envm[k] }, io.Discard, b.stderr, o)
	}()
	t.Cleanup(func() {
		cancel()
		<-b.done
	})
	select {
	case b.addrs = <-started:
	case <-b.done:
		t.Fatalf("serve exited with %d before listening:\n%s", b.code, b.stderr.String())
	}
	return b
}

// exit waits for serve to return and gives its exit code.
func (b *testBundle) exit() int {
	<-b.done
	return b.code
}

func (b *testBundle) get(t *testing.T, base net.Addr, path string, header map[string]string) (int, string) {
	t.Helper()
	return requesttest.Get(t, "http://"+base.String()+path, header)
}

func (b *testBundle) dial(t *testing.T) *grpc.ClientConn {
	t.Helper()
	p := b.tree.Paths(tlsfilestest.TestClient)
	kp, err := tls.LoadX509KeyPair(p.Cert, p.Key)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(p.CA)
	require.NoError(t, err)
	roots.AppendCertsFromPEM(caPEM)
	conn, err := grpc.NewClient("passthrough:///"+b.addrs.GRPC.String(), grpc.WithTransportCredentials(credentials.NewTLS(
		&tls.Config{Certificates: []tls.Certificate{kp}, RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS13})))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitHealth reads a health watch until it reports want.
func waitHealth(t *testing.T, w grpc.ServerStreamingClient[healthgrpc.HealthCheckResponse], want healthgrpc.HealthCheckResponse_ServingStatus) {
	t.Helper()
	for {
		resp, err := w.Recv()
		require.NoError(t, err)
		if resp.GetStatus() == want {
			return
		}
	}
}

func TestServeRunsAndShutsDownInOrder(t *testing.T) {
	t.Parallel()
	tree := tlsfilestest.New(t)
	db := pgtest.New(t)
	b := start(t, env(tree, db.URL), tree)

	// Ops.
	code, body := b.get(t, b.addrs.Ops, "/healthz", nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)
	code, body = b.get(t, b.addrs.Ops, "/readyz", nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "[+]database ok\n[+]kratos ok\nready\n", body)

	resp, err := http.Post("http://"+b.addrs.Ops.String()+"/hook", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "the API's ops routes are mounted")

	// gRPC health follows readiness.
	conn := b.dial(t)
	watch, err := healthgrpc.NewHealthClient(conn).Watch(t.Context(), &healthgrpc.HealthCheckRequest{})
	require.NoError(t, err)
	waitHealth(t, watch, healthgrpc.HealthCheckResponse_SERVING)

	// The gateway reaches the gRPC server over mTLS.
	code, body = b.get(t, b.addrs.Gateway, "/api/v1/me", map[string]string{"X-Session-Token": token})
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"user":{"id":"u1","email":"","displayName":"","createTime":null,"updateTime":null}}`, body)

	code, body = b.get(t, b.addrs.Ops, "/metrics", nil)
	require.Equal(t, http.StatusOK, code)
	for _, m := range []string{
		`grpc_server_handled_total{grpc_code="OK",grpc_method="GetMe",grpc_service="groundwork.v1.UserService",grpc_type="unary"} 1`,
		`grpc_server_handling_seconds_bucket{grpc_method="GetMe"`,
		`grpc_server_started_total{grpc_method="ListAccounts"`, // every method, before its first call
		"grpc_server_panics_recovered_total 0",
		"pgxpool_total_conns", "pgxpool_acquires_total",
		"go_goroutines", "process_resident_memory_bytes",
	} {
		require.Contains(t, body, m)
	}

	// A request in flight when SIGTERM arrives.
	b.users.block.Store(true)
	type result struct {
		code int
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+b.addrs.Gateway.String()+"/api/v1/me", nil)
		req.Header.Set("X-Session-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			inflight <- result{err: err}
			return
		}
		resp.Body.Close()
		inflight <- result{code: resp.StatusCode}
	}()
	<-b.users.started
	b.cancel()

	// First step: not ready, on the gRPC health service and on /readyz,
	// while the request is still in flight.
	waitHealth(t, watch, healthgrpc.HealthCheckResponse_NOT_SERVING)
	code, body = b.get(t, b.addrs.Ops, "/readyz", nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "[-]serving failed")
	select {
	case <-b.closed:
		t.Fatal("the API was closed before the in-flight request finished")
	default:
	}

	close(b.users.release)
	r := <-inflight
	require.NoError(t, r.err)
	require.Equal(t, http.StatusOK, r.code, "the in-flight request finishes")
	require.Equal(t, ExitOK, b.exit(), b.stderr.String())
	<-b.closed

	logs := b.stderr.String()
	require.Contains(t, logs, `"msg":"serving"`)
	require.Contains(t, logs, `"msg":"shutting down"`)
	require.Contains(t, logs, `"msg":"stopped"`)
	require.NotContains(t, logs, "sslkey", "the database URL is never logged")
	require.Less(t, strings.Index(logs, `"msg":"shutting down"`), strings.Index(logs, `"msg":"stopped"`))
	_, err = net.Dial("tcp", b.addrs.Gateway.String())
	require.Error(t, err, "gateway closed")
	_, err = net.Dial("tcp", b.addrs.Ops.String())
	require.Error(t, err, "ops closed")
}

func TestServeStartsNotReadyWhenTheDatabaseIsDown(t *testing.T) {
	t.Parallel()
	tree := tlsfilestest.New(t)
	db := pgtest.New(t)
	// The right certificates, but nothing listens at the address.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := lis.Addr().String()
	require.NoError(t, lis.Close())
	u, err := url.Parse(db.URL)
	require.NoError(t, err)
	u.Host = closedAddr

	b := start(t, env(tree, u.String()), tree)
	code, body := b.get(t, b.addrs.Ops, "/readyz", nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "[-]database failed: PostgreSQL unreachable: nothing listens on "+closedAddr)
	require.Contains(t, body, "[+]kratos ok")
	code, _ = b.get(t, b.addrs.Ops, "/healthz", nil)
	require.Equal(t, http.StatusOK, code, "alive though not ready")
	require.Contains(t, b.stderr.String(), "database not reachable yet")

	b.cancel()
	require.Equal(t, ExitOK, b.exit())
}

// TestServeWithTheRealAPI runs BuildAPI, the production wiring, against a
// Kratos that is not there: the process serves, is not ready (kratos
// check), refuses a request without credentials before any handler, and
// serves Kratos's web hook on the ops port.
func TestServeWithTheRealAPI(t *testing.T) {
	t.Parallel()
	tree := tlsfilestest.New(t)
	db := pgtest.New(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	kratos := "http://" + lis.Addr().String()
	require.NoError(t, lis.Close())
	e := env(tree, db.URL)
	e["KRATOS_PUBLIC_URL"] = kratos
	e["KRATOS_HOOK_KEY"] = strings.Repeat("k", 40)
	b := startWith(t, e, tree, BuildAPI)

	code, body := b.get(t, b.addrs.Ops, "/readyz", nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "[+]database ok")
	require.Contains(t, body, "[-]kratos failed")

	code, body = b.get(t, b.addrs.Gateway, "/api/v1/me", nil)
	require.Equal(t, http.StatusUnauthorized, code, body)
	code, body = b.get(t, b.addrs.Gateway, "/api/v1/me", map[string]string{"X-Session-Token": "some-token"})
	require.Equal(t, http.StatusServiceUnavailable, code, "Kratos down is UNAVAILABLE, not UNAUTHENTICATED: %s", body)

	resp, err := http.Post("http://"+b.addrs.Ops.String()+KratosHookPath, "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the hook route exists and wants its key")

	b.cancel()
	require.Equal(t, ExitOK, b.exit(), b.stderr.String())
}

func TestServeFailsOnBadFiles(t *testing.T) {
	t.Parallel()
	tree := tlsfilestest.New(t)
	db := pgtest.New(t)
	for name, tc := range map[string]struct {
		change func(map[string]string)
		want   string
	}{
		"missing server certificate": {
			func(e map[string]string) { e["GRPC_TLS_CERT"] = tree.Dir + "/nope.crt" },
			"gRPC server certificate (--grpc-tls-cert, --grpc-tls-key)",
		},
		"gateway CA not a certificate": {
			func(e map[string]string) { e["GATEWAY_SERVER_CA"] = tree.Paths(tlsfilestest.GatewayClient).Key },
			"gateway server CA (--gateway-server-ca)",
		},
		"database certificate of another role": {
			func(e map[string]string) {
				e["DATABASE_URL"] = strings.Replace(db.URL, "db-server-tls", "db-kratos-tls", 2)
			},
			`database (--database-url): database URL: sslcert`,
		},
		"address in use": {
			func(e map[string]string) {
				e["GATEWAY_ADDR"] = db.URL[strings.Index(db.URL, "@")+1 : strings.LastIndex(db.URL, "/")]
			},
			"gateway: listen on",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := env(tree, db.URL)
			tc.change(e)
			var stderr logtest.Buffer
			code := run(t.Context(), []string{"serve"}, func(k string) string { return e[k] }, io.Discard, &stderr,
				options{build: func(context.Context, Deps) (API, error) {
					return API{Services: transport.Services{
						User: groundworkv1.UnimplementedUserServiceServer{}, Account: groundworkv1.UnimplementedAccountServiceServer{},
					}, Authenticator: tokenAuth{}}, nil
				}})
			require.Equal(t, ExitFailed, code, stderr.String())
			require.Contains(t, stderr.String(), tc.want)
			require.Contains(t, stderr.String(), `"msg":"server failed"`)
		})
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args     []string
		code     int
		stdout   string
		stderr   string
		noEnvDSN bool
	}{
		{nil, ExitUsage, "", "usage: server <command>", false},
		{[]string{"help"}, ExitOK, "usage: server <command>", "", false},
		{[]string{"version"}, ExitOK, "server devel (revision ", "", false},
		{[]string{"metrics-proxy"}, ExitUsage, "", "server metrics-proxy: --upstream (METRICS_PROXY_UPSTREAM): required", false},
		{[]string{"metrics-proxy", "--upstream", "http://user:pw@127.0.0.1:4434/m"}, ExitUsage, "", "must not carry credentials", false},
		{[]string{"metrics-proxy", "--upstream", "ftp://x/m"}, ExitUsage, "", "want an http(s) URL with a host", false},
		{[]string{"migrate"}, ExitUsage, "", `server: unknown command "migrate"`, false},
		{[]string{"serve", "-h"}, ExitOK, "", "Usage: server serve [flags]", false},
		{[]string{"serve"}, ExitUsage, "", "server serve: --database-url (DATABASE_URL): required", true},
		{[]string{"serve", "--log-format", "xml"}, ExitUsage, "", `server serve: --log-format (LOG_FORMAT): must be "text" or "json"`, true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := Run(t.Context(), tc.args, func(string) string { return "" }, &stdout, &stderr)
			require.Equal(t, tc.code, code, stderr.String())
			require.Contains(t, stdout.String(), tc.stdout)
			require.Contains(t, stderr.String(), tc.stderr)
			if tc.noEnvDSN {
				require.Contains(t, stderr.String(), "run 'server serve -h' for the flags")
			}
		})
	}
}

func TestDialAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"0.0.0.0:25000":   "127.0.0.1:25000",
		"[::]:25000":      "127.0.0.1:25000",
		"10.1.2.3:25000":  "10.1.2.3:25000",
		"127.0.0.1:25000": "127.0.0.1:25000",
	} {
		a, err := net.ResolveTCPAddr("tcp", in)
		require.NoError(t, err)
		require.Equal(t, want, dialAddr(a), in)
	}
}
