package transport_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles/tlsfilestest"
	"github.com/groundwork-dev/groundwork/server/internal/transport"
)

// handshake connects with TLS and reads once, which is when a TLS 1.3
// client learns that the server refused its certificate.
func handshake(t *testing.T, addr string, cfg *tls.Config) (*tls.ConnectionState, error) {
	t.Helper()
	cfg.NextProtos = []string{"h2"}
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	tc := c.(*tls.Conn)
	// The server speaks first in HTTP/2 (its SETTINGS frame): a read
	// succeeds only on an accepted connection.
	if _, err := tc.Read(make([]byte, 1)); err != nil {
		return nil, err
	}
	st := tc.ConnectionState()
	return &st, nil
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	addr := b.grpc.Addr().String()

	t.Run("no client certificate is refused", func(t *testing.T) {
		_, err := handshake(t, addr, b.clientTLS(t, ""))
		require.ErrorContains(t, err, "certificate required")

		_, err = healthgrpc.NewHealthClient(b.dial(t, "")).Check(t.Context(), &healthgrpc.HealthCheckRequest{})
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	})
	t.Run("client certificate from another CA is refused", func(t *testing.T) {
		_, err := handshake(t, addr, b.clientTLS(t, tlsfilestest.OtherClient))
		require.ErrorContains(t, err, "unknown certificate authority")

		_, err = healthgrpc.NewHealthClient(b.dial(t, tlsfilestest.OtherClient)).Check(t.Context(), &healthgrpc.HealthCheckRequest{})
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	})
	t.Run("server certificate is not a client certificate", func(t *testing.T) {
		// Issued by server-ca, but for server authentication only.
		_, err := handshake(t, addr, b.clientTLS(t, tlsfilestest.GRPCServer))
		require.Error(t, err)
	})
	t.Run("TLS 1.2 is refused", func(t *testing.T) {
		cfg := b.clientTLS(t, tlsfilestest.TestClient)
		cfg.MaxVersion = tls.VersionTLS12
		_, err := handshake(t, addr, cfg)
		require.ErrorContains(t, err, "protocol version")
	})
	t.Run("valid client certificate works", func(t *testing.T) {
		st, err := handshake(t, addr, b.clientTLS(t, tlsfilestest.TestClient))
		require.NoError(t, err)
		require.Equal(t, uint16(tls.VersionTLS13), st.Version)

		resp, err := healthgrpc.NewHealthClient(b.dial(t, tlsfilestest.TestClient)).Check(t.Context(), &healthgrpc.HealthCheckRequest{})
		require.NoError(t, err)
		require.Equal(t, healthgrpc.HealthCheckResponse_SERVING, resp.GetStatus())
	})
}

