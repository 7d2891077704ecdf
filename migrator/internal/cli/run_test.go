package cli_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/migrator/internal/cli"
	"github.com/groundwork-dev/groundwork/migrator/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, getenv func(string) string, args ...string) result {
	t.Helper()
	if getenv == nil {
		getenv = env(nil)
	}
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), args, getenv, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// requireFailed checks the outcome of a failed command: exit 1, nothing on
// stdout, one line on stderr that starts with "migrator: " and holds want.
func requireFailed(t *testing.T, r result, want string) {
	t.Helper()
	require.Equal(t, 1, r.code, "stderr: %s", r.stderr)
	require.Empty(t, r.stdout)
	require.True(t, strings.HasPrefix(r.stderr, "migrator: "), "stderr: %q", r.stderr)
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line on stderr: %q", r.stderr)
	require.True(t, strings.HasSuffix(r.stderr, "\n"))
	require.Contains(t, r.stderr, want)
}

type testBundle struct {
	db  *pgtest.DB
	env pgtest.Env
}

// setup gives an empty database; setupUp one migrated by `migrator up`.
func setup(t *testing.T) *testBundle {
	t.Helper()
	return &testBundle{db: pgtest.NewEmpty(t), env: pgtest.Cluster(t)}
}

func setupUp(t *testing.T) *testBundle {
	t.Helper()
	b := setup(t)
	r := run(t, nil, "--database-url", b.db.MigratorURL, "up")
	require.Equal(t, 0, r.code, r.stderr)
	return b
}

// state describes everything a command could change: the version row,
// every table and column, and the server role's privileges.
func (b *testBundle) state(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.db.MigratorURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	query := `
SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'grant ' || grantee || ' ' || table_name || ' ' || privilege_type FROM information_schema.role_table_grants WHERE table_schema = 'public'`
	var hasVersion bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT to_regclass('public.schema_migrations') IS NOT NULL").Scan(&hasVersion))
	if hasVersion {
		query += "\nUNION ALL\nSELECT 'version ' || version || ' dirty=' || dirty FROM schema_migrations"
	}
	rows, err := conn.Query(ctx, query+"\nORDER BY 1")
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return strings.Join(lines, "\n")
}

func TestRunUp(t *testing.T) {
	t.Parallel()
	b := setup(t)

	r := run(t, env(map[string]string{dbconn.EnvVar: b.db.MigratorURL}), "up")
	require.Equal(t, 0, r.code, r.stderr)
	require.Empty(t, r.stderr)
	require.Contains(t, r.stdout, "river schema: applied versions [1 2 ")
	require.Contains(t, r.stdout, "app schema: version none → 3\n")
	require.Regexp(t, `(?m)^schema migrated to version 3 \([0-9.]+m?s\)$`, r.stdout)

	r = run(t, nil, "up", "--database-url", b.db.MigratorURL)
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `^schema is up to date at version 3 \([0-9.]+m?s\)\n$`, r.stdout, "nothing else to say the second time")

	// The server role can use what up created.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.env.URL(pgtest.RoleServer, b.db.Name))
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "INSERT INTO users (id, email) VALUES (gen_random_uuid(), 'a@example.com')")
	require.NoError(t, err)
}

func TestRunVersion(t *testing.T) {
	t.Parallel()

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r := run(t, nil, "version", "--database-url", b.db.MigratorURL)
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, "version none (clean), latest available 3\n", r.stdout)
		require.Empty(t, b.state(t), "version changes nothing")
	})

	t.Run("Migrated", func(t *testing.T) {
		t.Parallel()
		b := setupUp(t)
		r := run(t, nil, "version", "--database-url", b.db.MigratorURL)
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, "version 3 (clean), latest available 3\n", r.stdout)
		require.Empty(t, r.stderr)
	})

	t.Run("Dirty", func(t *testing.T) {
		t.Parallel()
		b := setupUp(t)
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, b.db.MigratorURL)
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "UPDATE schema_migrations SET dirty = true")
		require.NoError(t, err)

		r := run(t, nil, "version", "--database-url", b.db.MigratorURL)
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, "version 3 (dirty), latest available 3\n", r.stdout)

		before := b.state(t)
		requireFailed(t, run(t, nil, "up", "--database-url", b.db.MigratorURL), "the database is marked dirty at version 3")
		require.Equal(t, before, b.state(t))

		r = run(t, nil, "force", "3", "--database-url", b.db.MigratorURL)
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, "app schema: version recorded as 3\n", r.stdout)
		r = run(t, nil, "version", "--database-url", b.db.MigratorURL)
		require.Equal(t, "version 3 (clean), latest available 3\n", r.stdout)
	})
}

