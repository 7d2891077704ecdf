// Package dbconn turns a database URL into a pgx configuration and checks,
// before any connection is tried, that it authenticates the way the project
// requires: TLS with full verification and a client certificate whose CN is
// the role. Every error names the problem and the fix, and none repeats the
// URL, which may carry secrets. Connect opens a pool and explains
// connection failures the same way.
package dbconn

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/shared/pki"
)

// EnvVar is the environment variable read when no flag is given.
const EnvVar = "DATABASE_URL"

// ErrMissing means no database URL was given.
var ErrMissing = errors.New("no database URL: pass --database-url or set DATABASE_URL (go tool mage dev:env prints one for each role)")

// Settings are the certificate settings found in a URL.
type Settings struct {
	User, Database, Host string
	Port                 uint16 // 0 when the URL names no port, or several
	SSLMode              string
	RootCert, Cert, Key  string
}

// Check parses url and validates its authentication settings.
func Check(url string, now time.Time) (Settings, error) {
	if strings.TrimSpace(url) == "" {
		return Settings{}, ErrMissing
	}
	// Read the file settings ourselves first: pgconn loads the certificate
	// files while parsing, and its errors do not say which setting is wrong.
	s, err := settings(url)
	if err != nil {
		return s, err
	}
	if s.SSLMode != "verify-full" {
		mode := s.SSLMode
		if mode == "" {
			mode = "prefer (the default)"
		}
		return s, fmt.Errorf("database URL: sslmode is %s; it must be verify-full (roles authenticate with TLS client certificates only)", mode)
	}
	for _, f := range []struct{ name, path string }{{"sslrootcert", s.RootCert}, {"sslcert", s.Cert}, {"sslkey", s.Key}} {
		if f.path == "" {
			return s, fmt.Errorf("database URL: %s is missing; certificate authentication needs sslrootcert, sslcert and sslkey", f.name)
		}
		fh, err := os.Open(f.path)
		if err != nil {
			return s, fmt.Errorf("database URL: %s %s: %w (go tool mage dev:up recreates local certificates)", f.name, f.path, unwrapPath(err))
		}
		fh.Close()
	}
	b, err := os.ReadFile(s.Cert)
	if err != nil {
		return s, fmt.Errorf("database URL: read sslcert: %w", err)
	}
	cert, err := pki.ParseCertificatePEM(b)
	if err != nil {
		return s, fmt.Errorf("database URL: sslcert %s is not a PEM certificate: %w", s.Cert, err)
	}
	if err := CheckClientCert(cert, s.User, now); err != nil {
		return s, fmt.Errorf("database URL: sslcert %s: %w", s.Cert, err)
	}
	return s, nil
}

// CheckClientCert fails when cert cannot log in as role at time now.
func CheckClientCert(cert *x509.Certificate, role string, now time.Time) error {
	if cert.Subject.CommonName != role {
		return fmt.Errorf("certificate is for role %q (its CN) but the URL connects as %q: use the certificate issued for %q", cert.Subject.CommonName, role, role)
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("certificate for role %q expired at %s (go tool mage dev:up renews local certificates)", role, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("certificate for role %q is not valid before %s", role, cert.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

func settings(raw string) (Settings, error) {
	params, err := Params(raw)
	if err != nil {
		return Settings{}, err
	}
	s := Settings{
		User: params["user"], Database: params["dbname"], Host: params["host"],
		SSLMode: params["sslmode"], RootCert: params["sslrootcert"], Cert: params["sslcert"], Key: params["sslkey"],
	}
	// Several hosts (host=a,b port=1,2) are syntax pgx accepts; Port then
	// stays 0.
	if port, err := strconv.ParseUint(params["port"], 10, 16); err == nil {
		s.Port = uint16(port)
	}
	if s.User == "" {
		return s, errors.New("database URL names no user: the role to connect as (migrator, server, ...) is required")
	}
	return s, nil
}

// Params splits a URL (postgres://...) or keyword/value string (host=...
// user=...) into its settings. Only the syntax is checked here.
func Params(raw string) (map[string]string, error) {
	raw = strings.TrimSpace(raw)
	if strings.HasPrefix(raw, "postgres://") || strings.HasPrefix(raw, "postgresql://") {
		u, err := neturl.Parse(raw)
		if err != nil {
			var ue *neturl.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, fmt.Errorf("database URL is malformed: %w", err)
		}
		p := map[string]string{}
		if u.User != nil {
			p["user"] = u.User.Username()
		}
		p["host"] = u.Hostname()
		if port := u.Port(); port != "" {
			p["port"] = port
		}
		p["dbname"] = strings.TrimPrefix(u.Path, "/")
		for k, v := range u.Query() {
			p[k] = v[len(v)-1]
		}
		return p, nil
	}
	return keywordValues(raw)
}

// keywordValues parses libpq's keyword/value format: key=value pairs
// separated by spaces, values optionally single-quoted with \ escapes.
func keywordValues(s string) (map[string]string, error) {
	p := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t\n")
		if s == "" {
			return p, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, errors.New("database URL is malformed: expected postgres://... or key=value pairs")
		}
		key := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val strings.Builder
		if strings.HasPrefix(s, "'") {
			s = s[1:]
			closed := false
			for len(s) > 0 {
				c := s[0]
				s = s[1:]
				if c == '\\' && len(s) > 0 {
					val.WriteByte(s[0])
					s = s[1:]
					continue
				}
				if c == '\'' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("database URL is malformed: unterminated quoted value for %s", key)
			}
		} else {
			end := strings.IndexAny(s, " \t\n")
			if end < 0 {
				end = len(s)
			}
			val.WriteString(s[:end])
			s = s[end:]
		}
		p[key] = val.String()
	}
}

// parseError keeps pgconn's reason and drops the URL it quotes.
func parseError(err error) error {
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) && pce.Unwrap() != nil {
		return fmt.Errorf("database URL is malformed: %w", pce.Unwrap())
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, "cannot parse") {
		msg = msg[i+2:]
	}
	return fmt.Errorf("database URL is malformed: %s", msg)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// PoolConfig checks url and returns a pool configuration for it.
func PoolConfig(url string) (*pgxpool.Config, error) {
	if _, err := Check(url, time.Now()); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, parseError(err)
	}
	return cfg, nil
}

// ConnConfig checks url and returns a single-connection configuration.
func ConnConfig(url string) (*pgx.ConnConfig, error) {
	if _, err := Check(url, time.Now()); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, parseError(err)
	}
	return cfg, nil
}

// CertURL is the URL that connects as role to database on host:port with
// the role's client certificate from a certificate tree (package pki):
// sslmode=verify-full against the PostgreSQL CA, no password.
func CertURL(host string, port int, role, database, pkiDir string) string {
	ca := pki.SecretPaths(pkiDir, pki.PostgresServerSecret).CA
	cert := pki.SecretPaths(pkiDir, pki.DBClientSecret(role))
	q := neturl.Values{}
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", ca)
	q.Set("sslcert", cert.Cert)
	q.Set("sslkey", cert.Key)
	u := neturl.URL{Scheme: "postgres", User: neturl.User(role), Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/" + database, RawQuery: q.Encode()}
	return u.String()
}
