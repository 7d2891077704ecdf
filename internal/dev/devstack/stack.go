package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/build/sysdeps"
	"github.com/groundwork-dev/groundwork/internal/dev/detached"
	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/internal/shared/pgcluster"
	"github.com/groundwork-dev/groundwork/internal/shared/pki"
	"github.com/groundwork-dev/groundwork/migrator/schema"
)

// Stack is the local development stack.
type Stack struct {
	cfg  Config
	out  io.Writer
	deps *sysdeps.Installer
	now  func() time.Time
}

// New returns the stack described by cfg, reporting progress to out.
func New(cfg Config, out io.Writer, deps *sysdeps.Installer) *Stack {
	return &Stack{cfg: cfg, out: out, deps: deps, now: time.Now}
}

func isRoot() bool { return os.Geteuid() == 0 }

func (s *Stack) cluster() (*pgcluster.Cluster, error) {
	bin, err := pgcluster.FindBinaries()
	if err != nil {
		return nil, err
	}
	srv := pki.SecretPaths(s.cfg.PKIDir(), pki.PostgresServerSecret)
	return pgcluster.New(pgcluster.Config{
		Bin:       bin,
		DataDir:   s.cfg.DataDir(),
		SocketDir: s.cfg.SocketDir(),
		LogFile:   s.cfg.PGLogFile(),
		Listen:    s.cfg.PGListen,
		Port:      s.cfg.PGPort,
		TLS:       pgcluster.TLSFiles{Cert: srv.Cert, Key: srv.Key, ClientCA: srv.CA},
		HBA:       s.cfg.hbaRules(),
	})
}

// ErrPortInUse means another program holds one of the stack's ports.
var ErrPortInUse = pgcluster.ErrPortInUse

// Up brings every component to a healthy state and prints where it is.
func (s *Stack) Up(ctx context.Context) error {
	start := s.now()
	if err := s.deps.Ensure(ctx, sysdeps.PostgreSQL()); err != nil {
		return err
	}
	if err := s.prepareDirs(); err != nil {
		return err
	}
	rep, err := pki.Ensure(s.cfg.PKIDir(), Certificates(), pki.Options{Now: s.now})
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	if rep.Changed() {
		fmt.Fprintf(s.out, "certificates  issued %s\n", strings.Join(rep.Issued, ", "))
	}
	c, err := s.cluster()
	if err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}
	if err := s.startPostgres(ctx, c, issuedAny(rep, pki.PostgresCA, pki.PostgresServerSecret)); err != nil {
		return err
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if err := s.checkServerLogin(ctx); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	if err := s.upMailpit(ctx); err != nil {
		return err
	}
	if err := s.upKratos(ctx); err != nil {
		return err
	}
	if err := s.upServer(ctx); err != nil {
		return err
	}
	if err := s.upWorker(ctx); err != nil {
		return err
	}
	if err := s.upWeb(ctx); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "stack healthy in %s\n\n", s.now().Sub(start).Round(time.Millisecond))
	return s.Status(ctx)
}

// issuedAny reports whether the report names one of the secrets.
func issuedAny(rep pki.Report, secrets ...string) bool {
	for _, got := range rep.Issued {
		for _, s := range secrets {
			if got == s {
				return true
			}
		}
	}
	return false
}

