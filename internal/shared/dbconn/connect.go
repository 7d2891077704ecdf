package dbconn

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Connect checks url, opens a pool and pings the database, so that a wrong
// setting fails here with an explanation rather than on the first query.
func Connect(ctx context.Context, url string, configure func(*pgxpool.Config)) (*pgxpool.Pool, error) {
	cfg, err := PoolConfig(url)
	if err != nil {
		return nil, err
	}
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open connection pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, Explain(err, cfg.ConnConfig.User, cfg.ConnConfig.Database, cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	}
	return pool, nil
}

// ErrUnreachable means no PostgreSQL server answered at the address.
var ErrUnreachable = errors.New("PostgreSQL unreachable")

// ErrRejected means the server refused the role's authentication.
var ErrRejected = errors.New("PostgreSQL refused the login")

// resetAtStartup reports whether the connection was reset (or its write
// end closed) while pgx wrote the startup message, the first write after
// the TLS handshake.
func resetAtStartup(err error) bool {
	return (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) &&
		strings.Contains(err.Error(), "startup message")
}

// Explain turns a connection failure into one line that says what to check.
// It wraps err, so errors.As still finds pgx's types, and ErrUnreachable or
// ErrRejected for callers that branch.
func Explain(err error, user, database, host string, port uint16) error {
	addr := net.JoinHostPort(host, fmt.Sprint(port))
	var pgErr *pgconn.PgError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certInvalid x509.CertificateInvalidError
	var opErr *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: nothing listens on %s (is the database running? go tool mage dev:up starts the local one): %w", ErrUnreachable, addr, err)
	case errors.As(err, &pgErr) && (pgErr.Code == "28000" || pgErr.Code == "28P01"):
		return fmt.Errorf("%w: role %q on database %q at %s: %s (the client certificate's CN must be the role, and pg_hba must allow the role on that database): %w",
			ErrRejected, user, database, addr, pgErr.Message, err)
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		// crypto/tls reports an alert sent by the server this way (the alert
		// type is unexported). PostgreSQL sends one when it refuses the
		// client certificate: signed by a CA it does not trust, expired, ...
		return fmt.Errorf("%w: role %q at %s: the server refused the client certificate (%s): sslcert must be issued by the CA PostgreSQL trusts for clients and be valid now: %w",
			ErrRejected, user, addr, opErr.Err.Error(), err)
	case resetAtStartup(err):
		// With TLS 1.3 the client is done with the handshake before the
		// server has checked the client certificate. When the server
		// refuses it, it sends an alert and closes; the client's first
		// write, the startup message, can meet the closed socket (a reset)
		// before the alert is read. PostgreSQL drops a connection at this
		// point for no other reason: everything else it refuses with a
		// FATAL message.
		return fmt.Errorf("%w: role %q at %s: the server refused the client certificate (it reset the connection right after the TLS handshake, before its alert could be read): sslcert must be issued by the CA PostgreSQL trusts for clients and be valid now: %w",
			ErrRejected, user, addr, err)
	case errors.As(err, &unknownCA):
		return fmt.Errorf("TLS: the certificate of the server at %s is not signed by sslrootcert's CA: %w", addr, err)
	case errors.As(err, &hostErr):
		return fmt.Errorf("TLS: the certificate of the server at %s is not valid for host %q: %w", addr, host, err)
	case errors.As(err, &certInvalid):
		return fmt.Errorf("TLS: the certificate of the server at %s is not valid (expired?): %w", addr, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: no answer from %s in time: %w", ErrUnreachable, addr, err)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("connect to %s as role %q: %w", addr, user, err)
	}
	return err
}
