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
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/internal/shared/pgcluster"
	"github.com/groundwork-dev/groundwork/internal/shared/pki"
	"github.com/groundwork-dev/groundwork/internal/shared/tempcluster"
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
	return e.e.cluster.CertPaths(role)
}

// PKIDir is the directory of the cluster's certificates.
func (e Env) PKIDir() string { return e.e.cluster.PKIDir }

// Superuser runs fn with a superuser connection (over the unix socket).
func (e Env) Superuser(t testing.TB, fn func(*pgx.Conn)) {
	t.Helper()
	_ = e.e.superuser(func(conn *pgx.Conn) error {
		fn(conn)
		return nil
	})
}

type env struct {
	cluster *tempcluster.Cluster
	// external is set when TEST_DATABASE_URL names the server: it replaces
	// the cluster, and admin is the connection to it.
	external *url.URL
	adminMu  sync.Mutex
	admin    *pgx.Conn
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
	c, err := tempcluster.Start(ctx, tempcluster.Options{
		Roles:    []string{RoleMigrator, RoleServer, RoleKratos},
		Settings: map[string]string{"max_connections": "300", "shared_buffers": "'64MB'"},
		Prefix:   "pgtest-",
	})
	if err != nil {
		return nil, fmt.Errorf("%w (or set %s)", err, EnvURL)
	}
	e := &env{cluster: c}
	if err := e.migrateTemplate(ctx); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// migrateTemplate creates the template every test database is copied
// from, migrated once per process.
func (e *env) migrateTemplate(ctx context.Context) error {
	err := e.cluster.CreateDatabase(ctx, pgcluster.Database{Name: templateDB, Owner: RoleMigrator, Connect: []string{RoleServer}}, "")
	if err != nil {
		return fmt.Errorf("create template database: %w", err)
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
	return e.cluster.URL(role, database)
}

// superuser runs fn with a superuser connection, one caller at a time:
// the cluster's, or with TEST_DATABASE_URL the connection to that server.
func (e *env) superuser(fn func(*pgx.Conn) error) error {
	if e.external == nil {
		return e.cluster.Superuser(fn)
	}
	e.adminMu.Lock()
	defer e.adminMu.Unlock()
	return fn(e.admin)
}

func (e *env) newDB(t testing.TB, template string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "t_" + randHex(6)
	err := e.superuser(func(conn *pgx.Conn) error {
		if e.external != nil {
			sql := "CREATE DATABASE " + name
			if template != "" {
				sql += " TEMPLATE " + template
			}
			_, err := conn.Exec(ctx, sql)
			return err
		}
		return pgcluster.CreateDatabase(ctx, conn, pgcluster.Database{Name: name, Owner: RoleMigrator, Connect: []string{RoleServer}}, template)
	})
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
		if err := e.superuser(func(conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			return err
		}); err != nil {
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
	if e.external != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = e.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+templateDB+" WITH (FORCE)")
		_ = e.admin.Close(ctx)
	}
	if e.cluster != nil {
		e.cluster.Close()
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("crypto/rand failed"))
	}
	return hex.EncodeToString(b)
}
