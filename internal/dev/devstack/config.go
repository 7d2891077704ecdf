// Package devstack runs the local development stack behind `mage dev:*`:
// certificates, PostgreSQL with certificate-only logins, and the schema,
// all kept under .dev/ in the repository.
//
// Every operation is idempotent: Up on a healthy stack checks each part and
// changes nothing; Down keeps the data; Reset deletes it.
package devstack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/internal/shared/pgcluster"
	"github.com/groundwork-dev/groundwork/internal/shared/pki"
)

// Environment variables that override the defaults.
const (
	EnvPGPort           = "GROUNDWORK_PG_PORT"
	EnvKratosPublicPort = "GROUNDWORK_KRATOS_PUBLIC_PORT"
	EnvKratosAdminPort  = "GROUNDWORK_KRATOS_ADMIN_PORT"
	EnvGRPCPort         = "GROUNDWORK_GRPC_PORT"
	EnvGatewayPort      = "GROUNDWORK_GATEWAY_PORT"
	EnvOpsPort          = "GROUNDWORK_OPS_PORT"
	EnvWorkerOpsPort    = "GROUNDWORK_WORKER_OPS_PORT"
	// The one origin, Vite's dev server behind it (dev:watch), and the
	// local mailbox (web.go, mailpit.go).
	EnvWebPort         = "GROUNDWORK_WEB_PORT"
	EnvVitePort        = "GROUNDWORK_VITE_PORT"
	EnvMailpitSMTPPort = "GROUNDWORK_MAILPIT_SMTP_PORT"
	EnvMailpitUIPort   = "GROUNDWORK_MAILPIT_UI_PORT"
	EnvWebWatch        = "GROUNDWORK_WEB_WATCH"
	// The local Prometheus (prometheus.go).
	EnvPrometheusPort = "GROUNDWORK_PROMETHEUS_PORT"
)

// Roles and databases of the stack (ARCHITECTURE.md, Database).
const (
	RoleMigrator = "migrator"
	RoleServer   = "server"
	RoleKratos   = "kratos"
	DBApp        = "app"
	DBKratos     = "kratos"
)

// Config is the stack's configuration, parsed once from the environment.
type Config struct {
	Root string // repository root, absolute
	// State is where the stack keeps its state; default <Root>/.dev. Tests
	// and benchmarks point it at a temporary directory.
	State      string
	PGListen   string
	KratosHost string
	// WebWatch serves the webapp from Vite's dev server (hot reload) instead
	// of webapp/dist: dev:watch, or GROUNDWORK_WEB_WATCH=1.
	WebWatch bool
	// ScrapeInterval is how often the local Prometheus scrapes; zero:
	// 15 s. Tests that query it shorten it.
	ScrapeInterval time.Duration

	// ports are the components' listen ports, by the variable that
	// overrides each (Component.Ports).
	ports map[string]int
}

// Port is the port the variable env sets (EnvGRPCPort, ...): its value, or
// the default of the component that declares it.
func (c Config) Port(env string) int { return c.ports[env] }

// ConfigFromEnv reads the overrides; getenv is os.Getenv outside tests.
func ConfigFromEnv(root string, getenv func(string) string) (Config, error) {
	return configFromEnv(root, getenv, components)
}

func configFromEnv(root string, getenv func(string) string, comps []Component) (Config, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return Config{}, fmt.Errorf("resolve repository root: %w", err)
	}
	c := Config{Root: abs, PGListen: "127.0.0.1", KratosHost: "127.0.0.1",
		WebWatch: getenv(EnvWebWatch) == "1" || getenv(EnvWebWatch) == "true",
		ports:    map[string]int{}}
	for _, p := range portsOf(comps) {
		c.ports[p.Env] = p.Default
		v := getenv(p.Env)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1024 || n > 65535 {
			return c, fmt.Errorf("%s=%q: want a port number from 1024 to 65535", p.Env, v)
		}
		c.ports[p.Env] = n
	}
	return c, nil
}

