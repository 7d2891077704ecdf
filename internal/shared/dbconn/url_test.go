package dbconn_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/internal/shared/pki"
	"github.com/groundwork-dev/groundwork/internal/shared/tempcluster"
)

// Roles of the test cluster, as in production.
const (
	roleMigrator = "migrator"
	roleServer   = "server"
	roleKratos   = "kratos"
)

var testCluster = &tempcluster.Shared{Options: tempcluster.Options{Roles: []string{roleMigrator, roleServer, roleKratos}, Prefix: "dbconn-test-"}}

func TestMain(m *testing.M) { testCluster.Main(m) }

// password is put into every URL of these tests: no error may repeat it.
const password = "s3cret"

type urlBundle struct {
	dir string // certificate tree with clients migrator and server
}

func setupURL(t *testing.T) *urlBundle {
	t.Helper()
	dir := t.TempDir()
	_, err := pki.Ensure(dir, pki.PostgresTree("migrator", "server"), pki.Options{})
	require.NoError(t, err)
	return &urlBundle{dir: dir}
}

// url returns a valid URL for role, with a password, changed by mod.
func (b *urlBundle) url(role string, mod func(q url.Values)) string {
	c := pki.SecretPaths(b.dir, pki.DBClientSecret(role))
	q := url.Values{}
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", c.CA)
	q.Set("sslcert", c.Cert)
	q.Set("sslkey", c.Key)
	if mod != nil {
		mod(q)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(role, password), Host: "127.0.0.1:5432", Path: "/app", RawQuery: q.Encode()}
	return u.String()
}

func (b *urlBundle) keywordValue(role string) string {
	c := pki.SecretPaths(b.dir, pki.DBClientSecret(role))
	return fmt.Sprintf("host=127.0.0.1 port=5432 user=%s password=%s dbname=app sslmode=verify-full sslrootcert='%s' sslcert='%s' sslkey='%s'",
		role, password, c.CA, c.Cert, c.Key)
}

func requireNoSecret(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.NotContains(t, err.Error(), password, "errors must not repeat the URL, which may carry a password")
}

func TestCheckAcceptsCertificateURL(t *testing.T) {
	t.Parallel()
	b := setupURL(t)
	c := pki.SecretPaths(b.dir, pki.DBClientSecret("server"))
	want := dbconn.Settings{
		User: "server", Database: "app", Host: "127.0.0.1", Port: 5432, SSLMode: "verify-full",
		RootCert: c.CA, Cert: c.Cert, Key: c.Key,
	}

	for name, u := range map[string]string{
		"URL":              b.url("server", nil),
		"KeywordValue":     b.keywordValue("server"),
		"PostgresqlScheme": strings.Replace(b.url("server", nil), "postgres://", "postgresql://", 1),
		"SurroundingSpace": "  " + b.url("server", nil) + "\n",
	} {
		s, err := dbconn.Check(u, time.Now())
		require.NoError(t, err, name)
		require.Equal(t, want, s, name)
	}

	s, err := dbconn.Check(b.url("server", func(q url.Values) { q.Set("user", "migrator") }), time.Now())
	require.ErrorContains(t, err, `certificate is for role "server" (its CN) but the URL connects as "migrator"`,
		"a user= parameter overrides the URL's user, as in libpq")
	require.Equal(t, "migrator", s.User)
}

