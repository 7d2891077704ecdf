package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/invalid"
	"github.com/groundwork-dev/groundwork/server/internal/user"
)

// Accounts is the accounts repository, the AccountStore receiver of the
// messenger.
type Accounts struct {
	db          DB
	afterDelete AfterDeleteFunc
}

// AfterDeleteFunc runs inside the transaction that soft-deletes an account,
// after the row is marked deleted and before the commit; acc is the account
// as it was. Use tx for any write that must happen if and only if the delete
// does, such as enqueueing the purge job (River's InsertTx). An error rolls
// the delete back and is returned by HandleDeleteAccount, wrapped.
type AfterDeleteFunc func(ctx context.Context, tx pgx.Tx, acc account.Account) error

// AccountsOption configures Accounts.
type AccountsOption func(*Accounts)

// WithAfterDelete sets the hook that runs in each delete's transaction. By
// default there is none.
func WithAfterDelete(fn AfterDeleteFunc) AccountsOption {
	return func(s *Accounts) { s.afterDelete = fn }
}

// NewAccounts returns the accounts repository over db.
func NewAccounts(db DB, opts ...AccountsOption) *Accounts {
	s := &Accounts{db: db}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

const accountColumns = `id, owner_id, name, created_at, updated_at`

func scanAccount(row pgx.Row) (account.Account, error) {
	var a account.Account
	err := row.Scan(&a.ID, &a.OwnerID, &a.Name, &a.CreateTime, &a.UpdateTime)
	return a, err
}

// HandleCreateAccount inserts a new account. It fails with
// account.ErrAlreadyExists if the owner has a live account of that name
// (ignoring case), and with user.ErrNotFound if the owner has no users row.
func (s *Accounts) HandleCreateAccount(ctx context.Context, msg account.Create) (account.Account, error) {
	acc, err := scanAccount(s.db.QueryRow(ctx,
		`INSERT INTO accounts (owner_id, name) VALUES ($1, $2) RETURNING `+accountColumns,
		msg.Owner, msg.Name))
	if err != nil {
		return account.Account{}, fmt.Errorf("create account for %s: %w", msg.Owner, writeError(err))
	}
	return acc, nil
}

// HandleGetAccount returns the owner's live account with the ID, or
// account.ErrNotFound.
func (s *Accounts) HandleGetAccount(ctx context.Context, msg account.Get) (account.Account, error) {
	acc, err := scanAccount(s.db.QueryRow(ctx,
		`SELECT `+accountColumns+` FROM accounts WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL`,
		msg.ID, msg.Owner))
	if err != nil {
		return account.Account{}, fmt.Errorf("get account %s of %s: %w", msg.ID, msg.Owner, notFound(err))
	}
	return acc, nil
}

// The listing order is (created_at, id) ascending: the index
// accounts_owner_live_idx, scanned backwards. One row more than the page is
// read to learn whether another page follows.
const (
	listFirstSQL = `SELECT ` + accountColumns + ` FROM accounts
		WHERE owner_id = $1 AND deleted_at IS NULL
		ORDER BY created_at, id LIMIT $2`
	listAfterSQL = `SELECT ` + accountColumns + ` FROM accounts
		WHERE owner_id = $1 AND deleted_at IS NULL AND (created_at, id) > ($3::timestamptz, $4::uuid)
		ORDER BY created_at, id LIMIT $2`
)

// HandleListAccounts returns one page of the owner's live accounts, oldest
// first, continuing after msg.PageToken. A page token that does not decode
// is an *invalid.Error (Validator rejects it earlier on the request path).
func (s *Accounts) HandleListAccounts(ctx context.Context, msg account.List) (account.Page, error) {
	after, ok, err := msg.After()
	if err != nil {
		return account.Page{}, fmt.Errorf("list accounts of %s: %w", msg.Owner, err)
	}
	limit := msg.Limit()
	var rows pgx.Rows
	if ok {
		rows, err = s.db.Query(ctx, listAfterSQL, msg.Owner, limit+1, after.CreateTime, after.ID)
	} else {
		rows, err = s.db.Query(ctx, listFirstSQL, msg.Owner, limit+1)
	}
	if err != nil {
		return account.Page{}, fmt.Errorf("list accounts of %s: %w", msg.Owner, err)
	}
	accounts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.Account, error) { return scanAccount(row) })
	if err != nil {
		return account.Page{}, fmt.Errorf("list accounts of %s: %w", msg.Owner, err)
	}
	page := account.Page{Accounts: accounts}
	if len(accounts) > limit {
		page.Accounts = accounts[:limit]
		last := page.Accounts[limit-1]
		page.NextPageToken = account.Cursor{CreateTime: last.CreateTime, ID: last.ID}.PageToken(msg.Owner)
	}
	return page, nil
}

// HandleUpdateAccount renames the owner's live account and sets its
// update time. It fails with account.ErrNotFound or, if another live
// account of the owner has the name, account.ErrAlreadyExists.
func (s *Accounts) HandleUpdateAccount(ctx context.Context, msg account.Update) (account.Account, error) {
	acc, err := scanAccount(s.db.QueryRow(ctx,
		`UPDATE accounts SET name = $3, updated_at = now()
		WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL
		RETURNING `+accountColumns,
		msg.ID, msg.Owner, msg.Name))
	if err != nil {
		return account.Account{}, fmt.Errorf("update account %s of %s: %w", msg.ID, msg.Owner, notFound(writeError(err)))
	}
	return acc, nil
}

// HandleDeleteAccount soft-deletes the owner's live account (sets
// deleted_at) and returns it as it was, or fails with account.ErrNotFound.
// The update and the AfterDelete hook, if any, run in one transaction.
func (s *Accounts) HandleDeleteAccount(ctx context.Context, msg account.Delete) (account.Account, error) {
	var acc account.Account
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		acc, err = scanAccount(tx.QueryRow(ctx,
			`UPDATE accounts SET deleted_at = now()
			WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL
			RETURNING `+accountColumns,
			msg.ID, msg.Owner))
		if err != nil {
			return notFound(err)
		}
		if s.afterDelete != nil {
			if err := s.afterDelete(ctx, tx, acc); err != nil {
				return fmt.Errorf("after delete: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return account.Account{}, fmt.Errorf("delete account %s of %s: %w", msg.ID, msg.Owner, err)
	}
	return acc, nil
}

// DeletedAt returns when the account was soft-deleted, and false if it is
// live. Call it with the transaction of the AfterDelete hook to learn the
// deletion time the purge job must match. It fails with account.ErrNotFound
// when there is no such row.
func (s *Accounts) DeletedAt(ctx context.Context, id string) (time.Time, bool, error) {
	var at *time.Time
	if err := s.db.QueryRow(ctx, `SELECT deleted_at FROM accounts WHERE id = $1`, id).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("read deletion time of account %s: %w", id, notFound(err))
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return *at, true, nil
}

// Purge hard-deletes the account if it is still soft-deleted by the
// deletion at deletedAt or an earlier one (deleted_at <= deletedAt): an
// account that was restored, or deleted again later (whose own purge is
// scheduled later), stays. Its exports go with it (ON DELETE CASCADE).
// purged is false when nothing was deleted, which makes a repeated purge a
// no-op.
func (s *Accounts) Purge(ctx context.Context, id string, deletedAt time.Time) (purged bool, err error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM accounts WHERE id = $1 AND deleted_at IS NOT NULL AND deleted_at <= $2`, id, deletedAt)
	if err != nil {
		return false, fmt.Errorf("purge account %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// notFound translates "no row" into account.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return account.ErrNotFound
	}
	return err
}

// writeError translates the constraint violations of an insert or update
// of accounts into domain errors, keeping the PostgreSQL error in the chain.
func writeError(err error) error {
	if e := pgError(err, uniqueViolation); e != nil && e.ConstraintName == accountsOwnerNameKey {
		return fmt.Errorf("%w: %w", account.ErrAlreadyExists, err)
	}
	if e := pgError(err, foreignKeyViolation); e != nil && e.ConstraintName == accountsOwnerFKey {
		// The auth layer upserts the caller's users row before any RPC; the
		// user may have been deleted since (accounts cascade).
		return fmt.Errorf("owner: %w: %w", user.ErrNotFound, err)
	}
	if e := pgError(err, checkViolation); e != nil && e.ConstraintName == accountsNameCheck {
		// Validator rejects such names first; this keeps the store's
		// answer right without it.
		return fmt.Errorf("%w: %w", invalid.Field("name", fmt.Sprintf("must be 1 to %d characters", account.MaxNameLength)), err)
	}
	return err
}