func (c Config) addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// KratosPublicAddr is Kratos's public listen address.
func (c Config) KratosPublicAddr() string {
	return net.JoinHostPort(c.KratosHost, strconv.Itoa(c.Port(EnvKratosPublicPort)))
}

// KratosAdminAddr is Kratos's admin listen address.
func (c Config) KratosAdminAddr() string {
	return net.JoinHostPort(c.KratosHost, strconv.Itoa(c.Port(EnvKratosAdminPort)))
}

// StateDir is .dev/ under the repository root, unless State says otherwise.
func (c Config) StateDir() string {
	if c.State != "" {
		return c.State
	}
	return filepath.Join(c.Root, ".dev")
}

// PKIDir holds the certificates, one directory per cert-manager Secret.
func (c Config) PKIDir() string { return filepath.Join(c.StateDir(), "pki") }

// LogDir holds the components' logs.
func (c Config) LogDir() string { return filepath.Join(c.StateDir(), "logs") }

// PGAddr is PostgreSQL's TCP address.
func (c Config) PGAddr() string { return net.JoinHostPort(c.PGListen, strconv.Itoa(c.Port(EnvPGPort))) }

// pgHome is where PostgreSQL's data directory, socket and log live: .dev/
// itself, unless the unprivileged server user cannot reach it (a checkout
// under a private home directory) or the socket path would be too long, in
// which case a directory under /var/tmp named after the checkout is used
// and .dev/postgres links to it.
func (c Config) pgHome() string {
	home := c.StateDir()
	sock := filepath.Join(home, "run", ".s.PGSQL."+strconv.Itoa(c.Port(EnvPGPort)))
	if len(sock) <= 107 && reachableByServerUser(home) {
		return home
	}
	sum := sha256.Sum256([]byte(c.StateDir()))
	return filepath.Join("/var/tmp", "groundwork-"+hex.EncodeToString(sum[:6]))
}

func reachableByServerUser(dir string) bool {
	u, err := user.Lookup("postgres")
	if err != nil || !isRoot() {
		return true // not running as root: the server runs as us
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	_, ok := pgcluster.Traversable(dir, uid, gid)
	return ok
}

// DataDir is PostgreSQL's data directory.
func (c Config) DataDir() string { return filepath.Join(c.pgHome(), "postgres") }

// SocketDir holds PostgreSQL's unix socket.
func (c Config) SocketDir() string { return filepath.Join(c.pgHome(), "run") }

// PGLogFile is PostgreSQL's log.
func (c Config) PGLogFile() string { return filepath.Join(c.pgHome(), "logs", "postgres.log") }

// DatabaseURL is the certificate URL for role on database.
func (c Config) DatabaseURL(role, database string) string {
	return dbconn.CertURL(c.PGListen, c.Port(EnvPGPort), role, database, c.PKIDir())
}

// Certificates is the stack's certificate tree.
func Certificates() pki.Spec {
	return pki.Merge(pki.PostgresTree(RoleMigrator, RoleServer, RoleKratos), pki.ServerTree())
}

// clusterPlan lists the roles and databases (ARCHITECTURE.md, Database).
func clusterPlan() pgcluster.Plan {
	return pgcluster.Plan{
		Roles: []string{RoleMigrator, RoleServer, RoleKratos},
		Databases: []pgcluster.Database{
			{Name: DBApp, Owner: RoleMigrator, Connect: []string{RoleServer}},
			{Name: DBKratos, Owner: RoleKratos},
		},
	}
}

// hbaRules allow each role on its own database only, from loopback, with a
// client certificate.
func (c Config) hbaRules() []pgcluster.HBARule {
	addr := c.PGListen + "/32"
	return []pgcluster.HBARule{
		pgcluster.CertRule(DBApp, RoleMigrator, addr),
		pgcluster.CertRule(DBApp, RoleServer, addr),
		pgcluster.CertRule(DBKratos, RoleKratos, addr),
	}
}