func TestCheckRejects(t *testing.T) {
	t.Parallel()
	b := setupURL(t)
	server := pki.SecretPaths(b.dir, pki.DBClientSecret("server"))

	// An expired client certificate and one not yet valid, from their own tree.
	expiredDir := t.TempDir()
	_, err := pki.Ensure(expiredDir, pki.PostgresTree("server"), pki.Options{Now: func() time.Time { return time.Now().Add(-60 * 24 * time.Hour) }})
	require.NoError(t, err)
	expired := pki.SecretPaths(expiredDir, pki.DBClientSecret("server"))
	futureDir := t.TempDir()
	_, err = pki.Ensure(futureDir, pki.PostgresTree("server"), pki.Options{Now: func() time.Time { return time.Now().Add(24 * time.Hour) }})
	require.NoError(t, err)
	future := pki.SecretPaths(futureDir, pki.DBClientSecret("server"))

	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not PEM"), 0o600))
	missing := filepath.Join(t.TempDir(), "missing.crt")

	tests := []struct {
		name string
		url  string
		want []string // substrings of the error, in order
	}{
		{"MalformedURL", "postgres://%zz", []string{`database URL is malformed: invalid URL escape "%zz"`}},
		{"MalformedPasswordEscape", "postgres://server:" + password + "%zz@127.0.0.1/app", []string{`database URL is malformed: invalid URL escape "%zz"`}},
		{"MalformedPort", "postgres://server:" + password + "@127.0.0.1:port/app", []string{"database URL is malformed", "invalid port"}},
		{"MalformedKeywordValue", "host=x password=" + password + " 'unterminated", []string{"database URL is malformed: expected postgres://... or key=value pairs"}},
		{"UnterminatedQuote", "host=x user=server password='" + password, []string{"database URL is malformed: unterminated quoted value for password"}},
		{"NotAURL", "mysql://server:" + password + "@127.0.0.1/app", []string{"database URL is malformed"}},
		{"NoUser", strings.Replace(b.url("server", nil), "server:"+password+"@", "", 1), []string{"database URL names no user"}},
		{"SSLModeMissing", b.url("server", func(q url.Values) { q.Del("sslmode") }), []string{"sslmode is prefer (the default); it must be verify-full"}},
		{"SSLModeDisable", b.url("server", func(q url.Values) { q.Set("sslmode", "disable") }), []string{"sslmode is disable; it must be verify-full"}},
		{"SSLModeRequire", b.url("server", func(q url.Values) { q.Set("sslmode", "require") }), []string{"sslmode is require; it must be verify-full"}},
		{"SSLModeVerifyCA", b.url("server", func(q url.Values) { q.Set("sslmode", "verify-ca") }), []string{"sslmode is verify-ca; it must be verify-full"}},
		{"RootCertMissing", b.url("server", func(q url.Values) { q.Del("sslrootcert") }), []string{"sslrootcert is missing"}},
		{"CertMissing", b.url("server", func(q url.Values) { q.Del("sslcert") }), []string{"sslcert is missing"}},
		{"KeyMissing", b.url("server", func(q url.Values) { q.Del("sslkey") }), []string{"sslkey is missing"}},
		{"RootCertFileMissing", b.url("server", func(q url.Values) { q.Set("sslrootcert", missing) }), []string{"sslrootcert " + missing + ": no such file or directory", "dev:up"}},
		{"CertFileMissing", b.url("server", func(q url.Values) { q.Set("sslcert", missing) }), []string{"sslcert " + missing + ": no such file or directory"}},
		{"KeyFileMissing", b.url("server", func(q url.Values) { q.Set("sslkey", missing) }), []string{"sslkey " + missing + ": no such file or directory"}},
		{"CertNotPEM", b.url("server", func(q url.Values) { q.Set("sslcert", garbage) }), []string{"sslcert " + garbage + " is not a PEM certificate"}},
		{"CertOfAnotherRole", b.url("migrator", func(q url.Values) { q.Set("sslcert", server.Cert); q.Set("sslkey", server.Key) }),
			[]string{`certificate is for role "server" (its CN) but the URL connects as "migrator": use the certificate issued for "migrator"`}},
		{"CertExpired", b.url("server", func(q url.Values) { q.Set("sslcert", expired.Cert); q.Set("sslkey", expired.Key) }),
			[]string{`certificate for role "server" expired at`, "dev:up renews"}},
		{"CertNotYetValid", b.url("server", func(q url.Values) { q.Set("sslcert", future.Cert); q.Set("sslkey", future.Key) }),
			[]string{`certificate for role "server" is not valid before`}},
		{"KeywordValueSSLDisabled", strings.Replace(b.keywordValue("server"), "sslmode=verify-full", "sslmode=disable", 1), []string{"sslmode is disable"}},
		{"KeywordValueWrongRole", strings.Replace(b.keywordValue("server"), "user=server", "user=migrator", 1), []string{`certificate is for role "server"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := dbconn.Check(tt.url, time.Now())
			requireNoSecret(t, err)
			require.NotErrorIs(t, err, dbconn.ErrMissing)
			msg := err.Error()
			for _, w := range tt.want {
				i := strings.Index(msg, w)
				require.GreaterOrEqual(t, i, 0, "error %q lacks %q", msg, w)
				msg = msg[i+len(w):]
			}

			// PoolConfig and ConnConfig check first and fail the same way.
			_, perr := dbconn.PoolConfig(tt.url)
			require.EqualError(t, perr, err.Error())
			_, cerr := dbconn.ConnConfig(tt.url)
			require.EqualError(t, cerr, err.Error())
		})
	}
}

func TestCheckMissingURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "   ", "\n\t"} {
		_, err := dbconn.Check(u, time.Now())
		require.ErrorIs(t, err, dbconn.ErrMissing)
		require.Contains(t, err.Error(), "--database-url")
		require.Contains(t, err.Error(), "DATABASE_URL")
		_, err = dbconn.PoolConfig(u)
		require.ErrorIs(t, err, dbconn.ErrMissing)
	}
}

func TestCheckClientCert(t *testing.T) {
	t.Parallel()
	b := setupURL(t)
	raw, err := os.ReadFile(pki.SecretPaths(b.dir, pki.DBClientSecret("server")).Cert)
	require.NoError(t, err)
	cert, err := pki.ParseCertificatePEM(raw)
	require.NoError(t, err)

	require.NoError(t, dbconn.CheckClientCert(cert, "server", time.Now()))
	require.EqualError(t, dbconn.CheckClientCert(cert, "kratos", time.Now()),
		`certificate is for role "server" (its CN) but the URL connects as "kratos": use the certificate issued for "kratos"`)
	require.EqualError(t, dbconn.CheckClientCert(cert, "server", cert.NotAfter.Add(time.Second)),
		fmt.Sprintf(`certificate for role "server" expired at %s (go tool mage dev:up renews local certificates)`, cert.NotAfter.UTC().Format(time.RFC3339)))
	require.EqualError(t, dbconn.CheckClientCert(cert, "server", cert.NotBefore.Add(-time.Second)),
		fmt.Sprintf(`certificate for role "server" is not valid before %s`, cert.NotBefore.UTC().Format(time.RFC3339)))
	require.NoError(t, dbconn.CheckClientCert(cert, "server", cert.NotAfter), "valid up to and including NotAfter")
}

func TestParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"URL", "postgres://server:" + password + "@db.example.com:6543/app?sslmode=verify-full&application_name=api",
			map[string]string{"user": "server", "host": "db.example.com", "port": "6543", "dbname": "app", "sslmode": "verify-full", "application_name": "api"}},
		{"URLWithoutPort", "postgresql://server@db/app",
			map[string]string{"user": "server", "host": "db", "dbname": "app"}},
		{"URLEscapes", "postgres://ser%20ver@db/my%2Fdb?sslcert=%2Fa%20b%2Fc.crt",
			map[string]string{"user": "ser ver", "host": "db", "dbname": "my/db", "sslcert": "/a b/c.crt"}},
		{"URLQueryUserWins", "postgres://a@db/app?user=b",
			map[string]string{"user": "b", "host": "db", "dbname": "app"}},
		{"URLRepeatedParamLastWins", "postgres://a@db/app?sslmode=disable&sslmode=verify-full",
			map[string]string{"user": "a", "host": "db", "dbname": "app", "sslmode": "verify-full"}},
		{"KeywordValue", "host=db port=5432 user=server dbname=app",
			map[string]string{"host": "db", "port": "5432", "user": "server", "dbname": "app"}},
		{"KeywordValueQuoted", `sslcert='/path with spaces/tls.crt' application_name='it\'s' empty=''`,
			map[string]string{"sslcert": "/path with spaces/tls.crt", "application_name": "it's", "empty": ""}},
		{"KeywordValueSpacesAroundEquals", "host = db\tuser=  server\n dbname=app",
			map[string]string{"host": "db", "user": "server", "dbname": "app"}},
		{"Empty", "", map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := dbconn.Params(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	for _, bad := range []string{"host", "=x", "host=x 'unterminated", "host='x"} {
		_, err := dbconn.Params(bad)
		require.ErrorContains(t, err, "database URL is malformed", "input %q", bad)
	}
}

func TestPoolConfig(t *testing.T) {
	t.Parallel()
	b := setupURL(t)

	for name, u := range map[string]string{"URL": b.url("server", nil), "KeywordValue": b.keywordValue("server")} {
		cfg, err := dbconn.PoolConfig(u)
		require.NoError(t, err, name)
		cc := cfg.ConnConfig
		require.Equal(t, "server", cc.User)
		require.Equal(t, "app", cc.Database)
		require.Equal(t, "127.0.0.1", cc.Host)
		require.Equal(t, uint16(5432), cc.Port)
		require.NotNil(t, cc.TLSConfig, "TLS is on")
		require.False(t, cc.TLSConfig.InsecureSkipVerify && cc.TLSConfig.VerifyPeerCertificate == nil, "the server's certificate is verified")
		require.Equal(t, "127.0.0.1", cc.TLSConfig.ServerName, "verify-full checks the host name")
		require.Len(t, cc.TLSConfig.Certificates, 1, "the client certificate is presented")
		require.Empty(t, cc.Fallbacks, "no fallback to a connection without TLS")

		conn, err := dbconn.ConnConfig(u)
		require.NoError(t, err, name)
		require.Equal(t, "server", conn.User)
		require.NotNil(t, conn.TLSConfig)
	}
}

func TestPoolConfigRejectsWhatOnlyPgxChecks(t *testing.T) {
	t.Parallel()
	b := setupURL(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not PEM"), 0o600))

	tests := []struct {
		name, url, want string
	}{
		{"PortOutOfRange", strings.Replace(b.url("server", nil), ":5432", ":99999", 1), "database URL is malformed: invalid port"},
		{"KeyNotPEM", b.url("server", func(q url.Values) { q.Set("sslkey", garbage) }), "sslkey"},
		{"RootCertNotPEM", b.url("server", func(q url.Values) { q.Set("sslrootcert", garbage) }), "CA"},
		{"BadConnectTimeout", b.url("server", func(q url.Values) { q.Set("connect_timeout", "soon") }), "database URL is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := dbconn.Check(tt.url, time.Now())
			require.NoError(t, err, "only pgx's parser finds this")
			_, err = dbconn.PoolConfig(tt.url)
			requireNoSecret(t, err)
			require.ErrorContains(t, err, tt.want)
			require.True(t, strings.HasPrefix(err.Error(), "database URL"), "error %q says what it is about", err)
			_, err = dbconn.ConnConfig(tt.url)
			requireNoSecret(t, err)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