func (s *Stack) prepareDirs() error {
	for _, d := range []string{s.cfg.StateDir(), s.cfg.LogDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	// The unprivileged PostgreSQL user must pass through .dev/ and .dev/logs
	// to its own directory and log file; it may not list or read anything
	// else there.
	for _, d := range []string{s.cfg.StateDir(), s.cfg.LogDir()} {
		if err := os.Chmod(d, 0o711); err != nil {
			return fmt.Errorf("chmod %s: %w", d, err)
		}
	}
	home := s.cfg.pgHome()
	if home == s.cfg.StateDir() {
		return nil
	}
	if err := os.MkdirAll(home, 0o711); err != nil {
		return fmt.Errorf("create %s: %w", home, err)
	}
	link := filepath.Join(s.cfg.StateDir(), "postgres")
	if _, err := os.Lstat(link); errors.Is(err, os.ErrNotExist) {
		if err := os.Symlink(s.cfg.DataDir(), link); err != nil {
			return fmt.Errorf("link %s: %w", link, err)
		}
	}
	return nil
}

func (s *Stack) startPostgres(ctx context.Context, c *pgcluster.Cluster, certsChanged bool) error {
	fresh := !c.Initialized()
	if err := c.Init(ctx); err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}
	confChanged, err := c.Configure()
	if err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}
	switch _, running := c.Running(); {
	case running && (confChanged || certsChanged):
		if err := c.Reload(ctx); err != nil {
			return fmt.Errorf("postgresql: %w", err)
		}
		fmt.Fprintln(s.out, "postgresql    reloaded configuration and certificates")
	case !running:
		if err := c.Start(ctx); err != nil {
			if errors.Is(err, pgcluster.ErrPortInUse) {
				return fmt.Errorf("postgresql: %s is held by another program, not this checkout's PostgreSQL: stop it, or run on another port with %s=<port>: %w", s.cfg.PGAddr(), EnvPGPort, ErrPortInUse)
			}
			return fmt.Errorf("postgresql: %w", err)
		}
		if fresh {
			fmt.Fprintf(s.out, "postgresql    initialized %s and started on %s\n", s.cfg.DataDir(), s.cfg.PGAddr())
		} else {
			fmt.Fprintf(s.out, "postgresql    started on %s\n", s.cfg.PGAddr())
		}
	}
	conn, err := c.ConnectSuperuser(ctx, "postgres")
	if err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}
	defer conn.Close(ctx)
	if err := pgcluster.Bootstrap(ctx, conn, clusterPlan()); err != nil {
		return fmt.Errorf("postgresql: bootstrap roles and databases: %w", err)
	}
	return nil
}

func (s *Stack) migrate(ctx context.Context) error {
	m, err := schema.Open(ctx, s.cfg.DatabaseURL(RoleMigrator, DBApp), schema.Options{ServerRole: RoleServer})
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer m.Close()
	res, err := m.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if res.Changed() {
		fmt.Fprintf(s.out, "migrations    app schema at version %d, River versions %v applied (%s)\n", res.AppTo, res.River, res.Duration.Round(time.Millisecond))
	}
	return nil
}

// Migrate applies pending migrations to the running stack.
func (s *Stack) Migrate(ctx context.Context) error {
	if err := s.migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintln(s.out, "migrations    up to date")
	return nil
}

func (s *Stack) checkServerLogin(ctx context.Context) error {
	pool, err := dbconn.Connect(ctx, s.cfg.DatabaseURL(RoleServer, DBApp), nil)
	if err != nil {
		return err
	}
	pool.Close()
	return nil
}

// Down stops every component and keeps the data.
func (s *Stack) Down(ctx context.Context) error {
	if err := s.downWeb(ctx); err != nil {
		return err
	}
	if err := s.downWorker(ctx); err != nil {
		return err
	}
	if err := s.downServer(ctx); err != nil {
		return err
	}
	if err := s.downKratos(ctx); err != nil {
		return err
	}
	if err := s.downMailpit(ctx); err != nil {
		return err
	}
	c, err := s.cluster()
	if err != nil {
		if errors.Is(err, pgcluster.ErrNoBinaries) {
			return nil // nothing can be running
		}
		return err
	}
	if _, running := c.Running(); !running {
		fmt.Fprintln(s.out, "postgresql    not running")
		return nil
	}
	if err := c.Stop(ctx); err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}
	fmt.Fprintln(s.out, "postgresql    stopped (data kept in "+s.cfg.DataDir()+")")
	return nil
}

// Reset stops everything and deletes .dev/ with all data and certificates.
func (s *Stack) Reset(ctx context.Context) error {
	if err := s.Down(ctx); err != nil {
		return err
	}
	home := s.cfg.pgHome()
	for _, d := range []string{home, s.cfg.StateDir()} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("delete %s: %w", d, err)
		}
	}
	fmt.Fprintln(s.out, "deleted "+s.cfg.StateDir())
	return nil
}

// Superuser connects to the postgres database as the bootstrap superuser
// over the unix socket.
func (s *Stack) Superuser(ctx context.Context) (*pgx.Conn, error) {
	c, err := s.cluster()
	if err != nil {
		return nil, err
	}
	return c.ConnectSuperuser(ctx, "postgres")
}

// process is a component the stack runs in the background.
type process = detached.Process