// TestEveryMethodRequiresAuthentication calls every method of every
// registered service, found through the server itself, without
// credentials. The real generated services are registered (with their
// Unimplemented stubs), so a method added to a proto is covered without
// touching this test.
func TestEveryMethodRequiresAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{services: &transport.Services{
		User:    groundworkv1.UnimplementedUserServiceServer{},
		Account: groundworkv1.UnimplementedAccountServiceServer{},
	}, reflection: true})
	conn := b.dial(t, tlsfilestest.TestClient)

	call := func(ctx context.Context, method string, info grpc.MethodInfo) error {
		if !info.IsClientStream && !info.IsServerStream {
			return conn.Invoke(ctx, method, &emptypb.Empty{}, &emptypb.Empty{})
		}
		s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: info.IsServerStream, ClientStreams: info.IsClientStream}, method)
		if err != nil {
			return err
		}
		if err := s.SendMsg(&emptypb.Empty{}); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if err := s.CloseSend(); err != nil {
			return err
		}
		return s.RecvMsg(&emptypb.Empty{})
	}

	services := b.grpc.ServiceInfo()
	require.Contains(t, services, groundworkv1.UserService_ServiceDesc.ServiceName)
	require.Contains(t, services, groundworkv1.AccountService_ServiceDesc.ServiceName)
	require.Contains(t, services, healthgrpc.Health_ServiceDesc.ServiceName)
	require.Contains(t, services, reflectionv1.ServerReflection_ServiceDesc.ServiceName)
	require.Contains(t, services, reflectionv1alpha.ServerReflection_ServiceDesc.ServiceName)
	checked := 0
	for name, svc := range services {
		for _, m := range svc.Methods {
			method := "/" + name + "/" + m.Name
			t.Run(method, func(t *testing.T) {
				if name == healthgrpc.Health_ServiceDesc.ServiceName {
					// The one exemption: reachable without a session.
					ctx, cancel := context.WithCancel(t.Context())
					defer cancel()
					if m.IsServerStream {
						s, err := healthgrpc.NewHealthClient(conn).Watch(ctx, &healthgrpc.HealthCheckRequest{})
						require.NoError(t, err)
						resp, err := s.Recv()
						require.NoError(t, err)
						require.Equal(t, healthgrpc.HealthCheckResponse_SERVING, resp.GetStatus())
						return
					}
					err := call(ctx, method, m)
					require.NotEqual(t, codes.Unauthenticated, status.Code(err), "%v", err)
					return
				}
				if strings.HasPrefix(name, "grpc.reflection.") {
					// The other exemption: the schema, without a session.
					require.Equal(t, []string{
						"groundwork.v1.AccountService", "groundwork.v1.UserService", "grpc.health.v1.Health",
						"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
					}, listByReflection(t, conn, name))
					return
				}
				err := call(t.Context(), method, m)
				require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
				require.Equal(t, "unauthenticated: no valid session", status.Convert(err).Message())

				// With a session the call reaches the (unimplemented) method.
				err = call(withToken(t.Context(), goodToken), method, m)
				require.Equal(t, codes.Unimplemented, status.Code(err), "%v", err)
			})
			checked++
		}
	}
	require.GreaterOrEqual(t, checked, 6+2+2, "UserService and AccountService have 6 methods, Health 2 (Check, Watch), reflection 1 per version, or more")
}

// listByReflection lists the services through server reflection version
// service (grpc.reflection.v1.ServerReflection or its v1alpha twin).
func listByReflection(t *testing.T, conn *grpc.ClientConn, service string) []string {
	t.Helper()
	stream, err := conn.NewStream(t.Context(), &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/"+service+"/ServerReflectionInfo")
	require.NoError(t, err)
	// v1 and v1alpha messages are the same on the wire.
	require.NoError(t, stream.SendMsg(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}))
	require.NoError(t, stream.CloseSend())
	var resp reflectionv1.ServerReflectionResponse
	require.NoError(t, stream.RecvMsg(&resp))
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	slices.Sort(names)
	return names
}

// Reflection is off unless configured (the prod overlay turns it off).
func TestReflectionOnlyWhenConfigured(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	require.NotContains(t, b.grpc.ServiceInfo(), reflectionv1.ServerReflection_ServiceDesc.ServiceName)
	conn := b.dial(t, tlsfilestest.TestClient)
	stream, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
	require.NoError(t, err)
	// The server may end the stream before the request is sent (Send then
	// says io.EOF); Recv has the status either way.
	if err := stream.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}); err != nil {
		require.ErrorIs(t, err, io.EOF)
	}
	_, err = stream.Recv()
	require.Equal(t, codes.Unimplemented, status.Code(err), "%v", err)
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	users := groundworkv1.NewUserServiceClient(b.dial(t, tlsfilestest.TestClient))

	t.Run("the user reaches the handler", func(t *testing.T) {
		resp, err := users.GetMe(withToken(t.Context(), goodToken), &groundworkv1.GetMeRequest{})
		require.NoError(t, err)
		require.Equal(t, userID, resp.GetUser().GetId())
		require.NotEmpty(t, b.logs.Lines("method=/groundwork.v1.UserService/GetMe", "code=OK", "user_id="+userID, "peer_cn=test-client", "peer=127.0.0.1:"))
	})
	t.Run("an undecidable session is UNAVAILABLE and the cause is logged, not sent", func(t *testing.T) {
		_, err := users.GetMe(withToken(t.Context(), brokenToken), &groundworkv1.GetMeRequest{})
		require.Equal(t, codes.Unavailable, status.Code(err))
		require.Equal(t, "authentication is unavailable, try again", status.Convert(err).Message())
		require.Len(t, b.logs.Lines("code=Unavailable", `auth_error="ask kratos: i/o timeout"`), 1, b.logs.String())
	})
	t.Run("Bearer authorization", func(t *testing.T) {
		ctx := metadataCtx(t.Context(), transport.MDAuthorization, "Bearer "+goodToken)
		_, err := users.GetMe(ctx, &groundworkv1.GetMeRequest{})
		require.NoError(t, err)
	})
}

