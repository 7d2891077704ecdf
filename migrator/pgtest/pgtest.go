// Package pgtest gives every Go test in the workspace a real, migrated,
// isolated PostgreSQL database, connected as the least-privileged `server`
// role over TLS with its client certificate: the same way the server
// connects in production.
//
// One throwaway cluster is started per test process, from the system's
// PostgreSQL binaries, on the first call to New; each test gets its own
// database, copied from a template migrated once, and dropped when the test
// ends. Main stops the cluster and removes its files when the tests are done:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		db := pgtest.New(t)
//		_, err := db.Pool.Exec(ctx, "INSERT INTO users ...")
//	}
//
// If the process dies, the kernel signals the cluster to shut down
// (PR_SET_PDEATHSIG), so a crashed test run leaves no server behind.
//
// With TEST_DATABASE_URL set, no cluster is started: the URL must name a
// role allowed to create databases, and each test's database is created and
// used with that role (so role separation is not exercised; tests that need
// it call RequireRoles).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/migrator/dbconn"
	"github.com/groundwork-dev/groundwork/migrator/pgcluster"
	"github.com/groundwork-dev/groundwork/migrator/pki"
	"github.com/groundwork-dev/groundwork/migrator/schema"
)

// EnvURL names an existing database server to use instead of a throwaway
// cluster.
const EnvURL = "TEST_DATABASE_URL"

// Roles of the test cluster, as in production.
const (
	RoleMigrator = "migrator"
	RoleServer   = "server"
	RoleKratos   = "kratos"
)

const templateDB = "pgtest_template"

// DB is one test's database.
type DB struct {
	Name string
	// Pool is connected as the server role (with TEST_DATABASE_URL: as that
	// URL's role).
	Pool *pgxpool.Pool
	// URL connects as the server role; MigratorURL as the schema owner.
	URL, MigratorURL string
}

var (
	mu        sync.Mutex
	mainRan   bool
	shared    *env
	sharedErr error
)

// Main runs the tests, then stops the cluster and deletes its files.
func Main(m *testing.M) {
	mu.Lock()
	mainRan = true
	mu.Unlock()
	code := m.Run()
	mu.Lock()
	if shared != nil {
		shared.close()
	}
	mu.Unlock()
	os.Exit(code)
}

// New returns a fresh database migrated to the latest schema, dropped when
// the test ends.
func New(t testing.TB) *DB {
	t.Helper()
	e := get(t)
	return e.newDB(t, templateDB)
}

// NewEmpty returns a fresh database without any schema, owned by the
// migrator role (for tests of migrations themselves). Pool is nil.
func NewEmpty(t testing.TB) *DB {
	t.Helper()
	e := get(t)
	return e.newDB(t, "")
}

// Env is the shared cluster, for tests that need more than a database.
type Env struct{ e *env }

// Cluster returns the shared test cluster.
func Cluster(t testing.TB) Env {
	t.Helper()
	return Env{get(t)}
}

// RequireRoles skips the test when the databases do not come from the
// throwaway cluster, where each role has its own certificate.
func RequireRoles(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvURL) != "" {
		t.Skipf("needs separate roles with their own certificates, which only the throwaway cluster has: unset %s to run it", EnvURL)
	}
}

// URL returns a connection URL for role on database with the role's own
// certificate. Modify it to test rejected logins.
func (e Env) URL(role, database string) string { return e.e.url(role, database) }

// CertPaths returns the files of a role's client certificate.
func (e Env) CertPaths(role string) pki.Paths {
	return pki.SecretPaths(e.e.pkiDir, pki.DBClientSecret(role))
}

// PKIDir is the directory of the cluster's certificates.
func (e Env) PKIDir() string { return e.e.pkiDir }

// Superuser runs fn with a superuser connection (over the unix socket).
func (e Env) Superuser(t testing.TB, fn func(*pgx.Conn)) {
	t.Helper()
	e.e.adminMu.Lock()
	defer e.e.adminMu.Unlock()
	fn(e.e.admin)
}

type env struct {
	dir     string // removed at the end
	pkiDir  string
	cluster *pgcluster.Cluster
	child   *pgcluster.Child
	port    int
	adminMu sync.Mutex
	admin   *pgx.Conn
	// external is set when TEST_DATABASE_URL names the server.
	external *url.URL
}

func get(t testing.TB) *env {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !mainRan {
		t.Fatal("pgtest: add `func TestMain(m *testing.M) { pgtest.Main(m) }` to this package so the test cluster is removed at the end")
	}
	if shared == nil && sharedErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if u := os.Getenv(EnvURL); u != "" {
			shared, sharedErr = startExternal(ctx, u)
		} else {
			shared, sharedErr = start(ctx)
		}
	}
	if sharedErr != nil {
		t.Fatalf("pgtest: %v", sharedErr)
	}
	return shared
}

