package pgcluster_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
	"github.com/groundwork-dev/groundwork/internal/shared/pgcluster"
	"github.com/groundwork-dev/groundwork/internal/shared/pki"
	"github.com/groundwork-dev/groundwork/internal/shared/tempcluster"
)

var testCluster = &tempcluster.Shared{Options: tempcluster.Options{Roles: []string{"migrator", "server", "kratos"}, Prefix: "pgcluster-test-"}}

func TestMain(m *testing.M) { testCluster.Main(m) }

// superuser runs fn with the test cluster's superuser connection.
func superuser(t *testing.T, c *tempcluster.Cluster, fn func(*pgx.Conn)) {
	t.Helper()
	require.NoError(t, c.Superuser(func(conn *pgx.Conn) error {
		fn(conn)
		return nil
	}))
}

// openDir returns a new directory that any user may traverse (but not
// list), like the directory a cluster lives in when root runs it as
// another OS user. The test's temporary root is 0700.
func openDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		require.NoError(t, os.Chmod(d, 0o711))
	}
	return dir
}

func mkdir(t *testing.T, path string, mode os.FileMode) string {
	t.Helper()
	require.NoError(t, os.Mkdir(path, mode))
	require.NoError(t, os.Chmod(path, mode)) // not subject to umask
	return path
}

func TestTraversable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give directories to other users: run the tests as root (CI does; no env var enables it)")
	}
	// A user and group that own nothing on this machine.
	const uid, gid = 54321, 54322

	t.Run("Open", func(t *testing.T) {
		t.Parallel()
		a := mkdir(t, filepath.Join(openDir(t), "a"), 0o711)
		b := mkdir(t, filepath.Join(a, "b"), 0o711)
		dir, ok := pgcluster.Traversable(b, uid, gid)
		require.True(t, ok)
		require.Empty(t, dir)
	})

	t.Run("ClosedToOthers", func(t *testing.T) {
		t.Parallel()
		a := mkdir(t, filepath.Join(openDir(t), "a"), 0o750)
		b := mkdir(t, filepath.Join(a, "b"), 0o711)
		dir, ok := pgcluster.Traversable(filepath.Join(b, "data"), uid, gid)
		require.False(t, ok)
		require.Equal(t, a, dir, "names the first directory that blocks")
		_, ok = pgcluster.Traversable(b, 0, 0)
		require.True(t, ok, "its owner may enter it")
	})

	t.Run("MissingPartNotChecked", func(t *testing.T) {
		t.Parallel()
		a := mkdir(t, filepath.Join(openDir(t), "a"), 0o711)
		dir, ok := pgcluster.Traversable(filepath.Join(a, "not", "yet", "there"), uid, gid)
		require.True(t, ok)
		require.Empty(t, dir)
	})

	t.Run("GroupBitsForGroup", func(t *testing.T) {
		t.Parallel()
		a := mkdir(t, filepath.Join(openDir(t), "a"), 0o710)
		require.NoError(t, os.Chown(a, 0, gid))
		_, ok := pgcluster.Traversable(a, uid, gid)
		require.True(t, ok, "group members use the group bits")
		_, ok = pgcluster.Traversable(a, uid, gid+1)
		require.False(t, ok, "others use the others bits")

		// The group bits decide for a member even when others may enter.
		require.NoError(t, os.Chmod(a, 0o701))
		dir, ok := pgcluster.Traversable(a, uid, gid)
		require.False(t, ok)
		require.Equal(t, a, dir)
	})

	t.Run("OwnerBitsForOwner", func(t *testing.T) {
		t.Parallel()
		a := mkdir(t, filepath.Join(openDir(t), "a"), 0o100)
		require.NoError(t, os.Chown(a, uid, gid))
		_, ok := pgcluster.Traversable(a, uid, gid)
		require.True(t, ok)
		require.NoError(t, os.Chmod(a, 0o011))
		_, ok = pgcluster.Traversable(a, uid, gid)
		require.False(t, ok, "the owner uses the owner bits only")
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	dir := openDir(t)
	good := pgcluster.Config{
		DataDir: filepath.Join(dir, "data"), SocketDir: filepath.Join(dir, "run"), LogFile: filepath.Join(dir, "pg.log"), Port: 15432,
	}
	tests := []struct {
		name   string
		modify func(c *pgcluster.Config)
		want   string
	}{
		{"RelativeDataDir", func(c *pgcluster.Config) { c.DataDir = "data" }, `pgcluster: DataDir must be an absolute path, got "data"`},
		{"RelativeSocketDir", func(c *pgcluster.Config) { c.SocketDir = "" }, `pgcluster: SocketDir must be an absolute path, got ""`},
		{"RelativeLogFile", func(c *pgcluster.Config) { c.LogFile = "./pg.log" }, `pgcluster: LogFile must be an absolute path, got "./pg.log"`},
		{"PortZero", func(c *pgcluster.Config) { c.Port = 0 }, "pgcluster: port 0 out of range"},
		{"PortTooHigh", func(c *pgcluster.Config) { c.Port = 65536 }, "pgcluster: port 65536 out of range"},
		{"SocketPathTooLong", func(c *pgcluster.Config) { c.SocketDir = "/" + strings.Repeat("x", 100) }, "is longer than 107 bytes; use a shorter directory"},
	}
	if os.Geteuid() == 0 {
		closed := mkdir(t, filepath.Join(dir, "closed"), 0o700)
		tests = append(tests,
			struct {
				name   string
				modify func(c *pgcluster.Config)
				want   string
			}{"UnknownRunAs", func(c *pgcluster.Config) { c.RunAs = "no-such-user-here" }, `running as root, PostgreSQL needs an unprivileged OS user "no-such-user-here"`},
			struct {
				name   string
				modify func(c *pgcluster.Config)
				want   string
			}{"Unreachable", func(c *pgcluster.Config) { c.DataDir = filepath.Join(closed, "data") }, "cannot enter " + closed},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := good
			tt.modify(&cfg)
			_, err := pgcluster.New(cfg)
			require.ErrorContains(t, err, tt.want)
		})
	}
	_, err := pgcluster.New(good)
	require.NoError(t, err)
	require.NoDirExists(t, good.DataDir, "New touches nothing")
}

