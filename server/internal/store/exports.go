package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/export"
)

// Exports is the account_exports repository: the ExportStore receiver of
// the messenger (Create, Get, Download for the API) and the state changes
// the export job makes (Start, Succeed, Requeue, Fail).
type Exports struct {
	db          DB
	afterCreate AfterCreateExportFunc
}

// AfterCreateExportFunc runs inside the transaction that inserts an
// export, before the commit: enqueue the export job there with the
// queue's transactional insert, so that the row and its job exist together
// or not at all. An error rolls the insert back and is returned by
// HandleCreateAccountExport, wrapped.
type AfterCreateExportFunc func(ctx context.Context, tx pgx.Tx, e export.Export) error

// ExportsOption configures Exports.
type ExportsOption func(*Exports)

// WithAfterCreateExport sets the hook that runs in each create's
// transaction. By default there is none (and no job is enqueued).
func WithAfterCreateExport(fn AfterCreateExportFunc) ExportsOption {
	return func(s *Exports) { s.afterCreate = fn }
}

// NewExports returns the exports repository over db.
func NewExports(db DB, opts ...ExportsOption) *Exports {
	s := &Exports{db: db}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

const exportColumns = `e.id, e.account_id, e.owner_id, e.state, e.attempts, e.created_at, e.started_at, e.completed_at, e.error`

func scanExport(row pgx.Row) (export.Export, error) {
	var (
		e                  export.Export
		started, completed *time.Time
	)
	if err := row.Scan(&e.ID, &e.AccountID, &e.OwnerID, &e.State, &e.Attempts, &e.CreateTime, &started, &completed, &e.Error); err != nil {
		return export.Export{}, err
	}
	if started != nil {
		e.StartTime = *started
	}
	if completed != nil {
		e.CompleteTime = *completed
	}
	return e, nil
}

// HandleCreateAccountExport inserts a pending export of the owner's live
// account and runs the AfterCreateExport hook in the same transaction. It
// fails with account.ErrNotFound when the owner has no live account with
// the ID.
func (s *Exports) HandleCreateAccountExport(ctx context.Context, msg export.Create) (export.Export, error) {
	var e export.Export
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		e, err = scanExport(tx.QueryRow(ctx,
			`INSERT INTO account_exports AS e (account_id, owner_id)
			SELECT id, owner_id FROM accounts WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL
			RETURNING `+exportColumns,
			msg.AccountID, msg.Owner))
		if errors.Is(err, pgx.ErrNoRows) {
			return account.ErrNotFound
		}
		if err != nil {
			return err
		}
		if s.afterCreate != nil {
			if err := s.afterCreate(ctx, tx, e); err != nil {
				return fmt.Errorf("after create: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return export.Export{}, fmt.Errorf("create export of account %s of %s: %w", msg.AccountID, msg.Owner, err)
	}
	return e, nil
}

// The API reaches an export only through a live account of its owner.
const liveExportWhere = ` FROM account_exports e JOIN accounts a ON a.id = e.account_id
	WHERE e.id = $1 AND e.account_id = $2 AND e.owner_id = $3 AND a.deleted_at IS NULL`

// HandleGetAccountExport returns the export, or export.ErrNotFound.
func (s *Exports) HandleGetAccountExport(ctx context.Context, msg export.Get) (export.Export, error) {
	e, err := scanExport(s.db.QueryRow(ctx, `SELECT `+exportColumns+liveExportWhere, msg.ID, msg.AccountID, msg.Owner))
	if err != nil {
		return export.Export{}, fmt.Errorf("get export %s of account %s of %s: %w", msg.ID, msg.AccountID, msg.Owner, exportNotFound(err))
	}
	return e, nil
}

// HandleDownloadAccountExport returns the document of a succeeded export;
// export.ErrNotFound, or a *export.NotReadyError when it has not succeeded.
func (s *Exports) HandleDownloadAccountExport(ctx context.Context, msg export.Download) (export.Content, error) {
	var (
		state export.State
		data  []byte
	)
	err := s.db.QueryRow(ctx, `SELECT e.state, e.content`+liveExportWhere, msg.ID, msg.AccountID, msg.Owner).Scan(&state, &data)
	if err != nil {
		return export.Content{}, fmt.Errorf("download export %s of account %s of %s: %w", msg.ID, msg.AccountID, msg.Owner, exportNotFound(err))
	}
	if state != export.StateSucceeded {
		return export.Content{}, fmt.Errorf("download export %s of account %s: %w", msg.ID, msg.AccountID, &export.NotReadyError{State: state})
	}
	return export.Content{Filename: export.Filename(msg.AccountID), ContentType: export.ContentType, Data: data}, nil
}

// Start records that an attempt of the export job begins: a pending (or,
// after a crash, still running) export becomes running, its attempts
// grow by one, and its start time is set on the first. ok is false when
// the export is gone or already succeeded or failed: the job has nothing
// to do.
func (s *Exports) Start(ctx context.Context, id string) (e export.Export, ok bool, err error) {
	e, err = scanExport(s.db.QueryRow(ctx,
		`UPDATE account_exports e SET state = 'running', attempts = attempts + 1, started_at = coalesce(started_at, now())
		WHERE id = $1 AND state IN ('pending', 'running')
		RETURNING `+exportColumns, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return export.Export{}, false, nil
	}
	if err != nil {
		return export.Export{}, false, fmt.Errorf("start export %s: %w", id, err)
	}
	return e, true, nil
}

// Succeed stores the document of a running export and marks it succeeded.
// ok is false when the export was not running (nothing changed).
func (s *Exports) Succeed(ctx context.Context, id string, content []byte) (ok bool, err error) {
	tag, err := s.db.Exec(ctx,
		`UPDATE account_exports SET state = 'succeeded', content = $2, completed_at = now(), error = ''
		WHERE id = $1 AND state = 'running'`, id, content)
	if err != nil {
		return false, fmt.Errorf("store export %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Requeue puts a running export back to pending after a failed attempt
// that will be retried.
func (s *Exports) Requeue(ctx context.Context, id string) error {
	if _, err := s.db.Exec(ctx, `UPDATE account_exports SET state = 'pending' WHERE id = $1 AND state = 'running'`, id); err != nil {
		return fmt.Errorf("requeue export %s: %w", id, err)
	}
	return nil
}

// Fail marks an unfinished export failed with reason, which the owner
// reads in GetAccountExport (so it must not hold internals).
func (s *Exports) Fail(ctx context.Context, id, reason string) error {
	if _, err := s.db.Exec(ctx,
		`UPDATE account_exports SET state = 'failed', error = $2, completed_at = now()
		WHERE id = $1 AND state IN ('pending', 'running')`, id, reason); err != nil {
		return fmt.Errorf("fail export %s: %w", id, err)
	}
	return nil
}

// FailAbandoned fails the pending and running exports whose job can no
// longer run: the queue discarded or cancelled it, or it is gone. That
// happens when a worker dies during the job's last attempt: River's rescuer
// then discards the job without running the handler that would have
// failed the export, which would otherwise stay "running" for ever. kind
// is the export job's kind; the job's arguments carry export_id. It
// returns how many exports it failed.
func (s *Exports) FailAbandoned(ctx context.Context, kind, reason string) (int64, error) {
	tag, err := s.db.Exec(ctx,
		`UPDATE account_exports e SET state = 'failed', error = $2, completed_at = now()
		WHERE e.state IN ('pending', 'running')
		AND NOT EXISTS (
			SELECT 1 FROM river_job j
			WHERE j.kind = $1 AND j.args->>'export_id' = e.id::text
			AND j.state NOT IN ('discarded', 'cancelled', 'completed'))`, kind, reason)
	if err != nil {
		return 0, fmt.Errorf("fail abandoned exports: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Source is what an export contains, read in one query: the account, its
// owner, and whether it was deleted.
type Source struct {
	Account     account.Account
	Email       string // the owner's
	DisplayName string
	Deleted     bool
}

// Source reads the exported account and its owner. It fails with
// account.ErrNotFound when the account row is gone (purged).
func (s *Exports) Source(ctx context.Context, accountID string) (Source, error) {
	var src Source
	a := &src.Account
	err := s.db.QueryRow(ctx,
		`SELECT a.id, a.owner_id, a.name, a.created_at, a.updated_at, a.deleted_at IS NOT NULL, u.email, u.display_name
		FROM accounts a JOIN users u ON u.id = a.owner_id WHERE a.id = $1`, accountID,
	).Scan(&a.ID, &a.OwnerID, &a.Name, &a.CreateTime, &a.UpdateTime, &src.Deleted, &src.Email, &src.DisplayName)
	if err != nil {
		return Source{}, fmt.Errorf("read account %s to export: %w", accountID, notFound(err))
	}
	return src, nil
}

// exportNotFound translates "no row" into export.ErrNotFound.
func exportNotFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return export.ErrNotFound
	}
	return err
}
