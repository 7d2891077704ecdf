package transport_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles/tlsfilestest"
	"github.com/groundwork-dev/groundwork/server/internal/transport"
)

// BenchmarkTransport measures what the transport adds to an RPC — the
// interceptor chain (recovery, logging as JSON, metrics, deadline,
// authentication, validation) and the refusals stats handler — against
// plain grpc-go with the same TLS settings and the same service, both in
// this process, over mTLS on loopback. The service answers from memory, so
// the difference is the transport's alone; compare the sub-benchmarks'
// ns/op and allocs/op:
//
//	go test -run '^$' -bench Transport -benchmem -count 5 ./internal/transport/
//
// go tool mage bench:api measures the whole server against a bare one.
func BenchmarkTransport(b *testing.B) {
	tree := tlsfilestest.New(b)
	srvPaths := tree.Paths(tlsfilestest.GRPCServer)
	cert, err := tlsfiles.LoadKeyPair(srvPaths.Cert, srvPaths.Key, tlsfiles.Options{})
	require.NoError(b, err)
	cas, err := tlsfiles.LoadCAPool(srvPaths.CA, tlsfiles.Options{})
	require.NoError(b, err)
	// What the plain side serves: the certificate as loaded, TLS 1.3, a
	// client certificate required, as the real server's configuration.
	plainTLS := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{*cert.Certificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    cas.Pool(),
	}
	req := &groundworkv1.CreateAccountRequest{Name: "Household"}

	b.Run("plain", func(b *testing.B) {
		srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(plainTLS)))
		groundworkv1.RegisterAccountServiceServer(srv, benchAccounts{})
		addr := serveOn(b, srv)
		benchCreate(b, dialBench(b, tree, addr), req)
	})
	b.Run("chain", func(b *testing.B) {
		g, err := transport.NewGRPCServer(transport.GRPCConfig{
			Addr: "127.0.0.1:0", Certificate: cert, ClientCAs: cas,
			Authenticator: tokenAuth{}, Services: transport.Services{User: &fakeUsers{}, Account: benchAccounts{}},
			MaxMessageSize: 64 << 10, DefaultTimeout: 30 * time.Second,
			Logger:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
			Registerer: prometheus.NewRegistry(),
		})
		require.NoError(b, err)
		require.NoError(b, g.Start())
		b.Cleanup(func() { _ = g.Stop(context.Background()) })
		benchCreate(b, dialBench(b, tree, g.Addr().String()), req)
	})
}

func serveOn(b *testing.B, srv *grpc.Server) string {
	b.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(b, err)
	go func() { _ = srv.Serve(l) }()
	b.Cleanup(srv.Stop)
	return l.Addr().String()
}

func dialBench(b *testing.B, tree tlsfilestest.Tree, addr string) groundworkv1.AccountServiceClient {
	b.Helper()
	bundle := &testBundle{tree: tree}
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(credentials.NewTLS(bundle.clientTLS(b, tlsfilestest.TestClient))))
	require.NoError(b, err)
	b.Cleanup(func() { _ = conn.Close() })
	return groundworkv1.NewAccountServiceClient(conn)
}

func benchCreate(b *testing.B, c groundworkv1.AccountServiceClient, req *groundworkv1.CreateAccountRequest) {
	// A deadline, as the load harness's clients send: grpc-go makes the
	// server's deadline context on both sides, not the default-deadline
	// interceptor on one.
	ctx, cancel := context.WithTimeout(withToken(context.Background(), goodToken), time.Hour)
	defer cancel()
	_, err := c.CreateAccount(ctx, req)
	require.NoError(b, err)
	b.ReportAllocs()
	// Enough requests in flight to keep both sides busy, as under load.
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.CreateAccount(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchAccounts answers CreateAccount from memory, the same on both sides.
type benchAccounts struct {
	groundworkv1.UnimplementedAccountServiceServer
}

func (benchAccounts) CreateAccount(_ context.Context, req *groundworkv1.CreateAccountRequest) (*groundworkv1.CreateAccountResponse, error) {
	return &groundworkv1.CreateAccountResponse{Account: &groundworkv1.Account{Id: "a1", OwnerId: userID, Name: req.GetName()}}, nil
}

// tokenAuth accepts goodToken and nothing else, without recording anything
// (fakeAuth copies the metadata, which the real Verifier does not).
type tokenAuth struct{}

func (tokenAuth) Authenticate(_ context.Context, md metadata.MD) (identity.User, error) {
	if v := md.Get(transport.MDSessionToken); len(v) == 1 && v[0] == goodToken {
		return identity.User{ID: userID, Email: "ada@example.com"}, nil
	}
	return identity.User{}, transport.ErrUnauthenticated
}
