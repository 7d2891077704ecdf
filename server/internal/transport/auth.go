package transport

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"

	"github.com/groundwork-dev/groundwork/server/internal/identity"
)

// Metadata keys that carry credentials. The gateway forwards the HTTP
// headers of the same names under them; native gRPC clients set them
// directly.
const (
	// MDCookie holds the browser's Cookie header (the Kratos session cookie
	// among others). A request may carry several values, one per Cookie
	// header.
	MDCookie = "cookie"
	// MDSessionToken holds a Kratos session token (X-Session-Token).
	MDSessionToken = "x-session-token"
	// MDAuthorization holds "Bearer <Kratos session token>".
	MDAuthorization = "authorization"
)

// Authenticator decides who a request acts for, from the credentials in its
// metadata (MDCookie, MDSessionToken, MDAuthorization).
//
// The contract, which the auth interceptor relies on:
//
//   - On success it returns the user with a non-empty ID and a nil error;
//     the interceptor stores the user in the context (identity.With) for
//     the handlers.
//   - When the request carries no credentials, or credentials that are
//     invalid, expired or revoked, the error wraps ErrUnauthenticated
//     (fmt.Errorf("%w: session expired", transport.ErrUnauthenticated)).
//     The RPC fails with codes.Unauthenticated and the error's text is
//     sent to the caller: it must not contain tokens or cookie values.
//   - An error that wraps context.Canceled or context.DeadlineExceeded
//     (the caller gave up) fails the RPC with codes.Canceled or
//     codes.DeadlineExceeded.
//   - Any other error means authentication could not be decided (Kratos
//     unreachable, a 5xx): the RPC fails with codes.Unavailable and a
//     generic message, so that clients retry; the error itself is logged
//     with the request, never sent.
//
// Authenticate is called concurrently and must honour ctx's deadline.
type Authenticator interface {
	Authenticate(ctx context.Context, md metadata.MD) (identity.User, error)
}

// ErrUnauthenticated is the error an Authenticator wraps when the request's
// credentials are missing or not valid.
var ErrUnauthenticated = errors.New("unauthenticated")

// Unauthenticated marks err as an authentication failure, so that
// errors.Is(err, ErrUnauthenticated) holds, keeping err's message and
// chain. It adapts an Authenticator whose own sentinel is not
// ErrUnauthenticated.
func Unauthenticated(err error) error { return unauthenticatedError{err} }

type unauthenticatedError struct{ err error }

func (e unauthenticatedError) Error() string   { return e.err.Error() }
func (e unauthenticatedError) Unwrap() []error { return []error{e.err, ErrUnauthenticated} }

// publicServices may be called without authentication: health checks, and
// server reflection, which describes the API's schema (the .proto files are
// public in the repository) and is only registered when configured. This
// is the only exemption list: every method of every other service,
// including ones added later, requires an authenticated caller. Keep it
// this short.
var publicServices = map[string]bool{
	healthgrpc.Health_ServiceDesc.ServiceName:                  true,
	reflectionv1.ServerReflection_ServiceDesc.ServiceName:      true,
	reflectionv1alpha.ServerReflection_ServiceDesc.ServiceName: true,
}

// public reports whether a method may be called without authentication.
func public(fullMethod string) bool {
	rest, ok := strings.CutPrefix(fullMethod, "/")
	if !ok {
		return false
	}
	service, method, ok := strings.Cut(rest, "/")
	return ok && method != "" && publicServices[service]
}

// authenticate runs the Authenticator for a non-public method and returns
// the context carrying the user.
func authenticate(ctx context.Context, a Authenticator, fullMethod string) (context.Context, error) {
	if public(fullMethod) {
		return ctx, nil
	}
	st, _ := rpcStateFrom(ctx)
	u, err := a.Authenticate(ctx, requestMD(ctx, st))
	switch {
	case err == nil && u.ID == "":
		annotate(ctx, slog.String("auth_error", "authenticator returned a user without ID"))
		return nil, status.Error(codes.Internal, "internal error")
	case err == nil:
		annotate(ctx, slog.String("user_id", u.ID))
		return identity.With(ctx, u), nil
	case errors.Is(err, ErrUnauthenticated):
		return nil, status.Error(codes.Unauthenticated, err.Error())
	case errors.Is(err, context.Canceled):
		return nil, status.Error(codes.Canceled, "request canceled during authentication")
	case errors.Is(err, context.DeadlineExceeded):
		return nil, status.Error(codes.DeadlineExceeded, "deadline exceeded during authentication")
	default:
		annotate(ctx, slog.String("auth_error", err.Error()))
		return nil, status.Error(codes.Unavailable, "authentication is unavailable, try again")
	}
}

// contextStream replaces a stream's context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }
