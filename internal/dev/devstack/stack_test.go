package devstack

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/pki"
	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
)

type testBundle struct {
	cfg   Config
	stack *Stack
	out   *bytes.Buffer
}

// setup returns a stack kept in a temporary checkout on a free port.
func setup(t *testing.T) *testBundle {
	t.Helper()
	state := t.TempDir()
	// t.TempDir is 0700; the unprivileged PostgreSQL user must traverse it.
	require.NoError(t, os.Chmod(state, 0o711))
	cfg, err := PrivateConfig(context.Background(), "../../..", state)
	require.NoError(t, err)
	// Prometheus scrapes and evaluates every second, so that the
	// observability test sees rates within seconds.
	cfg.ScrapeInterval = time.Second
	out := &bytes.Buffer{}
	s := New(cfg, out, sysdeps.New(out))
	t.Cleanup(func() { _ = s.Reset(context.Background()) })
	return &testBundle{cfg: cfg, stack: s, out: out}
}

func connect(ctx context.Context, rawURL string) error {
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// withParams rewrites a URL's user and query settings (empty value: remove).
func withParams(t *testing.T, raw, user string, set map[string]string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	if user != "" {
		u.User = url.User(user)
	}
	q := u.Query()
	for k, v := range set {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func requireRejected(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "want a PostgreSQL error, got %v", err)
	require.Equal(t, "28000", pgErr.Code, "want invalid_authorization_specification, got %v", err)
}

func TestUpIsIdempotentAndKeepsDataAcrossDownAndUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)

	require.NoError(t, b.stack.Up(ctx))
	require.Contains(t, b.out.String(), "started on "+b.cfg.PGAddr())

	serverURL := b.cfg.DatabaseURL(RoleServer, DBApp)
	conn, err := pgx.Connect(ctx, serverURL)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "INSERT INTO users (id, email) VALUES ('0b6f3c2e-0000-4000-8000-000000000001', 'keep@example.com')")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))

	b.out.Reset()
	require.NoError(t, b.stack.Up(ctx))
	second := b.out.String()
	for _, s := range []string{"issued", "started", "initialized", "reloaded", "applied"} {
		require.NotContains(t, second, s, "a second dev:up must change nothing")
	}

	require.NoError(t, b.stack.Down(ctx))
	require.Error(t, b.stack.Status(ctx), "status must fail while the stack is down")
	require.Error(t, connect(ctx, serverURL))
	require.NoError(t, b.stack.Up(ctx))
	conn, err = pgx.Connect(ctx, serverURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var email string
	require.NoError(t, conn.QueryRow(ctx, "SELECT email FROM users").Scan(&email))
	require.Equal(t, "keep@example.com", email)
	require.NoError(t, b.stack.Status(ctx))
	statuses := b.stack.Check(ctx)
	var names []string
	for _, st := range statuses {
		require.True(t, st.Healthy, "%s: %s", st.Name, st.Health)
		names = append(names, st.Name)
	}
	require.Subset(t, names, []string{"postgresql", "migrations", "kratos", "server", "worker", "mailpit", "web", "prometheus"})

	// The whole path: a user registered in Kratos calls the JSON gateway,
	// which reaches the server over mTLS, which reads PostgreSQL.
	token := registerWithKratos(t, b.cfg, "smoke@example.com")
	var me struct {
		User struct{ Email, DisplayName string } `json:"user"`
	}
	getJSON(t, "http://"+b.cfg.ServerGatewayAddr()+"/api/v1/me", token, http.StatusOK, &me)
	require.Equal(t, "smoke@example.com", me.User.Email)
	getJSON(t, "http://"+b.cfg.ServerGatewayAddr()+"/api/v1/me", "", http.StatusUnauthorized, nil)

	// Kratos's web hook mirrors a new identity into users before it makes
	// any API call. The hook runs asynchronously: wait for it, bounded.
	registerWithKratos(t, b.cfg, "hooked@example.com")
	conn, err = pgx.Connect(ctx, serverURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	require.Eventually(t, func() bool {
		var n int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM users WHERE email = 'hooked@example.com' AND display_name = 'Smoke Test'").Scan(&n)
		return err == nil && n == 1
	}, 15*time.Second, 50*time.Millisecond, "the identity hook must create the users row")
}

// registerWithKratos registers a user through Kratos's API flow and returns
// the session token.
func registerWithKratos(t *testing.T, cfg Config, email string) string {
	t.Helper()
	var flow struct{ ID string }
	getJSON(t, cfg.KratosPublicURL()+"/self-service/registration/api", "", http.StatusOK, &flow)
	body := fmt.Sprintf(`{"method":"password","traits":{"email":%q,"name":"Smoke Test"},"password":"a long enough passphrase 42"}`, email)
	resp, err := http.Post(cfg.KratosPublicURL()+"/self-service/registration?flow="+flow.ID, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var reg struct {
		SessionToken string `json:"session_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&reg))
	require.NotEmpty(t, reg.SessionToken)
	return reg.SessionToken
}

func getJSON(t *testing.T, url, token string, wantStatus int, into any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("X-Session-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, wantStatus, resp.StatusCode, url)
	if into != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(into))
	}
}

func TestOnlyCertificateLoginsForTheRightRoleAndDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	require.NoError(t, b.stack.Up(ctx))

	server := b.cfg.DatabaseURL(RoleServer, DBApp)
	migratorCert := pki.SecretPaths(b.cfg.PKIDir(), pki.DBClientSecret(RoleMigrator))

	for role, db := range map[string]string{RoleMigrator: DBApp, RoleServer: DBApp, RoleKratos: DBKratos} {
		require.NoError(t, connect(ctx, b.cfg.DatabaseURL(role, db)), "%s on %s", role, db)
	}
	t.Run("no client certificate", func(t *testing.T) {
		requireRejected(t, connect(ctx, withParams(t, server, "", map[string]string{"sslcert": "", "sslkey": ""})))
	})
	t.Run("the migrator's certificate presented as server", func(t *testing.T) {
		requireRejected(t, connect(ctx, withParams(t, server, "", map[string]string{"sslcert": migratorCert.Cert, "sslkey": migratorCert.Key})))
	})
	t.Run("without TLS", func(t *testing.T) {
		requireRejected(t, connect(ctx, withParams(t, server, "", map[string]string{"sslmode": "disable", "sslcert": "", "sslkey": "", "sslrootcert": ""})))
	})
	t.Run("a role on another role's database", func(t *testing.T) {
		requireRejected(t, connect(ctx, b.cfg.DatabaseURL(RoleServer, DBKratos)))
		requireRejected(t, connect(ctx, b.cfg.DatabaseURL(RoleKratos, DBApp)))
	})
	t.Run("the superuser over TCP", func(t *testing.T) {
		requireRejected(t, connect(ctx, withParams(t, b.cfg.DatabaseURL(RoleMigrator, DBApp), "postgres", nil)))
	})
	t.Run("no role has a password and none is privileged", func(t *testing.T) {
		conn, err := b.stack.Superuser(ctx)
		require.NoError(t, err)
		defer conn.Close(ctx)
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_authid
			WHERE rolname IN ('migrator', 'server', 'kratos')
			  AND rolpassword IS NULL AND NOT rolsuper AND NOT rolcreaterole AND NOT rolcreatedb`).Scan(&n))
		require.Equal(t, 3, n)
	})
	t.Run("the server role cannot change the schema", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, server)
		require.NoError(t, err)
		defer conn.Close(ctx)
		for _, ddl := range []string{"CREATE TABLE x (i int)", "DROP TABLE users", "ALTER TABLE accounts ADD COLUMN x int", "TRUNCATE users"} {
			_, err := conn.Exec(ctx, ddl)
			var pgErr *pgconn.PgError
			require.True(t, errors.As(err, &pgErr), "%s: want an error, got %v", ddl, err)
			require.Contains(t, []string{"42501", "42P01"}, pgErr.Code, "%s: %v", ddl, err)
		}
	})
}

