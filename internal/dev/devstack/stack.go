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

	"github.com/groundwork-dev/groundwork/internal/shared/freeport"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/dev/detached"
	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/internal/shared/pgcluster"
	"github.com/groundwork-dev/groundwork/internal/shared/pki"
	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
	"github.com/groundwork-dev/groundwork/migrator/schema"
)

// Stack is the local development stack.
type Stack struct {
	cfg        Config
	out        io.Writer
	deps       *sysdeps.Installer
	now        func() time.Time
	components []Component
	// issued is what this Up's certificates step issued or renewed.
	issued pki.Report
}

// New returns the stack described by cfg, reporting progress to out.
func New(cfg Config, out io.Writer, deps *sysdeps.Installer) *Stack {
	return newStack(cfg, out, deps, components)
}

func newStack(cfg Config, out io.Writer, deps *sysdeps.Installer, comps []Component) *Stack {
	return &Stack{cfg: cfg, out: out, deps: deps, now: time.Now, components: comps}
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
		Port:      s.cfg.Port(EnvPGPort),
		TLS:       pgcluster.TLSFiles{Cert: srv.Cert, Key: srv.Key, ClientCA: srv.CA},
		HBA:       s.cfg.hbaRules(),
	})
}

// ErrPortInUse means another program holds one of the stack's ports.
var ErrPortInUse = freeport.ErrInUse

// Up brings every component to a healthy state, in order, and prints
// where each is.
func (s *Stack) Up(ctx context.Context) error {
	start := s.now()
	if err := s.prepareDirs(); err != nil {
		return err
	}
	for _, c := range s.components {
		if err := c.Up(ctx, s); err != nil {
			return err
		}
	}
	fmt.Fprintf(s.out, "stack healthy in %s\n\n", s.now().Sub(start).Round(time.Millisecond))
	return s.Status(ctx)
}

// certificates is the local PKI (.dev/pki): issued, or renewed when a third
// of a leaf's life is left, before anything that uses them starts.
type certificates struct{}

func (certificates) Name() string  { return "certificates" }
func (certificates) Ports() []Port { return nil }

func (certificates) Up(_ context.Context, s *Stack) error {
	rep, err := pki.Ensure(s.cfg.PKIDir(), Certificates(), pki.Options{Now: s.now})
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	if rep.Changed() {
		fmt.Fprintf(s.out, "certificates  issued %s\n", strings.Join(rep.Issued, ", "))
	}
	s.issued = rep
	return nil
}

func (certificates) Down(context.Context, *Stack) error { return nil }

func (certificates) Check(context.Context, *Stack) []ComponentStatus { return nil }

// postgres is the database cluster, its roles and databases, and the app
// schema.
type postgres struct{}

func (postgres) Name() string  { return "postgresql" }
func (postgres) Ports() []Port { return []Port{{EnvPGPort, 15432}} }

// Up installs the server binaries when missing, starts (or reloads) the
// cluster, applies the migrations and checks that the server role logs in.
func (postgres) Up(ctx context.Context, s *Stack) error {
	if err := s.deps.Ensure(ctx, sysdeps.PostgreSQL()); err != nil {
		return err
	}
	if err := s.preparePostgresDirs(); err != nil {
		return err
	}
	c, err := s.cluster()
	if err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}
	if err := s.startPostgres(ctx, c, issuedAny(s.issued, pki.PostgresCA, pki.PostgresServerSecret)); err != nil {
		return err
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if err := s.checkServerLogin(ctx); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	return nil
}

func (postgres) Down(ctx context.Context, s *Stack) error {
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

// prepareDirs creates .dev/ and its logs/ for every component.
func (s *Stack) prepareDirs() error {
	for _, d := range []string{s.cfg.StateDir(), s.cfg.LogDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	return nil
}

// preparePostgresDirs lets the unprivileged PostgreSQL user (when running
// as root) pass through .dev/ and .dev/logs to its own directory and log
// file; it may not list or read anything else there. Its home is made
// after the server binaries are installed: that creates the user.
func (s *Stack) preparePostgresDirs() error {
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
			if errors.Is(err, freeport.ErrInUse) {
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

// Down stops every component, in reverse order, and keeps the data.
func (s *Stack) Down(ctx context.Context) error {
	for i := len(s.components) - 1; i >= 0; i-- {
		if err := s.components[i].Down(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// StopDatabase stops PostgreSQL, keeping its data, while the rest runs: an
// outage, for the tests that show what the stack does during one.
func (s *Stack) StopDatabase(ctx context.Context) error { return postgres{}.Down(ctx, s) }

// StartDatabase starts PostgreSQL again after StopDatabase.
func (s *Stack) StartDatabase(ctx context.Context) error { return postgres{}.Up(ctx, s) }

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
