package dbpool_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/internal/shared/pki"
	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/server/internal/clocktest"
	"github.com/groundwork-dev/groundwork/server/internal/dbpool"
	"github.com/groundwork-dev/groundwork/server/internal/faultproxy"
	"github.com/groundwork-dev/groundwork/server/internal/ops"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles/tlsfilestest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T, rawURL string, opts dbpool.Options) *pgxpool.Pool {
	t.Helper()
	pool, err := dbpool.Open(rawURL, opts)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func TestOpenPingAndMetrics(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	pool := open(t, db.URL, dbpool.Options{})
	require.NoError(t, dbpool.Ping(t.Context(), pool))

	var role string
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT current_user").Scan(&role))
	require.Equal(t, pgtest.RoleServer, role)

	reg := prometheus.NewRegistry()
	reg.MustRegister(dbpool.NewCollector(pool))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var text bytes.Buffer
	for _, mf := range mfs {
		_, err := expfmt.MetricFamilyToText(&text, mf)
		require.NoError(t, err)
	}
	for _, want := range []string{
		"pgxpool_total_conns 1", "pgxpool_idle_conns 1", "pgxpool_acquired_conns 0", "pgxpool_new_conns_total 1",
		"pgxpool_acquires_total 2", "# TYPE pgxpool_acquires_total counter", "# TYPE pgxpool_max_conns gauge",
		"pgxpool_acquire_duration_seconds_total", "pgxpool_empty_acquire_wait_seconds_total",
	} {
		require.Contains(t, text.String(), want)
	}
}

func TestOpenRefusesURLsWithoutCertificates(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	u, err := url.Parse(db.URL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("sslmode", "require")
	q.Set("password", "hunter2")
	u.RawQuery = q.Encode()

	_, err = dbpool.Open(u.String(), dbpool.Options{})
	require.ErrorContains(t, err, "sslmode is require; it must be verify-full")
	require.NotContains(t, err.Error(), "hunter2")

	q.Set("sslmode", "verify-full")
	q.Set("sslcert", filepath.Join(t.TempDir(), "missing.crt"))
	u.RawQuery = q.Encode()
	_, err = dbpool.Open(u.String(), dbpool.Options{})
	require.ErrorContains(t, err, "sslcert")
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestNewConnectionsUseARenewedClientCertificate renews the server role's
// client certificate on disk and checks, through PostgreSQL's own view of
// each connection (pg_stat_ssl.client_serial), that a new connection of
// the running pool logs in with the new certificate while an open one
// keeps the old.
func TestNewConnectionsUseARenewedClientCertificate(t *testing.T) {
	t.Parallel()
	pgtest.RequireRoles(t)
	db := pgtest.New(t)
	cluster := pgtest.Cluster(t)

	// The role's certificate and the CA that signs it, copied so that this
	// test can renew them without touching the shared cluster's files.
	dir := t.TempDir()
	leaf := pki.DBClientSecret(pgtest.RoleServer)
	for _, secret := range []string{pki.PostgresCA, leaf} {
		for _, f := range []string{pki.CertFile, pki.KeyFile, pki.CAFile} {
			copyFile(t, filepath.Join(cluster.PKIDir(), secret, f), filepath.Join(dir, secret, f))
		}
	}
	spec := pki.Spec{CAs: []string{pki.PostgresCA}, Leaves: []pki.Leaf{
		{Secret: leaf, CA: pki.PostgresCA, CommonName: pgtest.RoleServer, Usage: pki.ClientAuth},
	}}
	tree := tlsfilestest.Issue(t, dir, spec)
	paths := tree.Paths(leaf)

	u, err := url.Parse(db.URL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("sslcert", paths.Cert)
	q.Set("sslkey", paths.Key)
	u.RawQuery = q.Encode()

	clock := clocktest.New()
	pool := open(t, u.String(), dbpool.Options{Files: tlsfiles.Options{Now: clock.Now}})

	old := tree.Cert(t, leaf)
	first, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	defer first.Release()
	require.Equal(t, old.SerialNumber.String(), clientSerial(t, first))

	renewed := tree.Reissue(t, leaf)
	clock.Advance(2 * tlsfiles.DefaultInterval)

	// first stays acquired, so the pool must open a new connection.
	second, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	defer second.Release()
	require.Equal(t, renewed.SerialNumber.String(), clientSerial(t, second), "a new connection uses the renewed certificate")
	require.Equal(t, old.SerialNumber.String(), clientSerial(t, first), "an open connection keeps its login")
}

func clientSerial(t *testing.T, c *pgxpool.Conn) string {
	t.Helper()
	var serial string
	require.NoError(t, c.QueryRow(t.Context(),
		"SELECT client_serial::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&serial))
	return serial
}

// TestReadinessFollowsTheDatabase puts a TCP proxy between the pool and
// PostgreSQL and takes it down and up again: readiness fails while the
// database is unreachable and recovers without a new pool or a restart.
func TestReadinessFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	u, err := url.Parse(db.URL)
	require.NoError(t, err)
	p := faultproxy.Start(t, u.Host)
	u.Host = p.Addr()

	pool := open(t, u.String(), dbpool.Options{Configure: func(c *pgxpool.Config) { c.MaxConns = 1 }})
	readiness := ops.NewReadiness(0, ops.Check("database", func(ctx context.Context) error { return dbpool.Ping(ctx, pool) }))
	readiness.SetServing(true)
	require.NoError(t, readiness.Evaluate(t.Context()).Err())

	p.Down()
	// The open connection is cut: the first check fails on it (and the
	// pool drops it), the next cannot connect at all.
	require.False(t, readiness.Evaluate(t.Context()).Ready())
	rep := readiness.Evaluate(t.Context())
	require.False(t, rep.Ready())
	require.ErrorIs(t, rep.Err(), dbconn.ErrUnreachable)
	require.ErrorContains(t, rep.Err(), "database: PostgreSQL unreachable: nothing listens on "+p.Addr())

	p.Up(t)
	require.NoError(t, readiness.Evaluate(t.Context()).Err(), "ready again, same pool")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(to), 0o700))
	require.NoError(t, os.WriteFile(to, b, 0o600))
}
