package grpcerr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/export"
	"github.com/groundwork-dev/groundwork/server/internal/grpcerr"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/invalid"
	"github.com/groundwork-dev/groundwork/server/internal/policy"
	"github.com/groundwork-dev/groundwork/server/internal/user"
)

func TestFrom(t *testing.T) {
	t.Parallel()
	secret := &pgconn.PgError{Code: "42P01", Message: `relation "accounts" does not exist`}
	for _, tc := range []struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{
		{"invalid", fmt.Errorf("validate: %w", invalid.Field("name", "must not be empty")), codes.InvalidArgument, "name: must not be empty"},
		{"unauthenticated", fmt.Errorf("authorize: %w", identity.ErrNone), codes.Unauthenticated, "authentication required"},
		{"forbidden", fmt.Errorf("authorize: %w", policy.ErrForbidden), codes.PermissionDenied, "permission denied"},
		{"account not found", fmt.Errorf("get account x: %w", account.ErrNotFound), codes.NotFound, "account not found"},
		{"account exists, PgError in the chain", fmt.Errorf("create: %w: %w", account.ErrAlreadyExists, &pgconn.PgError{Code: "23505"}), codes.AlreadyExists, "an account with this name already exists"},
		{"user not found", fmt.Errorf("get user: %w", user.ErrNotFound), codes.NotFound, "user not found"},
		{"export not found", fmt.Errorf("get export x: %w", export.ErrNotFound), codes.NotFound, "account export not found"},
		{"export not ready", fmt.Errorf("download export x: %w", &export.NotReadyError{State: export.StateRunning}), codes.FailedPrecondition,
			"the export is running; download it once GetAccountExport reports STATE_SUCCEEDED"},
		{"export failed", fmt.Errorf("download export x: %w", &export.NotReadyError{State: export.StateFailed}), codes.FailedPrecondition,
			"the export failed and has no content; create a new export"},
		{"canceled", fmt.Errorf("list: %w", context.Canceled), codes.Canceled, "request canceled"},
		{"deadline", fmt.Errorf("list: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "deadline exceeded"},
		{"database down", fmt.Errorf("get account: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), codes.Unavailable, "service unavailable, try again"},
		{"connection cut mid-query", fmt.Errorf("get account: %w", io.ErrUnexpectedEOF), codes.Unavailable, "service unavailable, try again"},
		{"database shutting down", fmt.Errorf("list: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}), codes.Unavailable, "service unavailable, try again"},
		{"connection exception class", fmt.Errorf("list: %w", &pgconn.PgError{Code: "08006"}), codes.Unavailable, "service unavailable, try again"},
		{"deadline wins over a network timeout", fmt.Errorf("list: %w: %w", context.DeadlineExceeded, &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}), codes.DeadlineExceeded, "deadline exceeded"},
		{"unknown SQL error", fmt.Errorf("list accounts: %w", secret), codes.Internal, "internal error"},
		{"unknown plain error", errors.New("dial postgres://server@db:5432/app?sslkey=/secret: refused"), codes.Internal, "internal error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := grpcerr.From(tc.err)
			require.Error(t, err)

			// What grpc-go sends: the error itself implements GRPCStatus.
			st, ok := status.FromError(err)
			require.True(t, ok)
			assert.Equal(t, tc.code, st.Code())
			assert.Equal(t, tc.msg, st.Message(), "the client's message is fixed, never the cause")
			assert.Equal(t, tc.code, status.Code(err))

			// What the log gets: the cause, whole.
			assert.Equal(t, tc.err.Error(), err.Error())
			assert.ErrorIs(t, err, tc.err)
		})
	}
}

func TestFromNil(t *testing.T) {
	t.Parallel()
	assert.NoError(t, grpcerr.From(nil))
}

func TestInvalidArgumentDetails(t *testing.T) {
	t.Parallel()
	var vs invalid.Violations
	vs.Add("id", "must not be empty")
	vs.Add("name", "must not be only whitespace")
	err := grpcerr.From(fmt.Errorf("validate update account: %w", vs.Err()))

	st := status.Convert(err)
	assert.Equal(t, codes.InvalidArgument, st.Code())
	assert.Equal(t, "id: must not be empty; name: must not be only whitespace", st.Message())
	require.Len(t, st.Details(), 1)
	br, ok := st.Details()[0].(*errdetails.BadRequest)
	require.True(t, ok, "detail is a google.rpc.BadRequest, got %T", st.Details()[0])
	require.Len(t, br.GetFieldViolations(), 2)
	assert.Equal(t, "id", br.GetFieldViolations()[0].GetField())
	assert.Equal(t, "must not be empty", br.GetFieldViolations()[0].GetDescription())
	assert.Equal(t, "name", br.GetFieldViolations()[1].GetField())
	assert.Equal(t, "must not be only whitespace", br.GetFieldViolations()[1].GetDescription())

	// The status proto, which is what goes on the wire, carries them.
	assert.Len(t, st.Proto().GetDetails(), 1)
}

func TestOtherCodesHaveNoDetails(t *testing.T) {
	t.Parallel()
	st := status.Convert(grpcerr.From(account.ErrNotFound))
	assert.Empty(t, st.Details())
}
