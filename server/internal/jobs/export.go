package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/export"
	"github.com/groundwork-dev/groundwork/server/internal/store"
)

// ExportArgs asks for the export ExportID (a row of account_exports) to be
// written.
type ExportArgs struct {
	ExportID string `json:"export_id"`
}

// Kind implements queue.Args.
func (ExportArgs) Kind() string { return KindExport }

// AfterCreateExport is the store hook of CreateAccountExport: it enqueues
// the export job in the transaction that inserts the export row.
func AfterCreateExport(q Enqueuer) store.AfterCreateExportFunc {
	return func(ctx context.Context, tx pgx.Tx, e export.Export) error {
		if _, err := q.EnqueueTx(ctx, tx, ExportArgs{ExportID: e.ID}, nil); err != nil {
			return fmt.Errorf("enqueue export job for export %s: %w", e.ID, err)
		}
		return nil
	}
}

// Enqueuer is what the API process needs of the queue client.
type Enqueuer interface {
	EnqueueTx(ctx context.Context, tx pgx.Tx, args queue.Args, opts *queue.EnqueueOpts) (queue.Enqueued, error)
}

// failTimeout bounds recording a failure after the attempt's context has
// ended (its timeout is the usual reason to fail).
const failTimeout = 5 * time.Second

type exporter struct{ d Deps }

// work writes one export: running, then the document and succeeded, with
// the job's completion in the same transaction (so a succeeded export's
// job never runs again). An export that is already finished or gone is
// done. A deleted account fails the export at once (the job is cancelled);
// any other error puts it back to pending for the retry, or fails it
// when the job's attempts are used up.
func (x exporter) work(ctx context.Context, job *queue.Job[ExportArgs]) error {
	id := job.Args.ExportID
	if !account.ValidID(id) {
		return queue.Cancel(fmt.Errorf("export job: export_id %q is not a UUID", id))
	}
	exports := store.NewExports(x.d.DB)
	e, ok, err := exports.Start(ctx, id)
	if err != nil {
		return x.failed(ctx, job, err)
	}
	if !ok {
		return nil // finished already, or purged with its account
	}
	src, err := exports.Source(ctx, e.AccountID)
	if errors.Is(err, account.ErrNotFound) || (err == nil && src.Deleted) {
		reason := "the account was deleted before it could be exported"
		if ferr := x.fail(ctx, id, reason); ferr != nil {
			return ferr
		}
		return queue.Cancel(fmt.Errorf("export %s: %s", id, reason))
	}
	if err != nil {
		return x.failed(ctx, job, err)
	}
	doc, err := export.Document{
		ExportID:   id,
		ExportedAt: x.d.Now(),
		Account: export.DocumentAccount{
			ID:         src.Account.ID,
			Name:       src.Account.Name,
			CreateTime: src.Account.CreateTime,
			UpdateTime: src.Account.UpdateTime,
		},
		Owner: export.DocumentOwner{ID: src.Account.OwnerID, Email: src.Email, DisplayName: src.DisplayName},
	}.Encode()
	if err != nil {
		return x.failed(ctx, job, err)
	}
	err = pgx.BeginFunc(ctx, x.d.DB, func(tx pgx.Tx) error {
		if _, err := store.NewExports(tx).Succeed(ctx, id, doc); err != nil {
			return err
		}
		return queue.CompleteTx(ctx, tx, job)
	})
	if err != nil {
		return x.failed(ctx, job, fmt.Errorf("export %s: %w", id, err))
	}
	return nil
}

// failed handles a failed attempt: the export goes back to pending when
// the job will be retried, and fails when this was the last attempt.
// It returns err, so that the queue records the attempt as failed.
func (x exporter) failed(ctx context.Context, job *queue.Job[ExportArgs], err error) error {
	id := job.Args.ExportID
	if job.Attempt >= job.MaxAttempts {
		reason := fmt.Sprintf("the export failed %d times; create a new export", job.Attempt)
		if ferr := x.fail(ctx, id, reason); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), failTimeout)
	defer cancel()
	if rerr := store.NewExports(x.d.DB).Requeue(rctx, id); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// fail marks the export failed, also when ctx has ended.
func (x exporter) fail(ctx context.Context, id, reason string) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), failTimeout)
	defer cancel()
	return store.NewExports(x.d.DB).Fail(fctx, id, reason)
}
