package pgcluster_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
	"github.com/groundwork-dev/groundwork/internal/shared/pgcluster"
	"github.com/groundwork-dev/groundwork/internal/shared/pki"
)

func freePort(t *testing.T) int {
	t.Helper()
	p, err := freeport.Pick(t.Context())
	require.NoError(t, err)
	return p
}

// TestClusterLifecycle runs the path the local stack takes: a cluster of
// its own, started in the background with pg_ctl, configured, reloaded
// and stopped, each step idempotent.
func TestClusterLifecycle(t *testing.T) {
	t.Parallel()
	bin, err := pgcluster.FindBinaries()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dir := openDir(t)
	pkiDir := filepath.Join(dir, "pki")
	_, err = pki.Ensure(pkiDir, pki.PostgresTree("app"), pki.Options{})
	require.NoError(t, err)
	srv := pki.SecretPaths(pkiDir, pki.PostgresServerSecret)
	cfg := pgcluster.Config{
		Bin:       bin,
		DataDir:   filepath.Join(dir, "data"),
		SocketDir: filepath.Join(dir, "run"),
		LogFile:   filepath.Join(dir, "log", "postgres.log"),
		Port:      freePort(t),
		TLS:       pgcluster.TLSFiles{Cert: srv.Cert, Key: srv.Key, ClientCA: srv.CA},
		HBA:       []pgcluster.HBARule{pgcluster.CertRule("all", "app", "127.0.0.1/32")},
		Settings:  map[string]string{"fsync": "off", "max_connections": "20"},
		NoSync:    true,
	}
	c, err := pgcluster.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Errorf("stop cluster: %v", err)
		}
	})

	require.False(t, c.Initialized())
	_, running := c.Running()
	require.False(t, running)
	require.NoError(t, c.Init(ctx))
	require.True(t, c.Initialized())
	require.NoError(t, c.Init(ctx), "Init on an initialized directory does nothing")

	changed, err := c.Configure()
	require.NoError(t, err)
	require.True(t, changed)
	changed, err = c.Configure()
	require.NoError(t, err)
	require.False(t, changed, "configuring again writes nothing")

	hba, err := os.ReadFile(filepath.Join(cfg.DataDir, "pg_hba.conf"))
	require.NoError(t, err)
	require.NotRegexp(t, regexp.MustCompile(`(?im)^[^#]*\b(md5|scram-sha-256|password|trust)\s*$`), string(hba), "no password method")
	lines := strings.Split(strings.TrimSpace(string(hba)), "\n")
	require.Regexp(t, `^host\s+all\s+all\s+::/0\s+reject$`, lines[len(lines)-1])
	fi, err := os.Stat(filepath.Join(cfg.DataDir, "server.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "PostgreSQL refuses a key readable by others")

	for attempt := 1; ; attempt++ {
		err := c.Start(ctx)
		if !errors.Is(err, freeport.ErrInUse) || attempt == 3 {
			require.NoError(t, err)
			break
		}
		// Another program took the port between freePort and Start (the
		// server binds it itself, so it cannot be handed a listener).
		cfg.Port = freePort(t)
		c, err = pgcluster.New(cfg)
		require.NoError(t, err)
		_, err = c.Configure()
		require.NoError(t, err)
	}
	pid, running := c.Running()
	require.True(t, running)
	require.NoError(t, c.Start(ctx), "Start on a running server does nothing")
	pid2, _ := c.Running()
	require.Equal(t, pid, pid2)
	require.ErrorIs(t, c.CheckPortFree(t.Context()), freeport.ErrInUse, "the server holds its port")

	admin, err := c.ConnectSuperuser(ctx, "postgres")
	require.NoError(t, err)
	defer admin.Close(ctx)
	var ssl, minTLS string
	require.NoError(t, admin.QueryRow(ctx, "SELECT current_setting('ssl'), current_setting('ssl_min_protocol_version')").Scan(&ssl, &minTLS))
	require.Equal(t, "on", ssl)
	require.Equal(t, "TLSv1.3", minTLS)
	require.NoError(t, pgcluster.Bootstrap(ctx, admin, pgcluster.Plan{
		Roles: []string{"app"}, Databases: []pgcluster.Database{{Name: "app", Owner: "app"}},
	}))

	client := pki.SecretPaths(pkiDir, pki.DBClientSecret("app"))
	q := url.Values{"sslmode": {"verify-full"}, "sslrootcert": {client.CA}, "sslcert": {client.Cert}, "sslkey": {client.Key}}
	appURL := (&url.URL{Scheme: "postgres", User: url.User("app"), Host: "127.0.0.1:" + strconv.Itoa(cfg.Port), Path: "/app", RawQuery: q.Encode()}).String()
	conn, err := pgx.Connect(ctx, appURL)
	require.NoError(t, err, "the role logs in with its certificate")
	require.NoError(t, conn.Close(ctx))

	// Without the rule, after a reload, the same login is refused.
	cfg.HBA = nil
	c2, err := pgcluster.New(cfg)
	require.NoError(t, err)
	changed, err = c2.Configure()
	require.NoError(t, err)
	require.True(t, changed)
	require.NoError(t, c2.Reload(ctx))
	_, err = pgx.Connect(ctx, appURL)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "28000", pgErr.Code)

	require.NoError(t, c.Stop(ctx))
	_, running = c.Running()
	require.False(t, running)
	require.NoError(t, c.Stop(ctx), "Stop on a stopped server does nothing")
	require.NoError(t, c.Reload(ctx), "Reload on a stopped server does nothing")
	require.NoError(t, c.CheckPortFree(t.Context()))
}
