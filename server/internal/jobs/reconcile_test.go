package jobs_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	ory "github.com/ory/kratos-client-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/queue/queuetest"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/jobs"
	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
	"github.com/groundwork-dev/groundwork/server/internal/store"
	"github.com/groundwork-dev/groundwork/server/internal/uuidtest"
)

// pageCounter counts the pages a listing takes.
type pageCounter struct {
	jobs.IdentityLister
	pages atomic.Int32
}

func (p *pageCounter) ListIdentities(ctx context.Context, token string) ([]identity.User, string, error) {
	p.pages.Add(1)
	return p.IdentityLister.ListIdentities(ctx, token)
}

func createIdentity(t *testing.T, k *kratostest.Kratos, u kratostest.User) string {
	t.Helper()
	id, resp, err := k.Admin.IdentityAPI.CreateIdentity(t.Context()).
		CreateIdentityBody(*ory.NewCreateIdentityBody("default", map[string]any{"email": u.Email, "name": u.Name})).Execute()
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.NoError(t, err)
	return id.GetId()
}

type userRow struct {
	Email, DisplayName string
	Deleted            bool
}

func (b *testBundle) userRows(t *testing.T) map[string]userRow {
	t.Helper()
	rows, err := b.db.Pool.Query(t.Context(), `SELECT id::text, email, display_name, identity_deleted_at IS NOT NULL FROM users`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]userRow{}
	for rows.Next() {
		var id string
		var r userRow
		require.NoError(t, rows.Scan(&id, &r.Email, &r.DisplayName, &r.Deleted))
		out[id] = r
	}
	require.NoError(t, rows.Err())
	return out
}

// TestReconcileUsersWithKratos runs the reconciliation job against a real
// Kratos: identities created through the admin API appear in users (over
// several pages), changed traits are copied, a row whose identity Kratos
// deleted is marked, and it is unmarked when the identity is back.
func TestReconcileUsersWithKratos(t *testing.T) {
	t.Parallel()
	k := kratostest.Shared(t)
	ctx := t.Context()
	kratos, err := jobs.NewKratosIdentities(k.AdminURL, nil, 2) // small pages: the listing takes several
	require.NoError(t, err)
	lister := &pageCounter{IdentityLister: kratos}
	b := setup(t, lister)

	users := []kratostest.User{kratostest.NewUser(), kratostest.NewUser(), kratostest.NewUser()}
	var ids []string
	for _, u := range users {
		ids = append(ids, createIdentity(t, k, u))
	}
	// alice (from setup) has a users row but was never a Kratos identity:
	// as if deleted in Kratos since.

	run := func() {
		t.Helper()
		_, err := b.q.Enqueue(ctx, jobs.ReconcileUsersArgs{}, nil)
		require.NoError(t, err)
		job := queuetest.WorkOne(t, b.q, jobs.KindReconcileUsers)
		require.Equal(t, queue.StateCompleted, job.State, "errors: %v", job.Errors)
	}
	run()
	rows := b.userRows(t)
	for i, u := range users {
		assert.Equal(t, userRow{Email: u.Email, DisplayName: u.Name}, rows[ids[i]], "identity %d", i)
	}
	assert.True(t, rows[b.alice.ID].Deleted, "a row without an identity is marked")
	assert.GreaterOrEqual(t, lister.pages.Load(), int32(2), "three identities or more, two a page: the listing followed the pagination")

	// Kratos deletes one identity and changes another.
	resp, err := k.Admin.IdentityAPI.DeleteIdentity(ctx, ids[0]).Execute()
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.NoError(t, err)
	_, resp, err = k.Admin.IdentityAPI.PatchIdentity(ctx, ids[1]).JsonPatch([]ory.JsonPatch{
		{Op: "replace", Path: "/traits/name", Value: "Renamed"},
	}).Execute()
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.NoError(t, err)
	run()
	rows = b.userRows(t)
	assert.True(t, rows[ids[0]].Deleted, "deleted in Kratos: marked, not deleted")
	assert.Equal(t, userRow{Email: users[1].Email, DisplayName: "Renamed"}, rows[ids[1]])
	assert.False(t, rows[ids[2]].Deleted)

	// An identity that shows up again is unmarked (here by the auth
	// layer's upsert, as on the user's next request).
	require.NoError(t, store.NewUsers(b.db.Pool).Upsert(ctx, b.alice))
	assert.False(t, b.userRows(t)[b.alice.ID].Deleted)
}

// cutAfterFirstPage takes Kratos's database away once the first page of a
// listing has been served.
type cutAfterFirstPage struct {
	jobs.IdentityLister
	cut   func()
	pages atomic.Int32
}

func (c *cutAfterFirstPage) ListIdentities(ctx context.Context, token string) ([]identity.User, string, error) {
	page, next, err := c.IdentityLister.ListIdentities(ctx, token)
	if c.pages.Add(1) == 1 {
		c.cut()
	}
	return page, next, err
}