func start(ctx context.Context) (*env, error) {
	bin, err := pgcluster.FindBinaries()
	if err != nil {
		return nil, fmt.Errorf("%w: install them (apt-get install -y postgresql), let `go tool mage test` install them, or set %s", err, EnvURL)
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	// The unprivileged server user (when running as root) must enter it;
	// listing it is not needed.
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, fmt.Errorf("chmod cluster directory: %w", err)
	}
	e := &env{dir: dir, pkiDir: filepath.Join(dir, "pki")}
	if err := e.startCluster(ctx, bin); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *env) startCluster(ctx context.Context, bin pgcluster.Binaries) error {
	if _, err := pki.Ensure(e.pkiDir, pki.PostgresTree(RoleMigrator, RoleServer, RoleKratos), pki.Options{}); err != nil {
		return fmt.Errorf("issue test certificates: %w", err)
	}
	srv := pki.SecretPaths(e.pkiDir, pki.PostgresServerSecret)
	var lastErr error
	// A free port can be taken by another process between the check and
	// postgres binding it: try a few.
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		c, err := pgcluster.New(pgcluster.Config{
			Bin:       bin,
			DataDir:   filepath.Join(e.dir, "data"),
			SocketDir: filepath.Join(e.dir, "run"),
			LogFile:   filepath.Join(e.dir, "postgres.log"),
			Port:      port,
			TLS:       pgcluster.TLSFiles{Cert: srv.Cert, Key: srv.Key, ClientCA: srv.CA},
			HBA: []pgcluster.HBARule{
				pgcluster.CertRule("all", RoleMigrator+","+RoleServer+","+RoleKratos, "127.0.0.1/32"),
			},
			// Durability buys nothing for a cluster deleted after the run.
			Settings: map[string]string{
				"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
				"max_connections": "300", "shared_buffers": "'64MB'",
			},
			NoSync: true,
		})
		if err != nil {
			return err
		}
		if err := c.Init(ctx); err != nil {
			return err
		}
		if _, err := c.Configure(); err != nil {
			return err
		}
		child, err := c.StartChild(ctx)
		if err != nil {
			lastErr = err
			continue
		}
		e.cluster, e.child, e.port = c, child, port
		return e.bootstrap(ctx)
	}
	return fmt.Errorf("start test cluster: %w", lastErr)
}

func (e *env) bootstrap(ctx context.Context) error {
	admin, err := e.cluster.ConnectSuperuser(ctx, "postgres")
	if err != nil {
		return err
	}
	e.admin = admin
	plan := pgcluster.Plan{
		Roles:     []string{RoleMigrator, RoleServer, RoleKratos},
		Databases: []pgcluster.Database{{Name: templateDB, Owner: RoleMigrator, Connect: []string{RoleServer}}},
	}
	if err := pgcluster.Bootstrap(ctx, admin, plan); err != nil {
		return err
	}
	m, err := schema.Open(ctx, e.url(RoleMigrator, templateDB), schema.Options{ServerRole: RoleServer})
	if err != nil {
		return fmt.Errorf("open template database: %w", err)
	}
	defer m.Close()
	if _, err := m.Up(ctx); err != nil {
		return fmt.Errorf("migrate template database: %w", err)
	}
	return nil
}

func startExternal(ctx context.Context, raw string) (*env, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("%s must be a postgres:// URL", EnvURL)
	}
	conn, err := pgx.Connect(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", EnvURL, dbconn.Explain(err, u.User.Username(), strings.TrimPrefix(u.Path, "/"), u.Hostname(), 0))
	}
	e := &env{admin: conn, external: u}
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+templateDB+" WITH (FORCE)"); err != nil {
		return nil, fmt.Errorf("drop stale template: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+templateDB); err != nil {
		return nil, fmt.Errorf("create template database (the role in %s needs CREATEDB): %w", EnvURL, err)
	}
	m, err := schema.Open(ctx, e.url("", templateDB), schema.Options{ServerRole: u.User.Username()})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if _, err := m.Up(ctx); err != nil {
		return nil, fmt.Errorf("migrate template database: %w", err)
	}
	return e, nil
}

// url builds a certificate URL for role, or with TEST_DATABASE_URL that URL
// pointed at database.
func (e *env) url(role, database string) string {
	if e.external != nil {
		u := *e.external
		u.Path = "/" + database
		return u.String()
	}
	ca := pki.SecretPaths(e.pkiDir, pki.PostgresServerSecret).CA
	c := pki.SecretPaths(e.pkiDir, pki.DBClientSecret(role))
	q := url.Values{}
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", ca)
	q.Set("sslcert", c.Cert)
	q.Set("sslkey", c.Key)
	u := url.URL{Scheme: "postgres", User: url.User(role), Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(e.port)), Path: "/" + database, RawQuery: q.Encode()}
	return u.String()
}

func (e *env) newDB(t testing.TB, template string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "t_" + randHex(6)
	e.adminMu.Lock()
	var err error
	if e.external != nil {
		sql := "CREATE DATABASE " + name
		if template != "" {
			sql += " TEMPLATE " + template
		}
		_, err = e.admin.Exec(ctx, sql)
	} else {
		err = pgcluster.CreateDatabase(ctx, e.admin, pgcluster.Database{Name: name, Owner: RoleMigrator, Connect: []string{RoleServer}}, template)
	}
	e.adminMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	db := &DB{Name: name, URL: e.url(RoleServer, name), MigratorURL: e.url(RoleMigrator, name)}
	t.Cleanup(func() {
		if db.Pool != nil {
			db.Pool.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.adminMu.Lock()
		defer e.adminMu.Unlock()
		if _, err := e.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	if template != "" {
		pool, err := dbconn.Connect(ctx, db.URL, nil)
		if err != nil {
			t.Fatalf("pgtest: connect as %s: %v", RoleServer, err)
		}
		db.Pool = pool
	}
	return db
}

func (e *env) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if e.admin != nil {
		if e.external != nil {
			_, _ = e.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+templateDB+" WITH (FORCE)")
		}
		_ = e.admin.Close(ctx)
	}
	if e.child != nil {
		e.child.Stop()
	}
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0") //nolint:noctx // an instant local bind
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("crypto/rand failed"))
	}
	return hex.EncodeToString(b)
}
