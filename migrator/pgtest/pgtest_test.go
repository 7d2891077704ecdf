package pgtest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestNewGivesMigratedIsolatedDatabases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := pgtest.New(t), pgtest.New(t)
	require.NotEqual(t, a.Name, b.Name)

	var user string
	require.NoError(t, a.Pool.QueryRow(ctx, "SELECT current_user").Scan(&user))
	if pgtestExternal() {
		t.Logf("TEST_DATABASE_URL set: connected as %s", user)
	} else {
		require.Equal(t, pgtest.RoleServer, user)
	}
	var ssl bool
	require.NoError(t, a.Pool.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl))
	require.True(t, ssl, "test connections must use TLS")

	_, err := a.Pool.Exec(ctx, "INSERT INTO users (id, email) VALUES (gen_random_uuid(), 'a@example.com')")
	require.NoError(t, err)
	var n int
	require.NoError(t, b.Pool.QueryRow(ctx, "SELECT count(*) FROM users").Scan(&n))
	require.Zero(t, n, "a row written in one test's database must not appear in another's")
	require.NoError(t, a.Pool.QueryRow(ctx, "SELECT count(*) FROM river_job").Scan(&n), "River's tables are migrated too")
}

func TestNewEmptyHasNoSchema(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmpty(t)
	require.Nil(t, db.Pool)
	require.NotEmpty(t, db.MigratorURL)
}