// hiddenCause is an error whose status hides its cause from the client,
// as grpcerr's errors do.
type hiddenCause struct{}

func (hiddenCause) Error() string              { return "list accounts: connection refused" }
func (hiddenCause) GRPCStatus() *status.Status { return status.New(codes.Internal, "internal error") }

func TestTheCauseOfAnErrorIsLoggedNotSent(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	b.users.getMe = func(context.Context) (*groundworkv1.GetMeResponse, error) { return nil, hiddenCause{} }
	users := groundworkv1.NewUserServiceClient(b.dial(t, tlsfilestest.TestClient))
	_, err := users.GetMe(withToken(t.Context(), goodToken), &groundworkv1.GetMeRequest{})
	require.Equal(t, codes.Internal, status.Code(err))
	require.Equal(t, "internal error", status.Convert(err).Message())
	require.Len(t, b.logs.Lines("level=ERROR", "code=Internal", `error="internal error"`, `cause="list accounts: connection refused"`), 1, b.logs.String())

	// A plain status error has no cause beyond its message.
	b.users.getMe = func(context.Context) (*groundworkv1.GetMeResponse, error) {
		return nil, status.Error(codes.FailedPrecondition, "not yet")
	}
	_, err = users.GetMe(withToken(t.Context(), goodToken), &groundworkv1.GetMeRequest{})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
	line := b.logs.Lines("code=FailedPrecondition")
	require.Len(t, line, 1)
	require.Contains(t, line[0], "level=INFO")
	require.NotContains(t, line[0], "cause=")
}

func TestHandlingTimeHistogramReachesTheDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	users := groundworkv1.NewUserServiceClient(b.dial(t, tlsfilestest.TestClient))
	_, err := users.GetMe(withToken(t.Context(), goodToken), &groundworkv1.GetMeRequest{})
	require.NoError(t, err)
	// A request cut off by the 30 s deadline must land in a bucket of its
	// own, not in "more than 10 s" (the library's default last bound), and
	// the latency SLO's 0.5 s threshold must be a bound.
	text := gatherText(t, b)
	for _, le := range []string{"0.5", "30", "60"} {
		require.Contains(t, text, `grpc_server_handling_seconds_bucket{grpc_method="GetMe",grpc_service="groundwork.v1.UserService",grpc_type="unary",le="`+le+`"} 1`)
	}
}

func TestPanicBecomesInternalAndServingGoesOn(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	b.users.getMe = func(context.Context) (*groundworkv1.GetMeResponse, error) {
		panic("handler bug")
	}
	users := groundworkv1.NewUserServiceClient(b.dial(t, tlsfilestest.TestClient))
	_, err := users.GetMe(withToken(t.Context(), goodToken), &groundworkv1.GetMeRequest{})
	require.Equal(t, codes.Internal, status.Code(err))
	require.Equal(t, "internal error", status.Convert(err).Message(), "no panic details leak")

	// Logged once, in the request line, with the stack.
	require.Len(t, b.logs.Lines(`panic="handler bug"`), 1, b.logs.String())
	line := b.logs.Lines(`panic="handler bug"`)[0]
	require.Contains(t, line, "level=ERROR")
	require.Contains(t, line, "code=Internal")
	require.Contains(t, line, "goroutine ")
	require.Contains(t, gatherText(t, b), "grpc_server_panics_recovered_total 1")
	require.Contains(t, gatherText(t, b), `grpc_server_handled_total{grpc_code="Internal",grpc_method="GetMe",grpc_service="groundwork.v1.UserService",grpc_type="unary"} 1`)

	// The process keeps serving.
	b.users.getMe = nil
	resp, err := users.GetMe(withToken(t.Context(), goodToken), &groundworkv1.GetMeRequest{})
	require.NoError(t, err)
	require.Equal(t, userID, resp.GetUser().GetId())
}