func TestCheckPortFree(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	port := l.Addr().(*net.TCPAddr).Port

	dir := openDir(t)
	c, err := pgcluster.New(pgcluster.Config{
		DataDir: filepath.Join(dir, "data"), SocketDir: filepath.Join(dir, "run"), LogFile: filepath.Join(dir, "pg.log"), Port: port,
	})
	require.NoError(t, err)
	err = c.CheckPortFree(t.Context())
	require.ErrorIs(t, err, freeport.ErrInUse)
	require.EqualError(t, err, fmt.Sprintf("127.0.0.1:%d is held by another program: port in use", port))

	// Start refuses before touching anything.
	require.ErrorIs(t, c.Start(context.Background()), freeport.ErrInUse)
	require.NoFileExists(t, filepath.Join(dir, "pg.log"))
}

func TestFindBinaries(t *testing.T) {
	t.Parallel()
	b, err := pgcluster.FindBinaries()
	require.NoError(t, err)
	for _, name := range []string{"initdb", "postgres", "pg_ctl"} {
		require.FileExists(t, b.Path(name))
	}
	v, err := b.Version()
	require.NoError(t, err)
	require.GreaterOrEqual(t, v, 15, "PostgreSQL 15 or newer")
	if _, err := os.Stat("/usr/lib/postgresql/15/bin/initdb"); err == nil && v == 15 {
		// This machine's layout: Debian's directory, reached through the
		// /usr/local/bin symlinks or by scanning /usr/lib/postgresql.
		require.Equal(t, "/usr/lib/postgresql/15/bin", b.Dir)
	}

	_, err = pgcluster.Binaries{Dir: t.TempDir()}.Version()
	require.ErrorContains(t, err, "run postgres --version")
}

type bootstrapBundle struct {
	env   *tempcluster.Cluster
	plan  pgcluster.Plan
	owner string
	app   string
	db    string
}

// setupBootstrap names roles and a database of its own on the shared test
// cluster, dropped at the end.
func setupBootstrap(t *testing.T) *bootstrapBundle {
	t.Helper()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	id := "bt_" + hex.EncodeToString(suffix)
	b := &bootstrapBundle{env: testCluster.Get(t), owner: id + "_owner", app: id + "_app", db: id}
	b.plan = pgcluster.Plan{
		Roles:     []string{b.owner, b.app},
		Databases: []pgcluster.Database{{Name: b.db, Owner: b.owner, Connect: []string{b.app}}},
	}
	t.Cleanup(func() {
		superuser(t, b.env, func(conn *pgx.Conn) {
			ctx := context.Background()
			for _, s := range []string{"DROP DATABASE IF EXISTS " + b.db + " WITH (FORCE)", "DROP ROLE IF EXISTS " + b.owner, "DROP ROLE IF EXISTS " + b.app} {
				if _, err := conn.Exec(ctx, s); err != nil {
					t.Errorf("clean up: %s: %v", s, err)
				}
			}
		})
	})
	return b
}

func (b *bootstrapBundle) bootstrap(t *testing.T) {
	t.Helper()
	superuser(t, b.env, func(conn *pgx.Conn) {
		require.NoError(t, pgcluster.Bootstrap(context.Background(), conn, b.plan))
	})
}

func (b *bootstrapBundle) exec(t *testing.T, sql string) {
	t.Helper()
	superuser(t, b.env, func(conn *pgx.Conn) {
		_, err := conn.Exec(context.Background(), sql)
		require.NoError(t, err)
	})
}

type roleState struct {
	Name                                                    string
	Login, Inherit, Super, CreateDB, CreateRole, Repl, BRLS bool
	Password                                                bool
}

type dbState struct {
	Owner                             string
	OwnerConnect, AppConnect, Others  bool // may connect
	PublicTemp, AppCreate, KratosConn bool
}

