// Package dbpool opens the server's PostgreSQL connection pool from a
// certificate DSN (checked by internal/shared/dbconn) and keeps it working across
// certificate rotation: every new connection reads the client certificate,
// its key and the server CA from the files the DSN names (sslcert, sslkey,
// sslrootcert) as they are on disk at that moment (package tlsfiles), so a
// certificate renewed by cert-manager is used without a restart.
// Connections already open keep the certificate they logged in with;
// PostgreSQL checks a client certificate only at login.
//
// Collector exposes the pool's statistics to Prometheus.
package dbpool

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles"
)

// Options tune Open.
type Options struct {
	// Files tunes the certificate reloading (interval, clock, logger).
	Files tlsfiles.Options
	// Configure, if set, adjusts the pool configuration after Open has set
	// it up (tests lower MaxConnLifetime, say).
	Configure func(*pgxpool.Config)
}

// Open checks url and returns a pool that connects lazily: it does not
// wait for the database, so that a process can start (and report not
// ready) while PostgreSQL is down. Ping reports whether it is reachable.
func Open(url string, opts Options) (*pgxpool.Pool, error) {
	s, err := dbconn.Check(url, time.Now())
	if err != nil {
		return nil, err
	}
	cfg, err := dbconn.PoolConfig(url)
	if err != nil {
		return nil, err
	}
	cert, err := tlsfiles.LoadKeyPair(s.Cert, s.Key, opts.Files)
	if err != nil {
		return nil, fmt.Errorf("database client certificate (sslcert, sslkey): %w", err)
	}
	roots, err := tlsfiles.LoadCAPool(s.RootCert, opts.Files)
	if err != nil {
		return nil, fmt.Errorf("database server CA (sslrootcert): %w", err)
	}
	cfg.BeforeConnect = func(_ context.Context, cc *pgx.ConnConfig) error {
		useCurrentFiles(cc, cert, roots)
		return nil
	}
	if opts.Configure != nil {
		opts.Configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("open connection pool: %w", err)
	}
	return pool, nil
}

// useCurrentFiles points the TLS configurations of one connection attempt
// (pgxpool hands BeforeConnect a copy with cloned TLS configs) at the
// current certificate and CA bundle. sslmode=verify-full, which dbconn
// requires, leaves verification to crypto/tls with RootCAs and ServerName.
func useCurrentFiles(cc *pgx.ConnConfig, cert *tlsfiles.KeyPair, roots *tlsfiles.CAPool) {
	apply := func(t *tls.Config) {
		if t == nil {
			return
		}
		t.RootCAs = roots.Pool()
		t.Certificates = []tls.Certificate{*cert.Certificate()}
	}
	apply(cc.TLSConfig)
	for _, fb := range cc.Fallbacks {
		apply(fb.TLSConfig)
	}
}

// Ping checks that a connection can be acquired and used, explaining a
// failure in one line (see dbconn.Explain): the readiness check of the
// database.
func Ping(ctx context.Context, pool *pgxpool.Pool) error {
	if err := pool.Ping(ctx); err != nil {
		c := pool.Config().ConnConfig
		return dbconn.Explain(err, c.User, c.Database, c.Host, c.Port)
	}
	return nil
}

// LogValue describes a pool for logs without its URL.
func LogValue(pool *pgxpool.Pool) slog.Value {
	c := pool.Config().ConnConfig
	return slog.GroupValue(
		slog.String("user", c.User),
		slog.String("host", c.Host),
		slog.Int("port", int(c.Port)),
		slog.String("database", c.Database),
	)
}