func TestPanicInAnInterceptorIsRecovered(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	b.auth.panicOn = "panic-token"
	users := groundworkv1.NewUserServiceClient(b.dial(t, tlsfilestest.TestClient))
	_, err := users.GetMe(withToken(t.Context(), "panic-token"), &groundworkv1.GetMeRequest{})
	require.Equal(t, codes.Internal, status.Code(err))
	require.Len(t, b.logs.Lines("panic in interceptor", `panic="authenticator bug"`), 1, b.logs.String())

	_, err = users.GetMe(withToken(t.Context(), goodToken), &groundworkv1.GetMeRequest{})
	require.NoError(t, err)
}

func TestOversizedMessagesAreResourceExhausted(t *testing.T) {
	t.Parallel()
	const limit = 16 << 10
	b := setup(t, setupOptions{maxMessageSize: limit})
	conn := b.dial(t, tlsfilestest.TestClient)
	ctx := withToken(t.Context(), goodToken)

	_, err := groundworkv1.NewAccountServiceClient(conn).CreateAccount(ctx,
		&groundworkv1.CreateAccountRequest{Name: strings.Repeat("x", limit+1)})
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	// grpc-go refuses it before the interceptors: the refusal is still
	// logged once and counted.
	require.Eventually(t, func() bool {
		return len(b.logs.Lines("rpc refused before the interceptors", "method=/groundwork.v1.AccountService/CreateAccount", "code=ResourceExhausted", "peer_cn=test-client")) == 1
	}, 5*time.Second, 10*time.Millisecond, "no log line for the refused request:\n%s", b.logs.String())
	require.Contains(t, gatherText(t, b),
		`grpc_server_refused_total{grpc_code="ResourceExhausted",grpc_method="CreateAccount",grpc_service="groundwork.v1.AccountService"} 1`)

	b.users.getMe = func(context.Context) (*groundworkv1.GetMeResponse, error) {
		return &groundworkv1.GetMeResponse{User: &groundworkv1.User{DisplayName: strings.Repeat("x", limit+1)}}, nil
	}
	_, err = groundworkv1.NewUserServiceClient(conn).GetMe(ctx, &groundworkv1.GetMeRequest{})
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "responses are limited too: %v", err)

	resp, err := groundworkv1.NewAccountServiceClient(conn).CreateAccount(ctx,
		&groundworkv1.CreateAccountRequest{Name: strings.Repeat("x", limit/2)})
	require.NoError(t, err, "below the limit")
	require.Len(t, resp.GetAccount().GetName(), limit/2)
}

func TestDefaultDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{defaultTimeout: 42 * 1e9})
	deadlines := make(chan bool, 2)
	b.users.getMe = func(ctx context.Context) (*groundworkv1.GetMeResponse, error) {
		_, ok := ctx.Deadline()
		deadlines <- ok
		return &groundworkv1.GetMeResponse{}, nil
	}
	users := groundworkv1.NewUserServiceClient(b.dial(t, tlsfilestest.TestClient))
	_, err := users.GetMe(withToken(context.Background(), goodToken), &groundworkv1.GetMeRequest{})
	require.NoError(t, err)
	require.True(t, <-deadlines, "an RPC without a deadline gets the default one")
}

func TestServerCertificateRotation(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	addr := b.grpc.Addr().String()
	before := b.tree.Cert(t, tlsfilestest.GRPCServer)

	st, err := handshake(t, addr, b.clientTLS(t, tlsfilestest.TestClient))
	require.NoError(t, err)
	require.Equal(t, before.SerialNumber, st.PeerCertificates[0].SerialNumber)

	conn := b.dial(t, tlsfilestest.TestClient)
	users := groundworkv1.NewUserServiceClient(conn)
	_, err = users.GetMe(withToken(t.Context(), goodToken), &groundworkv1.GetMeRequest{})
	require.NoError(t, err)

	renewed := b.tree.Reissue(t, tlsfilestest.GRPCServer)
	b.clock.Advance(2 * tlsfiles.DefaultInterval)

	st, err = handshake(t, addr, b.clientTLS(t, tlsfilestest.TestClient))
	require.NoError(t, err)
	require.Equal(t, renewed.SerialNumber, st.PeerCertificates[0].SerialNumber, "a new connection sees the renewed certificate")

	_, err = users.GetMe(withToken(t.Context(), goodToken), &groundworkv1.GetMeRequest{})
	require.NoError(t, err, "the open connection goes on")
}

