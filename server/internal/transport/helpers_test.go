package transport_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/groundwork-dev/groundwork/internal/shared/logtest"
	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/clocktest"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles/tlsfilestest"
	"github.com/groundwork-dev/groundwork/server/internal/transport"
)

// Credentials the fake authenticator knows.
const (
	goodToken  = "good-token"
	goodCookie = "ory_kratos_session=good-cookie"
	// brokenToken makes the authenticator fail as if Kratos were down.
	brokenToken = "kratos-is-down"
	userID      = "7d1c3c1e-2f9a-4c57-9d7f-0a1b2c3d4e5f"
)

// fakeAuth accepts goodToken (as x-session-token or a Bearer authorization)
// and goodCookie, and records the metadata it was given and the whole
// metadata of the last request.
type fakeAuth struct {
	mu       sync.Mutex
	last     metadata.MD
	lastFull metadata.MD
	// panicOn is a token that makes Authenticate panic.
	panicOn string
}

func (a *fakeAuth) Authenticate(ctx context.Context, md metadata.MD) (identity.User, error) {
	full, _ := metadata.FromIncomingContext(ctx)
	a.mu.Lock()
	a.last, a.lastFull = md.Copy(), full
	a.mu.Unlock()
	ok := false
	for _, v := range md.Get(transport.MDSessionToken) {
		ok = ok || v == goodToken
		if v == brokenToken {
			return identity.User{}, fmt.Errorf("ask kratos: %w", os.ErrDeadlineExceeded)
		}
		if a.panicOn != "" && v == a.panicOn {
			panic("authenticator bug")
		}
	}
	for _, v := range md.Get(transport.MDAuthorization) {
		ok = ok || v == "Bearer "+goodToken
	}
	for _, v := range md.Get(transport.MDCookie) {
		ok = ok || strings.Contains(v, goodCookie)
	}
	if !ok {
		return identity.User{}, fmt.Errorf("%w: no valid session", transport.ErrUnauthenticated)
	}
	return identity.User{ID: userID, Email: "ada@example.com"}, nil
}