// Real Kratos losing its database in the middle of a paginated listing:
// the job fails and is retried, and nobody is marked deleted because
// Kratos could not finish answering.
func TestReconcileWhenKratosLosesItsDatabaseMidListing(t *testing.T) {
	t.Parallel()
	k, db := kratostest.StartWithDatabaseProxy(t, kratostest.Options{})
	for range 3 {
		createIdentity(t, k, kratostest.NewUser())
	}
	kratos, err := jobs.NewKratosIdentities(k.AdminURL, nil, 1)
	require.NoError(t, err)
	lister := &cutAfterFirstPage{IdentityLister: kratos, cut: db.Down}
	b := setup(t, lister) // alice has a row and no identity: a complete listing would mark her

	_, err = b.q.Enqueue(t.Context(), jobs.ReconcileUsersArgs{}, nil)
	require.NoError(t, err)
	job := queuetest.WorkOne(t, b.q, jobs.KindReconcileUsers)
	require.Contains(t, []queue.State{queue.StateRetryable, queue.StateAvailable}, job.State, "the job is tried again, not completed or discarded")
	require.Len(t, job.Errors, 1)
	require.Contains(t, job.Errors[0].Error, "list Kratos identities (page 2)")
	require.False(t, b.userRows(t)[b.alice.ID].Deleted, "nothing is marked on a listing Kratos could not finish")

	// Once Kratos has its database back, the listing completes.
	db.Up(t)
	require.Eventually(t, func() bool {
		_, err := jobs.Reconcile(t.Context(), jobs.Deps{DB: b.db.Pool, Identities: kratos})
		return err == nil
	}, 30*time.Second, 200*time.Millisecond)
	require.True(t, b.userRows(t)[b.alice.ID].Deleted, "the complete listing marks her")
}

// staticLister serves fixed pages; page i's token is its index.
type staticLister struct {
	pages [][]identity.User
	// stuck makes every page point to the first again.
	stuck bool
}

func (s staticLister) ListIdentities(_ context.Context, token string) ([]identity.User, string, error) {
	i := 0
	if token != "" {
		i = int(token[0] - '0')
	}
	if i >= len(s.pages) {
		return nil, "", nil
	}
	next := ""
	if s.stuck {
		next = "0"
	} else if i+1 < len(s.pages) {
		next = string(rune('0' + i + 1))
	}
	return s.pages[i], next, nil
}

func TestReconcileEdges(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := t.Context()
	deps := func(l jobs.IdentityLister) jobs.Deps { return jobs.Deps{DB: b.db.Pool, Identities: l} }
	bob := identity.User{ID: uuidtest.New(t), Email: "bob@example.com", DisplayName: "Bob"}
	noEmail := identity.User{ID: uuidtest.New(t)}

	t.Run("Kratos lists nobody: nothing is marked", func(t *testing.T) {
		res, err := jobs.Reconcile(ctx, deps(staticLister{}))
		require.NoError(t, err)
		assert.False(t, res.Checked)
		assert.False(t, b.userRows(t)[b.alice.ID].Deleted)
	})

	t.Run("pages, repeats and identities without email", func(t *testing.T) {
		res, err := jobs.Reconcile(ctx, deps(staticLister{pages: [][]identity.User{{b.alice, noEmail}, {bob, bob}}}))
		require.NoError(t, err)
		assert.Equal(t, [3]int{3, 1, 1}, [3]int{res.Listed, int(res.Changed), res.NoEmail}, "listed, changed, without email")
		assert.True(t, res.Checked)
		assert.Empty(t, res.Marked)
		rows := b.userRows(t)
		assert.Equal(t, userRow{Email: "bob@example.com", DisplayName: "Bob"}, rows[bob.ID])
		_, ok := rows[noEmail.ID]
		assert.False(t, ok, "an identity without email gets no row")
	})

	t.Run("pagination that never ends", func(t *testing.T) {
		_, err := jobs.Reconcile(ctx, deps(staticLister{pages: [][]identity.User{{b.alice}, {bob}}, stuck: true}))
		require.ErrorContains(t, err, "pagination does not end")
	})

	t.Run("no Kratos client", func(t *testing.T) {
		_, err := jobs.Reconcile(ctx, deps(nil))
		require.ErrorContains(t, err, "no Kratos admin client")
	})

	t.Run("Kratos unreachable", func(t *testing.T) {
		k, err := jobs.NewKratosIdentities("http://127.0.0.1:1", &http.Client{Timeout: time.Second}, 0)
		require.NoError(t, err)
		_, err = jobs.Reconcile(ctx, deps(k))
		require.ErrorContains(t, err, "list Kratos identities (page 1): GET /admin/identities")
		assert.False(t, b.userRows(t)[bob.ID].Deleted, "a failed listing marks nobody")
	})

	t.Run("bad admin URL", func(t *testing.T) {
		for _, u := range []string{"", "127.0.0.1:4434", "ftp://x"} {
			_, err := jobs.NewKratosIdentities(u, nil, 0)
			require.Error(t, err, u)
		}
	})
}
