package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/store"
)

// PurgeArgs asks for the account AccountID, soft-deleted at DeletedAt, to
// be erased.
type PurgeArgs struct {
	AccountID string `json:"account_id"`
	// DeletedAt is the deletion the job was enqueued for: an account that
	// was restored, or deleted again later, is left alone (its later
	// deletion has a purge job of its own).
	DeletedAt time.Time `json:"deleted_at"`
}

// Kind implements queue.Args.
func (PurgeArgs) Kind() string { return KindPurge }

// AfterDelete is the store hook of DeleteAccount: in the transaction that
// soft-deletes the account, it enqueues the purge job to run grace after
// the deletion. The delete and its purge commit together or not at all.
func AfterDelete(q Enqueuer, grace time.Duration) store.AfterDeleteFunc {
	return func(ctx context.Context, tx pgx.Tx, acc account.Account) error {
		at, deleted, err := store.NewAccounts(tx).DeletedAt(ctx, acc.ID)
		if err != nil {
			return err
		}
		if !deleted {
			return fmt.Errorf("enqueue purge of account %s: the account is not deleted", acc.ID)
		}
		args := PurgeArgs{AccountID: acc.ID, DeletedAt: at}
		if _, err := q.EnqueueTx(ctx, tx, args, &queue.EnqueueOpts{At: at.Add(grace)}); err != nil {
			return fmt.Errorf("enqueue purge of account %s: %w", acc.ID, err)
		}
		return nil
	}
}

type purger struct{ d Deps }

// work erases the account if it is still deleted by the deletion the job
// was enqueued for. Running it again changes nothing.
func (p purger) work(ctx context.Context, job *queue.Job[PurgeArgs]) error {
	a := job.Args
	if !account.ValidID(a.AccountID) || a.DeletedAt.IsZero() {
		return queue.Cancel(fmt.Errorf("purge job: bad arguments %+v", a))
	}
	purged, err := store.NewAccounts(p.d.DB).Purge(ctx, a.AccountID, a.DeletedAt)
	if err != nil {
		return err
	}
	if purged {
		p.d.Logger.InfoContext(ctx, "purged account", "account_id", a.AccountID, "deleted_at", a.DeletedAt, "job_id", job.ID)
	} else {
		p.d.Logger.InfoContext(ctx, "account not purged: gone, restored or deleted again since", "account_id", a.AccountID, "deleted_at", a.DeletedAt, "job_id", job.ID)
	}
	return nil
}