func TestUpFailsClearlyWhenAForeignProgramHoldsThePort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	require.NoError(t, b.stack.Up(ctx))
	require.NoError(t, b.stack.Down(ctx))
	dataBefore := snapshotFile(t, b.cfg.DataDir()+"/PG_VERSION")

	l, err := net.Listen("tcp", b.cfg.PGAddr())
	require.NoError(t, err)
	err = b.stack.Up(ctx)
	require.ErrorIs(t, err, ErrPortInUse)
	require.Contains(t, err.Error(), b.cfg.PGAddr())
	require.Contains(t, err.Error(), EnvPGPort, "the message must say how to pick another port")
	require.NoError(t, l.Close())

	require.Equal(t, dataBefore, snapshotFile(t, b.cfg.DataDir()+"/PG_VERSION"), "the data directory must be left as it was")
	require.NoError(t, b.stack.Up(ctx), "once the port is free, dev:up starts the same cluster")
}

func snapshotFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

func TestUpRenewsCertificatesNearExpiryWithoutLosingLogins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	// Certificates issued 25 days ago: less than a third of the 30-day
	// leaves' life is left now.
	b.stack.now = func() time.Time { return time.Now().Add(-25 * 24 * time.Hour) }
	require.NoError(t, b.stack.Up(ctx))
	before := snapshotFile(t, pki.SecretPaths(b.cfg.PKIDir(), pki.PostgresServerSecret).Cert)

	b.stack.now = time.Now
	b.out.Reset()
	require.NoError(t, b.stack.Up(ctx))
	require.Contains(t, b.out.String(), "reloaded configuration and certificates")
	after := snapshotFile(t, pki.SecretPaths(b.cfg.PKIDir(), pki.PostgresServerSecret).Cert)
	require.NotEqual(t, before, after)

	// PostgreSQL now serves the renewed certificate.
	conn, err := pgx.Connect(ctx, b.cfg.DatabaseURL(RoleServer, DBApp))
	require.NoError(t, err)
	defer conn.Close(ctx)
	tlsConn, ok := conn.PgConn().Conn().(*tls.Conn)
	require.True(t, ok, "the connection must be TLS")
	served := tlsConn.ConnectionState().PeerCertificates[0]
	renewed, err := pki.ParseCertificatePEM([]byte(after))
	require.NoError(t, err)
	require.Equal(t, renewed.SerialNumber, served.SerialNumber)
}