func (a *fakeAuth) lastMD() metadata.MD {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

func (a *fakeAuth) lastRequestMD() metadata.MD {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastFull
}

// fakeUsers answers GetMe with the authenticated caller, or runs getMe.
type fakeUsers struct {
	groundworkv1.UnimplementedUserServiceServer
	getMe func(ctx context.Context) (*groundworkv1.GetMeResponse, error)
}

func (f *fakeUsers) GetMe(ctx context.Context, _ *groundworkv1.GetMeRequest) (*groundworkv1.GetMeResponse, error) {
	if f.getMe != nil {
		return f.getMe(ctx)
	}
	u, err := identity.From(ctx)
	if err != nil {
		return nil, err
	}
	return &groundworkv1.GetMeResponse{User: &groundworkv1.User{Id: u.ID, Email: u.Email}}, nil
}

// fakeAccounts echoes CreateAccount; GetAccount runs getAccount.
type fakeAccounts struct {
	groundworkv1.UnimplementedAccountServiceServer
	getAccount func(ctx context.Context, id string) (*groundworkv1.GetAccountResponse, error)
}

func (f *fakeAccounts) CreateAccount(ctx context.Context, req *groundworkv1.CreateAccountRequest) (*groundworkv1.CreateAccountResponse, error) {
	u, err := identity.From(ctx)
	if err != nil {
		return nil, err
	}
	return &groundworkv1.CreateAccountResponse{Account: &groundworkv1.Account{Id: "a1", OwnerId: u.ID, Name: req.GetName()}}, nil
}

func (f *fakeAccounts) GetAccount(ctx context.Context, req *groundworkv1.GetAccountRequest) (*groundworkv1.GetAccountResponse, error) {
	if f.getAccount != nil {
		return f.getAccount(ctx, req.GetId())
	}
	return nil, fmt.Errorf("unexpected call")
}

type testBundle struct {
	tree     tlsfilestest.Tree
	clock    *clocktest.Clock
	auth     *fakeAuth
	users    *fakeUsers
	accounts *fakeAccounts
	logs     *logtest.Buffer
	reg      *prometheus.Registry
	grpc     *transport.GRPCServer
	gateway  *transport.Gateway
}

type setupOptions struct {
	services       *transport.Services // default: the fakes
	maxMessageSize int
	defaultTimeout time.Duration
	logSampling    transport.LogSampling
	reflection     bool
}

// setup starts a gRPC server and a gateway on free ports with the test
// certificate tree, the fake authenticator and the fake services.
func setup(t *testing.T, o setupOptions) *testBundle {
	t.Helper()
	b := &testBundle{
		tree: tlsfilestest.New(t), clock: clocktest.New(), auth: &fakeAuth{},
		users: &fakeUsers{}, accounts: &fakeAccounts{}, logs: &logtest.Buffer{}, reg: prometheus.NewRegistry(),
	}
	if o.maxMessageSize == 0 {
		o.maxMessageSize = 64 << 10
	}
	if o.defaultTimeout == 0 {
		o.defaultTimeout = 30 * time.Second
	}
	services := transport.Services{User: b.users, Account: b.accounts}
	if o.services != nil {
		services = *o.services
	}
	log := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	files := tlsfiles.Options{Now: b.clock.Now, Logger: log}
	srvPaths := b.tree.Paths(tlsfilestest.GRPCServer)
	cert, err := tlsfiles.LoadKeyPair(srvPaths.Cert, srvPaths.Key, files)
	require.NoError(t, err)
	cas, err := tlsfiles.LoadCAPool(srvPaths.CA, files)
	require.NoError(t, err)

	b.grpc, err = transport.NewGRPCServer(transport.GRPCConfig{
		Addr: "127.0.0.1:0", Certificate: cert, ClientCAs: cas,
		Authenticator: b.auth, Services: services, Reflection: o.reflection,
		MaxMessageSize: o.maxMessageSize, DefaultTimeout: o.defaultTimeout,
		Logger: log, LogSampling: o.logSampling, Registerer: b.reg,
	})
	require.NoError(t, err)
	require.NoError(t, b.grpc.Start())
	t.Cleanup(func() { _ = b.grpc.Stop(context.Background()) })
	b.grpc.SetServing(true)

	gwPaths := b.tree.Paths(tlsfilestest.GatewayClient)
	gwCert, err := tlsfiles.LoadKeyPair(gwPaths.Cert, gwPaths.Key, files)
	require.NoError(t, err)
	gwCAs, err := tlsfiles.LoadCAPool(gwPaths.CA, files)
	require.NoError(t, err)
	b.gateway, err = transport.NewGateway(context.Background(), transport.GatewayConfig{
		Addr: "127.0.0.1:0", GRPCTarget: b.grpc.Addr().String(),
		ClientCertificate: gwCert, ServerCAs: gwCAs,
		AllowedOrigin: "http://127.0.0.1:8080", MaxMessageSize: o.maxMessageSize, Logger: log,
	})
	require.NoError(t, err)
	require.NoError(t, b.gateway.Start())
	t.Cleanup(func() { _ = b.gateway.Stop(context.Background()) })
	return b
}

// clientTLS is a TLS client configuration with the test client's
// certificate (or the named Secret's, or none for "").
func (b *testBundle) clientTLS(t testing.TB, secret string) *tls.Config {
	t.Helper()
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(b.tree.Paths(tlsfilestest.ServerCA).Cert)
	require.NoError(t, err)
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	c := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if secret != "" {
		p := b.tree.Paths(secret)
		kp, err := tls.LoadX509KeyPair(p.Cert, p.Key)
		require.NoError(t, err)
		// Sent whatever CAs the server names as acceptable, so that the
		// server, not the client, decides.
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &kp, nil }
	}
	return c
}

// dial returns a gRPC client connection presenting the named Secret's
// certificate.
func (b *testBundle) dial(t *testing.T, secret string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+b.grpc.Addr().String(),
		grpc.WithTransportCredentials(credentials.NewTLS(b.clientTLS(t, secret))))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, transport.MDSessionToken, token)
}

func metadataCtx(ctx context.Context, kv ...string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// gatherText returns the registry's metrics in the text exposition format.
func gatherText(t *testing.T, b *testBundle) string {
	t.Helper()
	mfs, err := b.reg.Gather()
	require.NoError(t, err)
	var buf bytes.Buffer
	for _, mf := range mfs {
		_, err := expfmt.MetricFamilyToText(&buf, mf)
		require.NoError(t, err)
	}
	return buf.String()
}
