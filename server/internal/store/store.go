// Package store holds the pgx repositories of the request path: the final
// receivers of the generated messenger (see routing.yaml). Accounts executes
// the account commands and queries, Users reads the users mirror and
// upserts it for the auth layer.
//
// The repositories connect as the `server` role, which may only read and
// write rows (no DDL). Every query about accounts is scoped by the owner the
// message names, so another user's account is account.ErrNotFound, exactly
// like a missing one.
//
// PostgreSQL errors are translated here, by SQLSTATE and constraint name
// (pgconn.PgError), into the domain's errors (account.ErrAlreadyExists,
// ...); the original error stays in the chain for the log. Nothing in this
// package logs.
package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what the repositories need of a connection: a *pgxpool.Pool in the
// server, also a pgx.Tx (Begin then starts a savepoint), or a *pgx.Conn.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// SQLSTATE codes the repositories translate
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	foreignKeyViolation = "23503"
	uniqueViolation     = "23505"
	checkViolation      = "23514"
)

// Constraints of migrator/migrations whose violations mean something to a
// caller.
const (
	accountsOwnerNameKey = "accounts_owner_name_key" // unique live name per owner
	accountsOwnerFKey    = "accounts_owner_id_fkey"  // owner_id references users
	accountsNameCheck    = "accounts_name_check"     // char_length(name) between 1 and 100
)

// pgError returns err's PostgreSQL error if it has code, else nil.
func pgError(err error, code string) *pgconn.PgError {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == code {
		return pgErr
	}
	return nil
}
