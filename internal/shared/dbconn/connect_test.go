package dbconn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
	"github.com/groundwork-dev/groundwork/internal/shared/pki"
	"github.com/groundwork-dev/groundwork/internal/shared/tempcluster"
)

type connBundle struct {
	env *tempcluster.Cluster
	db  string // the test's own database
}

func setupConn(t *testing.T) *connBundle {
	t.Helper()
	env := testCluster.Get(t)
	return &connBundle{env: env, db: env.NewDatabase(t, roleMigrator, roleServer)}
}

// url returns the cluster's URL for role on the test's database, with a
// password added (certificate auth ignores it; errors must not show it),
// changed by mod.
func (b *connBundle) url(role string, mod func(u *url.URL, q url.Values)) string {
	u, err := url.Parse(b.env.URL(role, b.db))
	if err != nil {
		panic(err)
	}
	u.User = url.UserPassword(role, password)
	q := u.Query()
	if mod != nil {
		mod(u, q)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// withCert makes a URL present the given client certificate files.
func withCert(p pki.Paths) func(*url.URL, url.Values) {
	return func(_ *url.URL, q url.Values) {
		q.Set("sslcert", p.Cert)
		q.Set("sslkey", p.Key)
	}
}

// refusedPort returns a port on 127.0.0.1 that nothing listens on.
func refusedPort(t *testing.T) string {
	t.Helper()
	port, err := freeport.Pick(t.Context())
	require.NoError(t, err)
	return strconv.Itoa(port)
}

// issueClient signs a client certificate for cn with the cluster's own
// postgres-ca, valid from notBefore to notAfter.
func issueClient(t *testing.T, env *tempcluster.Cluster, cn string, notBefore, notAfter time.Time) pki.Paths {
	t.Helper()
	caPaths := pki.SecretPaths(env.PKIDir, pki.PostgresCA)
	caPEM, err := os.ReadFile(caPaths.Cert)
	require.NoError(t, err)
	ca, err := pki.ParseCertificatePEM(caPEM)
	require.NoError(t, err)
	keyPEM, err := os.ReadFile(caPaths.Key)
	require.NoError(t, err)
	block, _ := pem.Decode(keyPEM)
	require.NotNil(t, block)
	caKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)

	dir := t.TempDir()
	p := pki.Paths{Cert: filepath.Join(dir, "tls.crt"), Key: filepath.Join(dir, "tls.key"), CA: caPaths.Cert}
	require.NoError(t, os.WriteFile(p.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(p.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return p
}

// connectRaw connects with pgx alone, bypassing dbconn's checks, and
// returns the failure as Explain describes it.
func connectRaw(t *testing.T, raw string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(raw)
	require.NoError(t, err)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		_ = conn.Close(ctx)
		t.Fatalf("pgx connected as %s: the server must refuse this login", cfg.User)
	}
	return dbconn.Explain(err, cfg.User, cfg.Database, cfg.Host, cfg.Port)
}

func TestConnectAsServer(t *testing.T) {
	t.Parallel()
	b := setupConn(t)
	ctx := context.Background()

	pool, err := dbconn.Connect(ctx, b.url(roleServer, nil), func(c *pgxpool.Config) { c.MaxConns = 2 })
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.Equal(t, int32(2), pool.Config().MaxConns, "configure is applied")

	var user, db string
	var ssl bool
	var clientDN string
	require.NoError(t, pool.QueryRow(ctx,
		"SELECT current_user, current_database(), ssl, coalesce(client_dn, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()").
		Scan(&user, &db, &ssl, &clientDN))
	require.Equal(t, roleServer, user)
	require.Equal(t, b.db, db)
	require.True(t, ssl)
	require.Equal(t, "/O=groundwork/CN=server", clientDN, "the role logged in with its client certificate")
}

func TestConnectUnreachable(t *testing.T) {
	t.Parallel()
	b := setupConn(t)
	port := refusedPort(t)

	_, err := dbconn.Connect(context.Background(), b.url(roleServer, func(u *url.URL, _ url.Values) {
		u.Host = "127.0.0.1:" + port
	}), nil)
	requireNoSecret(t, err)
	require.ErrorIs(t, err, dbconn.ErrUnreachable)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.NotErrorIs(t, err, dbconn.ErrRejected)
	require.ErrorContains(t, err, "nothing listens on 127.0.0.1:"+port)

	// Explain on pgx's own error says the same.
	_, err = pgx.Connect(context.Background(), "postgres://server@127.0.0.1:"+port+"/app?sslmode=disable")
	require.Error(t, err)
	explained := dbconn.Explain(err, "server", "app", "127.0.0.1", 1)
	require.ErrorIs(t, explained, dbconn.ErrUnreachable)
	require.ErrorIs(t, explained, err)
}

func TestConnectCancelled(t *testing.T) {
	t.Parallel()
	b := setupConn(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := dbconn.Connect(ctx, b.url(roleServer, nil), nil)
	require.Error(t, err)
	requireNoSecret(t, err)
	require.ErrorIs(t, err, context.Canceled)
}

func TestConnectChecksBeforeConnecting(t *testing.T) {
	t.Parallel()
	b := setupConn(t)
	port := refusedPort(t)

	// The server role's certificate, presented as migrator, to a port where
	// nothing listens: an unreachable error would mean Connect dialled.
	_, err := dbconn.Connect(context.Background(), b.url(roleMigrator, func(u *url.URL, q url.Values) {
		u.Host = "127.0.0.1:" + port
		withCert(b.env.CertPaths(roleServer))(u, q)
	}), nil)
	requireNoSecret(t, err)
	require.NotErrorIs(t, err, dbconn.ErrUnreachable, "Check must refuse before any connection is tried")
	require.ErrorContains(t, err, `certificate is for role "server" (its CN) but the URL connects as "migrator"`)
}

// TestServerRefuses shows that the cluster itself enforces what Check
// checks: each login below goes around dbconn with pgx and is refused by
// PostgreSQL, and Explain reports it as ErrRejected.
func TestServerRefuses(t *testing.T) {
	t.Parallel()
	b := setupConn(t)
	otherCA := t.TempDir()
	_, err := pki.Ensure(otherCA, pki.PostgresTree(roleServer), pki.Options{})
	require.NoError(t, err)
	now := time.Now()
	expired := issueClient(t, b.env, roleServer, now.Add(-2*time.Hour), now.Add(-time.Hour))

	tests := []struct {
		name string
		url  string
		want string
	}{
		{"OtherRolesCertificate", b.url(roleMigrator, withCert(b.env.CertPaths(roleServer))),
			`certificate authentication failed for user "migrator"`},
		{"NoClientCertificate", b.url(roleServer, func(_ *url.URL, q url.Values) { q.Del("sslcert"); q.Del("sslkey") }),
			"connection requires a valid client certificate"},
		{"NoTLS", b.url(roleServer, func(_ *url.URL, q url.Values) {
			q.Set("sslmode", "disable")
			q.Del("sslrootcert")
			q.Del("sslcert")
			q.Del("sslkey")
		}), "no encryption"},
		{"CertificateFromAnotherCA", b.url(roleServer, withCert(pki.SecretPaths(otherCA, pki.DBClientSecret(roleServer)))),
			"the server refused the client certificate"},
		{"ExpiredCertificate", b.url(roleServer, withCert(expired)),
			"the server refused the client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := connectRaw(t, tt.url)
			requireNoSecret(t, err)
			require.ErrorIs(t, err, dbconn.ErrRejected)
			require.NotErrorIs(t, err, dbconn.ErrUnreachable)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestServerRefusalsReachingConnect(t *testing.T) {
	t.Parallel()
	b := setupConn(t)
	ctx := context.Background()

	t.Run("CertificateFromAnotherCA", func(t *testing.T) {
		t.Parallel()
		// Right CN, valid, so Check passes: only PostgreSQL can tell that
		// another service's CA signed it.
		other := t.TempDir()
		_, err := pki.Ensure(other, pki.PostgresTree(roleServer), pki.Options{})
		require.NoError(t, err)
		_, err = dbconn.Connect(ctx, b.url(roleServer, withCert(pki.SecretPaths(other, pki.DBClientSecret(roleServer)))), nil)
		requireNoSecret(t, err)
		require.ErrorIs(t, err, dbconn.ErrRejected)
		require.ErrorContains(t, err, `role "server" at 127.0.0.1:`)
	})

	t.Run("ServerNotSignedByRootCert", func(t *testing.T) {
		t.Parallel()
		other := t.TempDir()
		_, err := pki.Ensure(other, pki.PostgresTree(), pki.Options{})
		require.NoError(t, err)
		_, err = dbconn.Connect(ctx, b.url(roleServer, func(_ *url.URL, q url.Values) {
			q.Set("sslrootcert", pki.SecretPaths(other, pki.PostgresCA).Cert)
		}), nil)
		requireNoSecret(t, err)
		var unknown x509.UnknownAuthorityError
		require.ErrorAs(t, err, &unknown)
		require.ErrorContains(t, err, "TLS: the certificate of the server at 127.0.0.1:")
		require.ErrorContains(t, err, "is not signed by sslrootcert's CA")
	})

	t.Run("RoleWithoutConnectPrivilege", func(t *testing.T) {
		t.Parallel()
		// kratos authenticates, but may not connect to the app's database.
		_, err := dbconn.Connect(ctx, b.url(roleKratos, nil), nil)
		requireNoSecret(t, err)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		require.Equal(t, "42501", pgErr.Code)
		require.ErrorContains(t, err, `as role "kratos"`)
		require.ErrorContains(t, err, "permission denied for database")
	})
}

func TestExplain(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name string
		err  error
		is   error  // sentinel expected, or nil
		want string // expected message prefix
	}{
		{"Refused", refused, dbconn.ErrUnreachable, "PostgreSQL unreachable: nothing listens on db:5432"},
		{"Deadline", fmt.Errorf("dial: %w", context.DeadlineExceeded), dbconn.ErrUnreachable, "PostgreSQL unreachable: no answer from db:5432 in time"},
		{"BadCertificate", &pgconn.PgError{Severity: "FATAL", Code: "28000", Message: "certificate authentication failed"}, dbconn.ErrRejected,
			`PostgreSQL refused the login: role "server" on database "app" at db:5432: certificate authentication failed`},
		{"BadPassword", &pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: "password authentication failed"}, dbconn.ErrRejected,
			`PostgreSQL refused the login: role "server"`},
		{"TLSAlert", &net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}, dbconn.ErrRejected,
			`PostgreSQL refused the login: role "server" at db:5432: the server refused the client certificate (tls: bad certificate)`},
		{"ResetAtStartup", fmt.Errorf("failed to write startup message: %w", &net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.ECONNRESET)}), dbconn.ErrRejected,
			`PostgreSQL refused the login: role "server" at db:5432: the server refused the client certificate (it reset the connection right after the TLS handshake`},
		{"ResetLater", fmt.Errorf("failed to receive message: %w", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), nil,
			"failed to receive message"},
		{"UnknownCA", x509.UnknownAuthorityError{}, nil, "TLS: the certificate of the server at db:5432 is not signed by sslrootcert's CA"},
		{"WrongHost", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "db"}, nil, `TLS: the certificate of the server at db:5432 is not valid for host "db"`},
		{"Expired", x509.CertificateInvalidError{Reason: x509.Expired}, nil, "TLS: the certificate of the server at db:5432 is not valid (expired?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := dbconn.Explain(tt.err, "server", "app", "db", 5432)
			require.ErrorIs(t, got, tt.err, "Explain wraps the original error")
			if tt.is != nil {
				require.ErrorIs(t, got, tt.is)
			}
			for _, s := range []error{dbconn.ErrUnreachable, dbconn.ErrRejected} {
				if !errors.Is(s, tt.is) {
					require.NotErrorIs(t, got, s)
				}
			}
			require.True(t, strings.HasPrefix(got.Error(), tt.want), "got %q, want prefix %q", got, tt.want)
		})
	}

	other := errors.New("something else")
	require.Same(t, other, dbconn.Explain(other, "server", "app", "db", 5432), "an error Explain cannot explain is returned as is")
}
