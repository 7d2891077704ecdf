// Package tempcluster starts a throwaway PostgreSQL cluster from the
// system's binaries, set up as production is (TLS on, certificate-only
// logins, one client certificate per role whose CN is the role) but with
// durability off, on a free port in a temporary directory that Close
// deletes. The test databases (migrator/pgtest), the queue benchmark and
// the tests of this module's own database packages run on it.
//
// If the process dies, the kernel signals the cluster to shut down
// (pgcluster.StartChild), so a crashed run leaves no server behind.
package tempcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
	"github.com/groundwork-dev/groundwork/internal/shared/pgcluster"
	"github.com/groundwork-dev/groundwork/internal/shared/pki"
)

// Options describe the cluster.
type Options struct {
	// Roles are the login roles, each with its own client certificate and
	// allowed on every database from loopback.
	Roles []string
	// Settings are added to postgresql.conf, after the defaults (fsync,
	// synchronous_commit and full_page_writes off: durability buys nothing
	// for a cluster deleted after the run).
	Settings map[string]string
	// Prefix names the temporary directory (os.MkdirTemp's pattern).
	Prefix string
}

// Cluster is a running throwaway cluster.
type Cluster struct {
	Dir    string // the cluster's files; Close removes it
	PKIDir string // its certificates, one directory per secret
	Port   int    // on 127.0.0.1

	child   *pgcluster.Child
	adminMu sync.Mutex
	admin   *pgx.Conn // superuser, over the unix socket
}

// Start initializes and starts a cluster, creates the roles and connects
// the superuser. A port found free can be taken by another process before
// PostgreSQL binds it: Start tries three.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := pgcluster.FindBinaries()
	if err != nil {
		return nil, fmt.Errorf("%w: install them (apt-get install -y postgresql), or let `go tool mage test` install them", err)
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = "tempcluster-"
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, fmt.Errorf("create the cluster's directory: %w", err)
	}
	// The unprivileged server user (when running as root) must enter it;
	// listing it is not needed.
	if err := os.Chmod(dir, 0o711); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("create the cluster's directory: %w", err)
	}
	c := &Cluster{Dir: dir, PKIDir: filepath.Join(dir, "pki")}
	if err := c.start(ctx, bin, opts); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, bin pgcluster.Binaries, opts Options) error {
	if _, err := pki.Ensure(c.PKIDir, pki.PostgresTree(opts.Roles...), pki.Options{}); err != nil {
		return fmt.Errorf("issue the cluster's certificates: %w", err)
	}
	srv := pki.SecretPaths(c.PKIDir, pki.PostgresServerSecret)
	settings := map[string]string{"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	var lastErr error
	for range 3 {
		port, err := freeport.Pick(ctx)
		if err != nil {
			return err
		}
		pc, err := pgcluster.New(pgcluster.Config{
			Bin:       bin,
			DataDir:   filepath.Join(c.Dir, "data"),
			SocketDir: filepath.Join(c.Dir, "run"),
			LogFile:   filepath.Join(c.Dir, "postgres.log"),
			Port:      port,
			TLS:       pgcluster.TLSFiles{Cert: srv.Cert, Key: srv.Key, ClientCA: srv.CA},
			HBA:       []pgcluster.HBARule{pgcluster.CertRule("all", strings.Join(opts.Roles, ","), "127.0.0.1/32")},
			Settings:  settings,
			NoSync:    true,
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
			lastErr = err
			continue
		}
		c.child, c.Port = child, port
		admin, err := pc.ConnectSuperuser(ctx, "postgres")
		if err != nil {
			return err
		}
		c.admin = admin
		return pgcluster.Bootstrap(ctx, admin, pgcluster.Plan{Roles: opts.Roles})
	}
	return fmt.Errorf("start PostgreSQL: %w", lastErr)
}

// URL is the certificate URL for role on database.
func (c *Cluster) URL(role, database string) string {
	return dbconn.CertURL("127.0.0.1", c.Port, role, database, c.PKIDir)
}

// CertPaths returns the files of a role's client certificate.
func (c *Cluster) CertPaths(role string) pki.Paths {
	return pki.SecretPaths(c.PKIDir, pki.DBClientSecret(role))
}

// Superuser runs fn with the superuser's connection, one caller at a time.
func (c *Cluster) Superuser(fn func(*pgx.Conn) error) error {
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	return fn(c.admin)
}

// CreateDatabase creates db, copied from template unless that is empty.
func (c *Cluster) CreateDatabase(ctx context.Context, db pgcluster.Database, template string) error {
	return c.Superuser(func(conn *pgx.Conn) error { return pgcluster.CreateDatabase(ctx, conn, db, template) })
}

// DropDatabase drops a database, ending its sessions.
func (c *Cluster) DropDatabase(ctx context.Context, name string) error {
	return c.Superuser(func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		return err
	})
}

// Close stops the cluster and deletes its files; it may be called on a
// cluster that failed to start.
func (c *Cluster) Close() {
	if c.admin != nil {
		_ = c.admin.Close(context.Background())
	}
	if c.child != nil {
		c.child.Stop()
	}
	if c.Dir != "" {
		_ = os.RemoveAll(c.Dir)
	}
}

// Shared is one cluster for the tests of a package: started on the first
// Get, closed by Main when the tests are done.
//
//	var cluster = &tempcluster.Shared{Options: tempcluster.Options{Roles: []string{"server"}}}
//
//	func TestMain(m *testing.M) { cluster.Main(m) }
type Shared struct {
	Options Options

	mu  sync.Mutex
	c   *Cluster
	err error
}

// Get returns the cluster, starting it on first use; a cluster that could
// not start fails the test with the reason.
func (s *Shared) Get(t testing.TB) *Cluster {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil && s.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s.c, s.err = Start(ctx, s.Options)
	}
	if s.err != nil {
		t.Fatalf("tempcluster: %v", s.err)
	}
	return s.c
}

// Main runs the tests, closes the cluster if one was started, and exits.
func (s *Shared) Main(m *testing.M) {
	code := m.Run()
	s.mu.Lock()
	if s.c != nil {
		s.c.Close()
	}
	s.mu.Unlock()
	os.Exit(code)
}

// NewDatabase creates an empty database owned by owner for one test,
// dropped when the test ends, and returns its name.
func (c *Cluster) NewDatabase(t testing.TB, owner string, connect ...string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	if err := c.CreateDatabase(t.Context(), pgcluster.Database{Name: name, Owner: owner, Connect: connect}, ""); err != nil {
		t.Fatalf("tempcluster: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.DropDatabase(ctx, name); err != nil {
			t.Errorf("tempcluster: drop database %s: %v", name, err)
		}
	})
	return name
}