func TestRunDownGotoForce(t *testing.T) {
	t.Parallel()
	b := setupUp(t)
	u := b.db.MigratorURL
	version := func() string {
		t.Helper()
		r := run(t, nil, "version", "--database-url", u)
		require.Equal(t, 0, r.code, r.stderr)
		return strings.TrimSuffix(r.stdout, "\n")
	}

	r := run(t, nil, "down", "1", "--database-url", u)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "app schema: version 3 → 2\n", r.stdout)
	require.Equal(t, "version 2 (clean), latest available 3", version())

	r = run(t, nil, "goto", "3", "--database-url", u)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "app schema: version 2 → 3\n", r.stdout)
	require.Equal(t, "version 3 (clean), latest available 3", version())

	migrated := b.state(t)
	r = run(t, nil, "force", "-1", "--database-url", u)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "app schema: version recorded as none\n", r.stdout)
	require.Equal(t, "version none (clean), latest available 3", version())

	r = run(t, nil, "--database-url", u, "force", "3")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, migrated, b.state(t), "force runs nothing: the schema is as it was")
}

// TestRunBadInputChangesNothing runs commands that must fail on a migrated
// database and checks that each leaves it exactly as it was.
func TestRunBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	pgtest.RequireRoles(t)
	b := setupUp(t)
	before := b.state(t)
	migrator := b.db.MigratorURL
	server := b.env.URL(pgtest.RoleServer, b.db.Name)
	modify := func(raw string, f func(u *url.URL, q url.Values)) string {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		q := u.Query()
		f(u, q)
		u.RawQuery = q.Encode()
		return u.String()
	}
	serverCert := b.env.CertPaths(pgtest.RoleServer)

	tests := []struct {
		name   string
		args   []string
		getenv func(string) string
		code   int
		want   string
	}{
		{"GotoUnknownVersion", []string{"goto", "7", "--database-url", migrator}, nil, 1, "goto 7: no migration has that version"},
		{"ForceUnknownVersion", []string{"force", "99", "--database-url", migrator}, nil, 1, "force 99: no migration has that version"},
		{"DownZero", []string{"down", "0", "--database-url", migrator}, nil, 2, "down: 0 is out of range"},
		{"DownNotANumber", []string{"down", "all", "--database-url", migrator}, nil, 2, `down: "all" is not a number`},
		{"UnknownCommand", []string{"drop", "--database-url", migrator}, nil, 2, `unknown command "drop"`},
		{"NoURL", []string{"down", "1"}, nil, 1, "no database URL: pass --database-url or set DATABASE_URL"},
		{"SSLDisabled", []string{"down", "1", "--database-url", modify(migrator, func(_ *url.URL, q url.Values) { q.Set("sslmode", "disable") })}, nil, 1,
			"sslmode is disable; it must be verify-full"},
		{"OtherRolesCertificate", []string{"down", "2", "--database-url", modify(migrator, func(_ *url.URL, q url.Values) {
			q.Set("sslcert", serverCert.Cert)
			q.Set("sslkey", serverCert.Key)
		})}, nil, 1, `certificate is for role "server" (its CN) but the URL connects as "migrator"`},
		{"DownAsServer", []string{"down", "1"}, env(map[string]string{dbconn.EnvVar: server}), 1, "is owned by"},
		{"GotoAsServer", []string{"goto", "1", "--database-url", server}, nil, 1, "is owned by"},
		{"ForceAsServer", []string{"force", "1", "--database-url", server}, nil, 1, "is owned by"},
		{"WrongPassword", []string{"down", "1", "--database-url", modify(migrator, func(u *url.URL, _ url.Values) {
			u.User = url.UserPassword(pgtest.RoleMigrator, "s3cret")
			u.Host = "127.0.0.1:1"
		})}, nil, 1, "PostgreSQL unreachable: nothing listens on 127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.getenv, tt.args...)
			if tt.code == 2 {
				require.Equal(t, 2, r.code, r.stderr)
				require.Empty(t, r.stdout)
				require.True(t, strings.HasPrefix(r.stderr, "migrator: "+tt.want+"\n\nusage: migrator"), "stderr: %q", r.stderr)
			} else {
				requireFailed(t, r, tt.want)
			}
			require.NotContains(t, r.stderr, "s3cret", "the URL's password is never printed")
			require.Equal(t, before, b.state(t), "a failed command leaves the database as it was")
		})
	}
}

