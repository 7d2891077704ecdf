package transport

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/groundwork-dev/groundwork/server/internal/identity"
)

// anyone authenticates every request as one user.
type anyone struct{}

func (anyone) Authenticate(context.Context, metadata.MD) (identity.User, error) {
	return identity.User{ID: "u1"}, nil
}

// testGuard is the inner end of the chain with an Authenticator that lets
// everyone in.
var testGuard = guard{timeout: time.Minute, auth: anyone{}, rec: recoverer{log: slog.New(slog.DiscardHandler), panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "p"})}}

// checked is a request message that validates itself.
type checked struct{ err error }

func (c *checked) Validate() error { return c.err }

func TestValidation(t *testing.T) {
	t.Parallel()
	info := &grpc.UnaryServerInfo{FullMethod: "/groundwork.v1.AccountService/CreateAccount"}
	reached := false
	handler := func(context.Context, any) (any, error) { reached = true; return "ok", nil }

	for _, tc := range []struct {
		name     string
		req      any
		wantCode codes.Code
		wantMsg  string
	}{
		{"valid", &checked{}, codes.OK, ""},
		{"no Validate method", struct{}{}, codes.OK, ""},
		{"invalid", &checked{err: errors.New("name: must not be empty")}, codes.InvalidArgument, "name: must not be empty"},
		{"status error kept", &checked{err: status.Error(codes.OutOfRange, "page_size: too large")}, codes.OutOfRange, "page_size: too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reached = false
			resp, err := testGuard.unary(context.Background(), tc.req, info, handler)
			require.Equal(t, tc.wantCode, status.Code(err))
			if tc.wantCode == codes.OK {
				require.True(t, reached)
				require.Equal(t, "ok", resp)
				return
			}
			require.False(t, reached, "the handler does not run")
			require.Equal(t, tc.wantMsg, status.Convert(err).Message())
		})
	}
}

// recvStream delivers one message.
type recvStream struct {
	grpc.ServerStream
	msg error
}

func (recvStream) Context() context.Context { return context.Background() }

func (s recvStream) RecvMsg(m any) error {
	m.(*checked).err = s.msg
	return nil
}

func TestValidationOfStreamedMessages(t *testing.T) {
	t.Parallel()
	err := testGuard.stream(nil, recvStream{msg: errors.New("id: malformed")}, &grpc.StreamServerInfo{FullMethod: "/groundwork.v1.AccountService/Watch"},
		func(_ any, ss grpc.ServerStream) error { return ss.RecvMsg(&checked{}) })
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Equal(t, "id: malformed", status.Convert(err).Message())
}

func TestOnlyHealthAndReflectionArePublic(t *testing.T) {
	t.Parallel()
	for _, m := range []string{
		"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch",
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
	} {
		require.True(t, public(m), m)
	}
	for _, m := range []string{
		"/groundwork.v1.UserService/GetMe", "/grpc.health.v1.HealthX/Check", "/grpc.health.v1/Health",
		"grpc.health.v1.Health", "", "/", "/grpc.reflection.v1.ServerReflection/", "/grpc.reflection.v2.ServerReflection/ServerReflectionInfo",
	} {
		require.False(t, public(m), m)
	}
}

func TestUnauthenticatedWrapper(t *testing.T) {
	t.Parallel()
	own := errors.New("unauthenticated")
	err := Unauthenticated(errors.Join(own, errors.New("session expired")))
	require.ErrorIs(t, err, ErrUnauthenticated)
	require.ErrorIs(t, err, own)
	require.Equal(t, "unauthenticated\nsession expired", err.Error())
}
