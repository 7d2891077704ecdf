// Package grpcerr translates the request path's errors into gRPC statuses,
// in one place: the table in From is the whole mapping.
//
// The client sees only the status: a fixed message per domain error, the
// field violations of bad input, and "internal error" for anything
// unexpected, so no SQL, DSN or stack detail leaks. The cause is kept for
// the log: the returned *Error's Error method and Unwrap give it, and its
// GRPCStatus method gives the status to grpc-go and grpc-gateway
// (status.FromError, status.Code).
package grpcerr

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/export"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/invalid"
	"github.com/groundwork-dev/groundwork/server/internal/policy"
	"github.com/groundwork-dev/groundwork/server/internal/user"
)

// Error is an error of the request path with the status the client gets.
// Return it from a gRPC method as is: grpc-go reads GRPCStatus only from
// the error it is given, not from one it wraps (wrapping would make the
// cause the client's message).
type Error struct {
	status *status.Status
	cause  error
}

// Error returns the cause's message, for the log.
func (e *Error) Error() string { return e.cause.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.cause }

// GRPCStatus returns the status the client gets.
func (e *Error) GRPCStatus() *status.Status { return e.status }

// Messages the client gets; the cause says more in the log.
const (
	msgUnauthenticated  = "authentication required"
	msgPermissionDenied = "permission denied"
	msgAccountNotFound  = "account not found"
	msgAccountExists    = "an account with this name already exists"
	msgUserNotFound     = "user not found"
	msgExportNotFound   = "account export not found"
	msgCanceled         = "request canceled"
	msgDeadline         = "deadline exceeded"
	msgUnavailable      = "service unavailable, try again"
	msgInternal         = "internal error"
)

// From returns err as an *Error carrying the gRPC status for it, or nil if
// err is nil:
//
//	*invalid.Error             INVALID_ARGUMENT  "field: rule; ..." + BadRequest details
//	identity.ErrNone           UNAUTHENTICATED
//	policy.ErrForbidden        PERMISSION_DENIED
//	account.ErrNotFound        NOT_FOUND
//	account.ErrAlreadyExists   ALREADY_EXISTS
//	user.ErrNotFound           NOT_FOUND
//	export.ErrNotFound         NOT_FOUND
//	*export.NotReadyError      FAILED_PRECONDITION "the export is pending; ..." (its message)
//	context.Canceled           CANCELED
//	context.DeadlineExceeded   DEADLINE_EXCEEDED
//	database out of reach      UNAVAILABLE       (databaseUnavailable: clients retry)
//	anything else              INTERNAL          "internal error"
//
// The first row that matches (errors.As, errors.Is) wins.
func From(err error) error {
	if err == nil {
		return nil
	}
	return &Error{status: statusOf(err), cause: err}
}

func statusOf(err error) *status.Status {
	var (
		bad      *invalid.Error
		notReady *export.NotReadyError
	)
	switch {
	case errors.As(err, &bad):
		return invalidArgument(bad)
	case errors.Is(err, identity.ErrNone):
		return status.New(codes.Unauthenticated, msgUnauthenticated)
	case errors.Is(err, policy.ErrForbidden):
		return status.New(codes.PermissionDenied, msgPermissionDenied)
	case errors.Is(err, account.ErrNotFound):
		return status.New(codes.NotFound, msgAccountNotFound)
	case errors.Is(err, account.ErrAlreadyExists):
		return status.New(codes.AlreadyExists, msgAccountExists)
	case errors.Is(err, user.ErrNotFound):
		return status.New(codes.NotFound, msgUserNotFound)
	case errors.Is(err, export.ErrNotFound):
		return status.New(codes.NotFound, msgExportNotFound)
	case errors.As(err, &notReady):
		return status.New(codes.FailedPrecondition, notReady.Error())
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, msgCanceled)
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, msgDeadline)
	case databaseUnavailable(err):
		return status.New(codes.Unavailable, msgUnavailable)
	default:
		return status.New(codes.Internal, msgInternal)
	}
}

// invalidArgument is INVALID_ARGUMENT with the violations as the message
// ("name: must not be empty") and as a google.rpc.BadRequest detail.
func invalidArgument(bad *invalid.Error) *status.Status {
	st := status.New(codes.InvalidArgument, bad.Error())
	br := &errdetails.BadRequest{}
	for _, v := range bad.Violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       v.Field,
			Description: v.Description,
		})
	}
	withDetails, err := st.WithDetails(br)
	if err != nil {
		return st // cannot happen: BadRequest always marshals
	}
	return withDetails
}

// databaseUnavailable reports whether err says that PostgreSQL could not be
// reached or went away (down, restarting, connection cut), rather than that
// the query was wrong: the request may succeed when retried, so the client
// gets UNAVAILABLE, the code gRPC clients retry on.
func databaseUnavailable(err error) bool {
	var (
		connect *pgconn.ConnectError
		pg      *pgconn.PgError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &connect):
		return true
	case errors.As(err, &pg):
		// Class 08: connection exception; 57P01-57P03: the server is
		// shutting down, crashed, or is starting up.
		return len(pg.Code) == 5 && (pg.Code[:2] == "08" || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03")
	case pgconn.SafeToRetry(err):
		// Failed before anything reached the server.
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	default:
		return errors.As(err, &netErr)
	}
}
