package schema_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/migrator/schema"
)

// asServer connects to the bundle's database as the server role, with its
// own certificate, the way the server does.
func (b *testBundle) asServer(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := dbconn.Connect(context.Background(), pgtest.Cluster(t).URL(pgtest.RoleServer, b.db.Name), nil)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func requireSQLState(t *testing.T, err error, code string, msgAndArgs ...any) {
	t.Helper()
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr, msgAndArgs...)
	require.Equal(t, code, pgErr.Code, append([]any{"%s: "}, pgErr.Message)...)
}

// grants lists "table privilege" pairs the role holds in the public schema.
func grants(t *testing.T, pool *pgxpool.Pool, role string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT table_name || ' ' || privilege_type FROM information_schema.role_table_grants
		  WHERE grantee = $1 AND table_schema = 'public' ORDER BY 1`, role)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

func TestServerRoleHasDMLOnly(t *testing.T) {
	t.Parallel()
	pgtest.RequireRoles(t)
	b := setupUp(t)
	srv := b.asServer(t)
	ctx := context.Background()

	t.Run("DML", func(t *testing.T) {
		t.Parallel()
		err := pgx.BeginFunc(ctx, srv, func(tx pgx.Tx) error {
			stmts := []string{
				`INSERT INTO users (id, email) VALUES ('00000000-0000-0000-0000-000000000001', 'a@example.com')`,
				`UPDATE users SET display_name = 'A' WHERE id = '00000000-0000-0000-0000-000000000001'`,
				`INSERT INTO accounts (owner_id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'main')`,
				`INSERT INTO account_exports (account_id, owner_id) SELECT id, owner_id FROM accounts`,
				`UPDATE account_exports SET state = 'succeeded', content = '{}', completed_at = now()`,
				`DELETE FROM account_exports`,
				`UPDATE accounts SET deleted_at = now()`,
				`DELETE FROM accounts`,
				`DELETE FROM users`,
				`INSERT INTO river_job (args, kind, max_attempts, priority, queue, state) VALUES ('{}', 'noop', 1, 1, 'default', 'available')`,
				`UPDATE river_job SET state = 'completed', finalized_at = now()`,
				`DELETE FROM river_job`,
				`SELECT count(*) FROM river_queue`,
				`SELECT version, dirty FROM ` + schema.MigrationsTable,
				`SELECT version FROM river_migration`,
			}
			for _, s := range stmts {
				if _, err := tx.Exec(ctx, s); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(t, err)
	})

	t.Run("NoDDL", func(t *testing.T) {
		t.Parallel()
		for _, s := range []string{
			"CREATE TABLE evil (id int)",
			"DROP TABLE users",
			"DROP TABLE river_job",
			"ALTER TABLE users ADD COLUMN evil int",
			"CREATE INDEX evil_idx ON users (email)",
			"TRUNCATE users",
			"CREATE SCHEMA evil",
			"CREATE TEMP TABLE evil (id int)",
			"CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
			"INSERT INTO " + schema.MigrationsTable + " (version, dirty) VALUES (99, false)",
			"UPDATE " + schema.MigrationsTable + " SET dirty = true",
			"DELETE FROM " + schema.MigrationsTable,
			"DELETE FROM river_migration",
		} {
			_, err := srv.Exec(ctx, s)
			requireSQLState(t, err, "42501", "server must not run %q", s)
		}
		// PostgreSQL answers a GRANT without grant option with a warning,
		// not an error: check that it granted nothing.
		_, err := srv.Exec(ctx, "GRANT SELECT ON users TO kratos")
		require.NoError(t, err)
		require.Empty(t, grants(t, b.m.Pool(), pgtest.RoleKratos))
	})

	t.Run("ExactGrants", func(t *testing.T) {
		t.Parallel()
		var want []string
		for _, table := range b.tables(t) {
			if table == schema.MigrationsTable || table == "river_migration" {
				want = append(want, table+" SELECT")
				continue
			}
			want = append(want, table+" DELETE", table+" INSERT", table+" SELECT", table+" UPDATE")
		}
		require.Equal(t, want, grants(t, b.m.Pool(), pgtest.RoleServer))
	})

	var n int
	require.NoError(t, b.m.Pool().QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'evil'").Scan(&n))
	require.Zero(t, n)
}

func TestUpRevokesPrivilegesGrantedByHand(t *testing.T) {
	t.Parallel()
	pgtest.RequireRoles(t)
	b := setupUp(t)
	ctx := context.Background()
	_, err := b.m.Pool().Exec(ctx, "GRANT TRUNCATE, REFERENCES, TRIGGER ON users TO server; GRANT INSERT ON "+schema.MigrationsTable+" TO server")
	require.NoError(t, err)
	require.Contains(t, grants(t, b.m.Pool(), pgtest.RoleServer), "users TRUNCATE")

	_, err = b.m.Up(ctx)
	require.NoError(t, err)
	got := grants(t, b.m.Pool(), pgtest.RoleServer)
	require.NotContains(t, got, "users TRUNCATE")
	require.NotContains(t, got, "users TRIGGER")
	require.NotContains(t, got, schema.MigrationsTable+" INSERT")
	_, err = b.asServer(t).Exec(ctx, "TRUNCATE users")
	requireSQLState(t, err, "42501")
}

func TestUpGrantsToConfiguredRole(t *testing.T) {
	t.Parallel()
	pgtest.RequireRoles(t)
	db := pgtest.NewEmpty(t)
	m := open(t, db.MigratorURL, schema.Options{ServerRole: pgtest.RoleKratos}, nil)
	_, err := m.Up(context.Background())
	require.NoError(t, err)
	require.Contains(t, grants(t, m.Pool(), pgtest.RoleKratos), "users SELECT")
	require.Empty(t, grants(t, m.Pool(), pgtest.RoleServer))

	m2, err := schema.Open(context.Background(), db.MigratorURL, schema.Options{ServerRole: "nobody"})
	require.NoError(t, err)
	t.Cleanup(m2.Close)
	_, err = m2.Up(context.Background())
	require.ErrorContains(t, err, "grant privileges to role nobody")
	requireSQLState(t, err, "42704")
}

func TestRolesHaveNoPassword(t *testing.T) {
	t.Parallel()
	pgtest.RequireRoles(t)
	ctx := context.Background()
	type role struct {
		Name                                     string
		Login, Super, CreateDB, CreateRole, Repl bool
		HasPassword                              bool
	}
	var roles []role
	pgtest.Cluster(t).Superuser(t, func(conn *pgx.Conn) {
		rows, err := conn.Query(ctx, `SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolpassword IS NOT NULL
			FROM pg_authid WHERE rolname = ANY($1) ORDER BY rolname`, []string{pgtest.RoleKratos, pgtest.RoleMigrator, pgtest.RoleServer})
		require.NoError(t, err)
		roles, err = pgx.CollectRows(rows, pgx.RowToStructByPos[role])
		require.NoError(t, err)
	})
	require.Equal(t, []role{
		{Name: pgtest.RoleKratos, Login: true},
		{Name: pgtest.RoleMigrator, Login: true},
		{Name: pgtest.RoleServer, Login: true},
	}, roles, "roles log in with certificates only and hold no special attributes")
}

// TestServerRoleCannotMigrate runs each command as the server role on a
// migrated database: each fails with PostgreSQL's refusal and nothing
// changes.
func TestServerRoleCannotMigrate(t *testing.T) {
	t.Parallel()
	pgtest.RequireRoles(t)
	b := setupUp(t)
	ctx := context.Background()
	before := grants(t, b.m.Pool(), pgtest.RoleServer)
	asServer := open(t, pgtest.Cluster(t).URL(pgtest.RoleServer, b.db.Name), schema.Options{}, nil)

	for name, run := range map[string]func() error{
		"Down":  func() error { return asServer.Down(ctx, 1) },
		"Goto":  func() error { return asServer.Goto(ctx, 1) },
		"Force": func() error { return asServer.Force(ctx, 1) },
	} {
		err := run()
		require.ErrorIs(t, err, schema.ErrNotOwner, name)
	}
	b.requireVersion(t, 3)
	require.Contains(t, b.tables(t), "accounts")
	require.Equal(t, before, grants(t, b.m.Pool(), pgtest.RoleServer))
}
