package auth_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/server/internal/auth"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
)

// upsertUser stands in for the users store (another package): the same
// statement shape against the real schema, as the server role.
func upsertUser(pool *pgxpool.Pool) auth.UserFunc {
	return func(ctx context.Context, u identity.User) error {
		_, err := pool.Exec(ctx, `
			INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email,
				display_name = EXCLUDED.display_name, updated_at = now()`,
			u.ID, u.Email, u.DisplayName)
		return err
	}
}

type userRow struct{ email, name string }

func readUser(t *testing.T, pool *pgxpool.Pool, id string) (userRow, bool) {
	t.Helper()
	var r userRow
	err := pool.QueryRow(t.Context(), `SELECT email, display_name FROM users WHERE id = $1`, id).Scan(&r.email, &r.name)
	if err != nil {
		return userRow{}, false
	}
	return r, true
}

// The first authenticated request creates the user's row; a later
// verification (after the cache entry ran out) brings changed traits over.
func TestFirstRequestUpsertsUser(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	k := kratostest.Shared(t)
	b := setup(t, k, auth.WithOnAuthenticated(upsertUser(db.Pool)))
	u := kratostest.NewUser()
	s := k.Register(t, u.Email, u.Name, u.Password)

	_, found := readUser(t, db.Pool, s.IdentityID)
	require.False(t, found, "no row before the first request")

	_, err := b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.NoError(t, err)
	row, found := readUser(t, db.Pool, s.IdentityID)
	require.True(t, found)
	require.Equal(t, userRow{u.Email, u.Name}, row)

	k.UpdateTraits(t, s, "new-"+u.Email, "New Name")
	b.clock.Advance(auth.DefaultCacheTTL)
	_, err = b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.NoError(t, err)
	row, _ = readUser(t, db.Pool, s.IdentityID)
	require.Equal(t, userRow{"new-" + u.Email, "New Name"}, row)
}