func TestConfigFromEnvRejectsBadPorts(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"abc", "80", "70000", "-1"} {
		_, err := ConfigFromEnv(t.TempDir(), func(string) string { return v })
		require.Error(t, err, v)
		require.Contains(t, err.Error(), EnvPGPort)
	}
	cfg, err := ConfigFromEnv(t.TempDir(), func(string) string { return "" })
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:15432", cfg.PGAddr())
}

func TestEnvPrintsQuotedExportsForEachRole(t *testing.T) {
	t.Parallel()
	out := &bytes.Buffer{}
	cfg, err := ConfigFromEnv("/tmp/it's here", func(string) string { return "" })
	require.NoError(t, err)
	New(cfg, out, nil).Env()
	for _, name := range []string{"MIGRATOR_DATABASE_URL", "SERVER_DATABASE_URL", "KRATOS_DSN"} {
		require.Contains(t, out.String(), "export "+name+"='postgres://")
	}
	require.Contains(t, out.String(), `it'\''s`, "single quotes in paths must be escaped for the shell")
	require.True(t, strings.Contains(out.String(), "sslmode=verify-full"))
}

func TestUpFailsClearlyWhenKratosPortIsTaken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	l, err := net.Listen("tcp", b.cfg.KratosPublicAddr())
	require.NoError(t, err)
	defer l.Close()
	err = b.stack.Up(ctx)
	require.ErrorIs(t, err, ErrPortInUse)
	require.Contains(t, err.Error(), b.cfg.KratosPublicAddr())
}
