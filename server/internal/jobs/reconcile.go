package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/store"
)

// ReconcileUsersArgs asks for one reconciliation of the users table with
// Kratos's identities.
type ReconcileUsersArgs struct{}

// Kind implements queue.Args.
func (ReconcileUsersArgs) Kind() string { return KindReconcileUsers }

// IdentityLister lists Kratos's identities a page at a time.
type IdentityLister interface {
	// ListIdentities returns the page after pageToken ("" for the first)
	// and the token of the next page, "" after the last. An identity
	// without an email has an empty Email.
	ListIdentities(ctx context.Context, pageToken string) (page []identity.User, next string, err error)
}

// maxPages stops a listing whose pagination never ends (a Kratos bug would
// otherwise keep the job running until its timeout).
const maxPages = 100_000

type reconciler struct{ d Deps }

// ReconcileResult says what one reconciliation did.
type ReconcileResult struct {
	Listed  int      // identities Kratos listed
	Changed int64    // users rows inserted or changed
	NoEmail int      // identities without an email, left alone
	Marked  []string // users marked as deleted in Kratos
	// Checked is false when the check for deleted identities was skipped
	// because Kratos listed nobody.
	Checked bool
}

func (r reconciler) work(ctx context.Context, _ *queue.Job[ReconcileUsersArgs]) error {
	res, err := Reconcile(ctx, r.d)
	if err != nil {
		return err
	}
	r.d.Logger.InfoContext(ctx, "reconciled users with Kratos",
		"listed", res.Listed, "changed", res.Changed, "no_email", res.NoEmail, "marked_deleted", len(res.Marked))
	return nil
}

// Reconcile makes the users table match Kratos: every identity is upserted
// (email and display name; a row marked as deleted is unmarked), and every
// users row whose identity Kratos no longer has, and that existed before
// the listing began, gets identity_deleted_at. Rows are never deleted:
// accounts hang off them, and a mistaken listing must not destroy data.
// When Kratos lists no identity at all, nothing is marked (a wrong
// --kratos-admin-url would otherwise mark every user).
func Reconcile(ctx context.Context, d Deps) (ReconcileResult, error) {
	var res ReconcileResult
	if d.Identities == nil {
		return res, errors.New("reconcile users: no Kratos admin client in this process")
	}
	users := store.NewUsers(d.DB)
	since, err := users.Now(ctx)
	if err != nil {
		return res, fmt.Errorf("reconcile users: %w", err)
	}
	var present []string
	token := ""
	for pages := 1; ; pages++ {
		page, next, err := d.Identities.ListIdentities(ctx, token)
		if err != nil {
			return res, fmt.Errorf("reconcile users: list Kratos identities (page %d): %w", pages, err)
		}
		seen := make(map[string]bool, len(page))
		upsert := make([]identity.User, 0, len(page))
		for _, u := range page {
			if seen[u.ID] {
				continue
			}
			seen[u.ID] = true
			present = append(present, u.ID)
			if u.Email == "" {
				res.NoEmail++
				continue
			}
			upsert = append(upsert, u)
		}
		res.Listed += len(seen)
		n, err := users.UpsertMany(ctx, upsert)
		if err != nil {
			return res, fmt.Errorf("reconcile users: %w", err)
		}
		res.Changed += n
		if next == "" {
			break
		}
		if next == token || pages >= maxPages {
			return res, fmt.Errorf("reconcile users: Kratos's pagination does not end (page %d, token %q)", pages, next)
		}
		token = next
	}
	if len(present) == 0 {
		return res, nil
	}
	res.Marked, err = users.MarkIdentitiesDeleted(ctx, present, since)
	if err != nil {
		return res, fmt.Errorf("reconcile users: %w", err)
	}
	res.Checked = true
	return res, nil
}