func (b *bootstrapBundle) state(t *testing.T) ([]roleState, dbState) {
	t.Helper()
	ctx := context.Background()
	var roles []roleState
	var db dbState
	superuser(t, b.env, func(conn *pgx.Conn) {
		rows, err := conn.Query(ctx, `SELECT rolname, rolcanlogin, rolinherit, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,
			rolpassword IS NOT NULL FROM pg_authid WHERE rolname = ANY($1) ORDER BY rolname`, b.plan.Roles)
		require.NoError(t, err)
		roles, err = pgx.CollectRows(rows, pgx.RowToStructByPos[roleState])
		require.NoError(t, err)
		require.NoError(t, conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba),
			has_database_privilege($2, datname, 'CONNECT'), has_database_privilege($3, datname, 'CONNECT'),
			has_database_privilege('server', datname, 'CONNECT'),
			has_database_privilege('public', datname, 'TEMP'), has_database_privilege($3, datname, 'CREATE'),
			has_database_privilege('kratos', datname, 'CONNECT')
			FROM pg_database WHERE datname = $1`, b.db, b.owner, b.app).
			Scan(&db.Owner, &db.OwnerConnect, &db.AppConnect, &db.Others, &db.PublicTemp, &db.AppCreate, &db.KratosConn))
	})
	return roles, db
}

func TestBootstrap(t *testing.T) {
	t.Parallel()
	b := setupBootstrap(t)
	wantRoles := []roleState{
		{Name: b.app, Login: true, Inherit: true},
		{Name: b.owner, Login: true, Inherit: true},
	}
	wantDB := dbState{Owner: b.owner, OwnerConnect: true, AppConnect: true}

	b.bootstrap(t)
	roles, db := b.state(t)
	require.Equal(t, wantRoles, roles, "roles log in without password and hold no special attributes")
	require.Equal(t, wantDB, db, "only the owner and the Connect roles may connect")

	b.bootstrap(t)
	roles, db = b.state(t)
	require.Equal(t, wantRoles, roles, "running it again changes nothing")
	require.Equal(t, wantDB, db)

	// Changes made by hand are undone.
	b.exec(t, "ALTER ROLE "+b.app+" PASSWORD 'hunter2' CREATEDB CREATEROLE")
	b.exec(t, "ALTER DATABASE "+b.db+" OWNER TO "+b.app)
	b.bootstrap(t)
	roles, db = b.state(t)
	require.Equal(t, wantRoles, roles, "the password and the attributes are removed")
	require.Equal(t, wantDB, db, "the owner is restored")

	b.exec(t, "GRANT ALL ON DATABASE "+b.db+" TO PUBLIC")
	b.exec(t, "GRANT CREATE ON DATABASE "+b.db+" TO "+b.app)
	b.exec(t, "GRANT CONNECT ON DATABASE "+b.db+" TO kratos")
	_, db = b.state(t)
	require.True(t, db.AppCreate && db.KratosConn && db.PublicTemp, "the grants by hand took effect")
	b.bootstrap(t)
	_, db = b.state(t)
	require.Equal(t, wantDB, db, "grants made by hand are revoked")
}

func TestBootstrapFailsClearly(t *testing.T) {
	t.Parallel()
	b := setupBootstrap(t)
	b.plan.Databases[0].Owner = "no_such_role"
	superuser(t, b.env, func(conn *pgx.Conn) {
		err := pgcluster.Bootstrap(context.Background(), conn, b.plan)
		require.ErrorContains(t, err, "create database "+b.db)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		require.Equal(t, "42704", pgErr.Code)
	})
}

// TestSuperuserOnlyOverSocket shows the test cluster's pg_hba at work: a
// certificate from the cluster's own CA, CN postgres, does not let anyone
// in as the superuser over TCP.
func TestSuperuserOnlyOverSocket(t *testing.T) {
	t.Parallel()
	env := testCluster.Get(t)

	// Issue the certificate with the cluster's CA: copy it, let Ensure
	// sign a leaf with it.
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(dir, pki.PostgresCA), os.DirFS(filepath.Join(env.PKIDir, pki.PostgresCA))))
	rep, err := pki.Ensure(dir, pki.Spec{CAs: []string{pki.PostgresCA}, Leaves: []pki.Leaf{{
		Secret: "su", CA: pki.PostgresCA, CommonName: pgcluster.Superuser, Usage: pki.ClientAuth,
	}}}, pki.Options{})
	require.NoError(t, err)
	require.Equal(t, []string{"su"}, rep.Issued, "the copied CA signs it")

	u, err := url.Parse(env.URL("server", "postgres"))
	require.NoError(t, err)
	u.User = url.User(pgcluster.Superuser)
	q := u.Query()
	su := pki.SecretPaths(dir, "su")
	q.Set("sslcert", su.Cert)
	q.Set("sslkey", su.Key)
	u.RawQuery = q.Encode()

	_, err = pgx.Connect(context.Background(), u.String())
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "28000", pgErr.Code)
	require.Contains(t, pgErr.Message, `pg_hba.conf rejects connection for host "127.0.0.1", user "postgres"`)
}