func TestGracefulStopFinishesInFlightRPC(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	started, release := make(chan struct{}), make(chan struct{})
	b.accounts.getAccount = func(context.Context, string) (*groundworkv1.GetAccountResponse, error) {
		close(started)
		<-release
		return &groundworkv1.GetAccountResponse{Account: &groundworkv1.Account{Id: "a1"}}, nil
	}
	conn := b.dial(t, tlsfilestest.TestClient)
	watch, err := healthgrpc.NewHealthClient(conn).Watch(t.Context(), &healthgrpc.HealthCheckRequest{})
	require.NoError(t, err)
	first, err := watch.Recv()
	require.NoError(t, err)
	require.Equal(t, healthgrpc.HealthCheckResponse_SERVING, first.GetStatus())

	type result struct {
		resp *groundworkv1.GetAccountResponse
		err  error
	}
	rpc := make(chan result, 1)
	go func() {
		resp, err := groundworkv1.NewAccountServiceClient(conn).GetAccount(withToken(context.Background(), goodToken),
			&groundworkv1.GetAccountRequest{Id: "a1"})
		rpc <- result{resp, err}
	}()
	<-started

	stopped := make(chan error, 1)
	go func() { stopped <- b.grpc.Stop(context.Background()) }()

	// Stop first reports NOT_SERVING, then ends health watches, which
	// would otherwise hold up the graceful stop.
	next, err := watch.Recv()
	require.NoError(t, err)
	require.Equal(t, healthgrpc.HealthCheckResponse_NOT_SERVING, next.GetStatus())
	for err == nil {
		_, err = watch.Recv()
	}
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned with an RPC in flight: %v", err)
	default:
	}

	close(release)
	res := <-rpc
	require.NoError(t, res.err, "the in-flight RPC finishes")
	require.Equal(t, "a1", res.resp.GetAccount().GetId())
	require.NoError(t, <-stopped)
	require.NoError(t, b.grpc.Stop(context.Background()), "a second Stop is harmless")

	_, err = net.Dial("tcp", b.grpc.Addr().String())
	require.Error(t, err, "no longer listening")
}

func TestStopCancelsRPCsWhenTheDeadlinePasses(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	started := make(chan struct{})
	b.accounts.getAccount = func(ctx context.Context, _ string) (*groundworkv1.GetAccountResponse, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	conn := b.dial(t, tlsfilestest.TestClient)
	rpc := make(chan error, 1)
	go func() {
		_, err := groundworkv1.NewAccountServiceClient(conn).GetAccount(withToken(context.Background(), goodToken),
			&groundworkv1.GetAccountRequest{Id: "a1"})
		rpc <- err
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.grpc.Stop(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "in-flight RPCs canceled")
	require.Error(t, <-rpc)
}

func TestRequestLogSampling(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{logSampling: transport.LogSampling{First: 2}})
	users := groundworkv1.NewUserServiceClient(b.dial(t, tlsfilestest.TestClient))
	call := func(token string, n int) {
		for range n {
			_, _ = users.GetMe(withToken(t.Context(), token), &groundworkv1.GetMeRequest{})
		}
	}
	call(goodToken, 10)
	call("forged", 3)    // UNAUTHENTICATED: INFO, counted apart from the successes
	call(brokenToken, 4) // UNAVAILABLE: WARN, never sampled

	const getMe = "method=/groundwork.v1.UserService/GetMe"
	ok := len(b.logs.Lines(getMe, "code=OK"))
	unauth := len(b.logs.Lines(getMe, "code=Unauthenticated"))
	// Two per second and kind: the calls take well under the 5 seconds
	// that it would take for every success to be written.
	require.GreaterOrEqual(t, ok, 2, b.logs.String())
	require.Less(t, ok, 10, b.logs.String())
	require.GreaterOrEqual(t, unauth, 2, b.logs.String())
	require.Len(t, b.logs.Lines(getMe, "code=Unavailable", "level=WARN"), 4, b.logs.String())

	dropped := fmt.Sprintf(`grpc_server_log_lines_sampled_out_total{grpc_method="GetMe",grpc_service="groundwork.v1.UserService"} %d`, 10-ok+3-unauth)
	require.Contains(t, gatherText(t, b), dropped)
}
