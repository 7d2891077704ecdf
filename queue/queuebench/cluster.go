package queuebench

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/migrator/dbconn"
	"github.com/groundwork-dev/groundwork/migrator/pgcluster"
	"github.com/groundwork-dev/groundwork/migrator/pki"
	"github.com/groundwork-dev/groundwork/migrator/schema"
)

const (
	roleMigrator = "migrator"
	roleServer   = "server"
	templateDB   = "queuebench_template"
)

// cluster is the benchmark's private PostgreSQL: a throwaway cluster from
// the system's binaries, with the project's certificates, roles and
// schema, as in production (TLS, certificate logins, the server role),
// durability off as in the tests (both sides pay the same, and the
// machine's disk stays out of the ratio).
type cluster struct {
	dir    string
	pkiDir string
	port   int
	child  *pgcluster.Child
	admin  *pgx.Conn
	n      int
}

func startCluster(ctx context.Context) (*cluster, error) {
	bin, err := pgcluster.FindBinaries()
	if err != nil {
		return nil, fmt.Errorf("%w: install them (apt-get install -y postgresql)", err)
	}
	dir, err := os.MkdirTemp("", "queuebench-")
	if err != nil {
		return nil, fmt.Errorf("create the benchmark's directory: %w", err)
	}
	// The unprivileged PostgreSQL user (when running as root) must pass
	// through it.
	if err := os.Chmod(dir, 0o711); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("create the benchmark's directory: %w", err)
	}
	c := &cluster{dir: dir, pkiDir: filepath.Join(dir, "pki")}
	if err := c.start(ctx, bin); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *cluster) start(ctx context.Context, bin pgcluster.Binaries) error {
	if _, err := pki.Ensure(c.pkiDir, pki.PostgresTree(roleMigrator, roleServer), pki.Options{}); err != nil {
		return fmt.Errorf("issue certificates: %w", err)
	}
	port, err := freePort(ctx)
	if err != nil {
		return err
	}
	srv := pki.SecretPaths(c.pkiDir, pki.PostgresServerSecret)
	pc, err := pgcluster.New(pgcluster.Config{
		Bin:       bin,
		DataDir:   filepath.Join(c.dir, "data"),
		SocketDir: filepath.Join(c.dir, "run"),
		LogFile:   filepath.Join(c.dir, "postgres.log"),
		Port:      port,
		TLS:       pgcluster.TLSFiles{Cert: srv.Cert, Key: srv.Key, ClientCA: srv.CA},
		HBA:       []pgcluster.HBARule{pgcluster.CertRule("all", roleMigrator+","+roleServer, "127.0.0.1/32")},
		Settings: map[string]string{
			"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
			"max_connections": "200", "shared_buffers": "'128MB'",
		},
		NoSync: true,
	})
	if err != nil {
		return err
	}
	if err := pc.Init(ctx); err != nil {
		return err
	}
	if _, err := pc.Configure(); err != nil {
		return err
	}
	child, err := pc.StartChild(ctx)
	if err != nil {
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	c.child, c.port = child, port
	admin, err := pc.ConnectSuperuser(ctx, "postgres")
	if err != nil {
		return err
	}
	c.admin = admin
	if err := pgcluster.Bootstrap(ctx, admin, pgcluster.Plan{
		Roles:     []string{roleMigrator, roleServer},
		Databases: []pgcluster.Database{{Name: templateDB, Owner: roleMigrator, Connect: []string{roleServer}}},
	}); err != nil {
		return err
	}
	m, err := schema.Open(ctx, c.url(roleMigrator, templateDB), schema.Options{ServerRole: roleServer})
	if err != nil {
		return fmt.Errorf("open the template database: %w", err)
	}
	defer m.Close()
	if _, err := m.Up(ctx); err != nil {
		return fmt.Errorf("migrate the template database: %w", err)
	}
	return nil
}

// freshPool creates a new database from the migrated template and
// connects to it as the server role: every measurement starts from empty
// tables and indexes. done closes the pool and drops the database, so that
// no run leaves background work (autovacuum) to the next.
func (c *cluster) freshPool(ctx context.Context, maxConns int32) (pool *pgxpool.Pool, done func(), err error) {
	c.n++
	name := fmt.Sprintf("run_%d", c.n)
	if err := pgcluster.CreateDatabase(ctx, c.admin, pgcluster.Database{Name: name, Owner: roleMigrator, Connect: []string{roleServer}}, templateDB); err != nil {
		return nil, nil, fmt.Errorf("create database %s: %w", name, err)
	}
	done = func() {
		if pool != nil {
			pool.Close()
		}
		_, _ = c.admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	pool, err = dbconn.Connect(ctx, c.url(roleServer, name), func(pc *pgxpool.Config) {
		pc.MaxConns = maxConns
		pc.MinConns = maxConns
	})
	if err != nil {
		done()
		return nil, nil, err
	}
	return pool, done, nil
}

// settle waits (up to 10s) until the server runs nothing but the admin
// session, so that a run does not share the machine with the tail of the
// previous one.
func (c *cluster) settle(ctx context.Context) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var busy int
		err := c.admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE pid <> pg_backend_pid() AND (backend_type = 'autovacuum worker' OR state = 'active')`).Scan(&busy)
		if err != nil || busy == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *cluster) serverVersion(ctx context.Context) string {
	var v string
	if err := c.admin.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "?"
	}
	return v
}

func (c *cluster) url(role, database string) string {
	ca := pki.SecretPaths(c.pkiDir, pki.PostgresServerSecret).CA
	cert := pki.SecretPaths(c.pkiDir, pki.DBClientSecret(role))
	q := url.Values{}
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", ca)
	q.Set("sslcert", cert.Cert)
	q.Set("sslkey", cert.Key)
	u := url.URL{Scheme: "postgres", User: url.User(role), Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(c.port)), Path: "/" + database, RawQuery: q.Encode()}
	return u.String()
}

func (c *cluster) close() {
	if c.admin != nil {
		_ = c.admin.Close(context.Background())
	}
	if c.child != nil {
		c.child.Stop()
	}
	_ = os.RemoveAll(c.dir)
}

func freePort(ctx context.Context) (int, error) {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