func TestRunUpAsServerChangesNothing(t *testing.T) {
	t.Parallel()
	pgtest.RequireRoles(t)

	// Refused before anything runs, on a migrated database and an empty one.
	b := setupUp(t)
	before := b.state(t)
	r := run(t, nil, "up", "--database-url", b.env.URL(pgtest.RoleServer, b.db.Name))
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, `connected as role "server", but database`)
	require.Contains(t, r.stderr, `run the migrator as "migrator"`)
	require.Equal(t, before, b.state(t))

	e := setup(t)
	r = run(t, nil, "up", "--database-url", e.env.URL(pgtest.RoleServer, e.db.Name))
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "is owned by")
	require.Empty(t, e.state(t))
}

func TestRunBadURL(t *testing.T) {
	t.Parallel()
	r := run(t, nil, "up", "--database-url", "postgres://migrator:s3cret@%zz/app")
	require.Equal(t, "migrator: database URL is malformed: invalid URL escape \"%zz\"\n", r.stderr)
	require.Equal(t, 1, r.code)
	require.Empty(t, r.stdout)
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"-h"}, {"help"}} {
		r := run(t, nil, args...)
		require.Equal(t, 2, r.code)
		require.Empty(t, r.stdout)
		require.True(t, strings.HasPrefix(r.stderr, "migrator: "), "stderr: %q", r.stderr)
		require.Contains(t, r.stderr, "\n\nusage: migrator [--database-url URL] <command> [args]\n")
		for _, cmd := range []string{"up", "down N", "goto V", "version", "force V", "create NAME"} {
			require.Contains(t, r.stderr, "\n  "+cmd+" ")
		}
	}
}

func TestRunCreate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	r := run(t, nil, "create", "add_widgets", "--dir", dir)
	require.Equal(t, 0, r.code, r.stderr)
	up, down := filepath.Join(dir, "000001_add_widgets.up.sql"), filepath.Join(dir, "000001_add_widgets.down.sql")
	require.Equal(t, "created "+up+"\ncreated "+down+"\n", r.stdout)
	require.FileExists(t, up)
	require.FileExists(t, down)

	r = run(t, nil, "create", "Add-Widgets", "--dir", dir)
	requireFailed(t, r, `create: migration name "Add-Widgets" must be lower_snake_case`)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "nothing is written for a bad name")

	r = run(t, nil, "create", "x", "--dir", filepath.Join(dir, "missing"))
	requireFailed(t, r, "create: read migrations directory")
}

// Not parallel: it changes the working directory.
func TestRunCreateFindsMigrationsDirectory(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "migrator", "migrations"), 0o755))
	t.Chdir(root)

	r := run(t, nil, "create", "from_repo_root")
	require.Equal(t, 0, r.code, r.stderr)
	require.FileExists(t, filepath.Join(root, "migrator", "migrations", "000001_from_repo_root.up.sql"))

	t.Chdir(t.TempDir())
	requireFailed(t, run(t, nil, "create", "nowhere"), "create: no migrations directory here; run it from the repository root or migrator/, or pass --dir")
}
