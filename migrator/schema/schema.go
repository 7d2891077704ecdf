// Package schema applies the application schema and River's schema to the
// app database and grants the server role what it needs, nothing more.
//
// Up runs, under one session-level advisory lock so that concurrent
// migrators queue up instead of racing:
//
//  1. River's migrations, with River's own migrator (River is a library
//     whose schema we do not own; app migrations may refer to its tables);
//  2. the app migrations embedded from package migrations (golang-migrate);
//  3. the grants: the server role gets SELECT, INSERT, UPDATE and DELETE on
//     every table, read-only access to the two migration bookkeeping
//     tables, and USAGE on sequences; everything else is revoked first.
//
// A second migrator started at the same time waits for the lock, then finds
// nothing to do.
package schema

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/groundwork-dev/groundwork/migrator/dbconn"
	"github.com/groundwork-dev/groundwork/migrator/migrations"
)

// lockKey identifies the migrator's advisory lock ("groundwk" in ASCII).
const lockKey int64 = 0x67726f756e64776b

// MigrationsTable is golang-migrate's bookkeeping table.
const MigrationsTable = "schema_migrations"

// Options configure a Migrator.
type Options struct {
	// ServerRole receives DML privileges after Up. Default "server".
	ServerRole string
	// Source overrides the embedded migrations (tests use it).
	Source fs.FS
	// Log receives one line per step. Default: discard.
	Log io.Writer
}

// Migrator changes the schema of one database.
type Migrator struct {
	pool *pgxpool.Pool
	src  fs.FS
	role string
	log  io.Writer
}

// Open connects to the database named by url, which must authenticate with
// a client certificate (see package dbconn).
func Open(ctx context.Context, url string, opts Options) (*Migrator, error) {
	pool, err := dbconn.Connect(ctx, url, func(c *pgxpool.Config) {
		c.MinConns = 0
		c.MaxConns = 4
	})
	if err != nil {
		return nil, err
	}
	m := &Migrator{pool: pool, src: opts.Source, role: opts.ServerRole, log: opts.Log}
	if m.src == nil {
		m.src = migrations.FS
	}
	if m.role == "" {
		m.role = "server"
	}
	if m.log == nil {
		m.log = io.Discard
	}
	return m, nil
}

// Close releases the connections.
func (m *Migrator) Close() {
	m.pool.Close()
}

// Pool returns the migrator's connection pool.
func (m *Migrator) Pool() *pgxpool.Pool { return m.pool }

// ErrDirty means golang-migrate recorded a migration as started but not
// finished. Callers branch on it with errors.As.
type ErrDirty struct{ Version uint }

func (e *ErrDirty) Error() string {
	return fmt.Sprintf("the database is marked dirty at version %d: a migration was interrupted (the process was killed, or a migration ran outside a transaction). "+
		"Check the schema (go tool mage db:shell), then record the last version that is fully applied with `migrator force <version>` and run `migrator up` again", e.Version)
}

// FailedError reports a migration that failed and was rolled back.
type FailedError struct {
	Version  uint
	File     string
	Previous int // the version the database stays at; -1 for none
	Err      error
}

func (e *FailedError) Error() string {
	at := fmt.Sprintf("version %d", e.Previous)
	if e.Previous < 0 {
		at = "no version (empty)"
	}
	return fmt.Sprintf("migration %s failed and was rolled back, the schema stays at %s: %s; fix the file and run `migrator up` again", e.File, at, pgMessage(e.Err))
}

func (e *FailedError) Unwrap() error { return e.Err }

func pgMessage(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		msg := fmt.Sprintf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
		if pgErr.Detail != "" {
			msg += ": " + pgErr.Detail
		}
		return msg
	}
	return err.Error()
}

// UpResult says what Up changed.
type UpResult struct {
	AppFrom, AppTo int   // -1 means no version
	River          []int // River versions applied by this run
	Duration       time.Duration
}

// Changed reports whether any migration ran.
func (r UpResult) Changed() bool { return r.AppFrom != r.AppTo || len(r.River) > 0 }

// Up applies every pending migration and the grants.
func (m *Migrator) Up(ctx context.Context) (UpResult, error) {
	start := time.Now()
	res := UpResult{AppFrom: -1, AppTo: -1}
	err := m.locked(ctx, func(gm *migrate.Migrate) error {
		riverRes, err := m.riverUp(ctx)
		if err != nil {
			return err
		}
		for _, v := range riverRes.Versions {
			res.River = append(res.River, v.Version)
		}
		if len(res.River) > 0 {
			fmt.Fprintf(m.log, "river schema: applied versions %v\n", res.River)
		}
		from, err := m.checkClean(gm)
		if err != nil {
			return err
		}
		res.AppFrom = from
		if err := gm.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return m.rollbackMarker(gm, err)
		}
		res.AppTo, err = m.version(gm)
		if err != nil {
			return err
		}
		if res.AppTo != res.AppFrom {
			fmt.Fprintf(m.log, "app schema: version %s → %d\n", versionString(res.AppFrom), res.AppTo)
		}
		return m.grant(ctx)
	})
	res.Duration = time.Since(start)
	return res, err
}

// Down rolls back the last n app migrations. River's schema is left alone.
func (m *Migrator) Down(ctx context.Context, n int) error {
	if n <= 0 {
		return fmt.Errorf("down: the number of migrations to roll back must be positive, got %d", n)
	}
	return m.locked(ctx, func(gm *migrate.Migrate) error {
		from, err := m.checkClean(gm)
		if err != nil {
			return err
		}
		if err := gm.Steps(-n); err != nil {
			if errors.Is(err, migrate.ErrNoChange) || errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("down %d: nothing to roll back at version %s", n, versionString(from))
			}
			var short migrate.ErrShortLimit
			if !errors.As(err, &short) {
				return m.rollbackMarker(gm, err)
			}
		}
		to, err := m.version(gm)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.log, "app schema: version %s → %s\n", versionString(from), versionString(to))
		return nil
	})
}

// Goto migrates the app schema up or down to version v.
func (m *Migrator) Goto(ctx context.Context, v uint) error {
	return m.locked(ctx, func(gm *migrate.Migrate) error {
		from, err := m.checkClean(gm)
		if err != nil {
			return err
		}
		if _, _, err := m.sourceDriver().ReadUp(v); err != nil {
			return fmt.Errorf("goto %d: no migration has that version", v)
		}
		if err := gm.Migrate(v); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return m.rollbackMarker(gm, err)
		}
		fmt.Fprintf(m.log, "app schema: version %s → %d\n", versionString(from), v)
		return m.grant(ctx)
	})
}

// Force records version v (-1: none) as applied and clean without running
// anything: the way out of a dirty state after checking the schema by hand.
func (m *Migrator) Force(ctx context.Context, v int) error {
	if v < -1 {
		return fmt.Errorf("force: version must be -1 (none) or a migration's version, got %d", v)
	}
	if v >= 0 {
		if _, _, err := m.sourceDriver().ReadUp(uint(v)); err != nil {
			return fmt.Errorf("force %d: no migration has that version", v)
		}
	}
	return m.locked(ctx, func(gm *migrate.Migrate) error {
		if err := gm.Force(v); err != nil {
			return fmt.Errorf("force version %d: %w", v, err)
		}
		fmt.Fprintf(m.log, "app schema: version recorded as %s\n", versionString(v))
		return nil
	})
}

// Version returns the app schema's version (-1: none) and whether it is dirty.
func (m *Migrator) Version(ctx context.Context) (int, bool, error) {
	var v int64
	var dirty bool
	err := m.pool.QueryRow(ctx, "SELECT version, dirty FROM "+MigrationsTable+" LIMIT 1").Scan(&v, &dirty)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return -1, false, nil
	case isUndefinedTable(err):
		return -1, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("read schema version: %w", err)
	}
	return int(v), dirty, nil
}

// Latest returns the highest version among the migration files.
func (m *Migrator) Latest() (uint, error) { return LatestVersion(m.src) }

// LatestVersion returns the highest version in a migrations directory.
func LatestVersion(src fs.FS) (uint, error) {
	d, err := iofs.New(src, ".")
	if err != nil {
		return 0, fmt.Errorf("read migrations: %w", err)
	}
	v, err := d.First()
	if err != nil {
		return 0, fmt.Errorf("read migrations: %w", err)
	}
	for {
		next, err := d.Next(v)
		if err != nil {
			return v, nil
		}
		v = next
	}
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

func versionString(v int) string {
	if v < 0 {
		return "none"
	}
	return fmt.Sprint(v)
}

// locked runs fn with a golang-migrate instance while holding the
// migrator's advisory lock on a connection of its own.
func (m *Migrator) locked(ctx context.Context, fn func(*migrate.Migrate) error) error {
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection for the migration lock: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("wait for the migration lock: %w", err)
	}
	defer func() {
		// A fresh context: the caller's may be cancelled, and the lock must
		// not outlive this function on a pooled connection.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", lockKey); err != nil {
			conn.Conn().Close(uctx) // closing the session drops the lock
		}
	}()
	gm, err := m.golangMigrate()
	if err != nil {
		return err
	}
	// Close returns golang-migrate's connection to the pool.
	defer gm.Close()
	return fn(gm)
}

func (m *Migrator) sourceDriver() source.Driver {
	d, err := iofs.New(m.src, ".")
	if err != nil {
		// The embedded FS is checked by tests; a custom Source is the
		// caller's to get right.
		panic(fmt.Sprintf("schema: migrations source: %v", err))
	}
	return d
}

func (m *Migrator) golangMigrate() (*migrate.Migrate, error) {
	// A database/sql handle of its own rather than one over the pool: when
	// WithInstance fails it leaks the connection it took, which would make
	// closing the pool hang.
	db := stdlib.OpenDB(*m.pool.Config().ConnConfig)
	driver, err := migratepgx.WithInstance(db, &migratepgx.Config{MigrationsTable: MigrationsTable})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("prepare golang-migrate: %w", err)
	}
	gm, err := migrate.NewWithInstance("iofs", m.sourceDriver(), "pgx5", driver)
	if err != nil {
		return nil, fmt.Errorf("prepare golang-migrate: %w", err)
	}
	// The advisory lock above already serializes migrators; golang-migrate
	// takes its own too and must not time out while we wait behind ours.
	gm.LockTimeout = time.Minute
	return gm, nil
}

func (m *Migrator) version(gm *migrate.Migrate) (int, error) {
	v, _, err := gm.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v), nil
}

func (m *Migrator) checkClean(gm *migrate.Migrate) (int, error) {
	v, dirty, err := gm.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if dirty {
		return int(v), &ErrDirty{Version: v}
	}
	return int(v), nil
}

// rollbackMarker handles a failed migration. Each migration file runs as a
// single implicit transaction, so PostgreSQL rolled its changes back; only
// golang-migrate's dirty marker is left, and it is reset to the previous
// version so that the next `up` can simply run again.
func (m *Migrator) rollbackMarker(gm *migrate.Migrate, runErr error) error {
	v, dirty, err := gm.Version()
	if err != nil || !dirty {
		return fmt.Errorf("migrate: %w", runErr)
	}
	src := m.sourceDriver()
	prev := -1
	if p, err := src.Prev(v); err == nil {
		prev = int(p)
	}
	file := fmt.Sprint(v)
	if r, ident, err := src.ReadUp(v); err == nil {
		r.Close()
		file = fmt.Sprintf("%06d_%s.up.sql", v, ident)
	}
	if err := gm.Force(prev); err != nil {
		return fmt.Errorf("migration %s failed (%s), and resetting the dirty marker failed too: %w", file, pgMessage(runErr), err)
	}
	return &FailedError{Version: v, File: file, Previous: prev, Err: runErr}
}

func (m *Migrator) riverUp(ctx context.Context) (*rivermigrate.MigrateResult, error) {
	rm, err := rivermigrate.New(riverpgxv5.New(m.pool), &rivermigrate.Config{
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, fmt.Errorf("prepare River migrator: %w", err)
	}
	res, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("apply River's schema: %w", err)
	}
	return res, nil
}

// grant gives the server role exactly DML on the app's and River's tables,
// read-only access to the migration bookkeeping and the sequences it needs
// for inserts. It revokes first, so privileges granted by hand do not
// linger, and runs in one transaction.
func (m *Migrator) grant(ctx context.Context) error {
	role := pgx.Identifier{m.role}.Sanitize()
	stmts := []string{
		"GRANT USAGE ON SCHEMA public TO " + role,
		"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM " + role,
		"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM " + role,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + role,
		"REVOKE INSERT, UPDATE, DELETE ON " + MigrationsTable + ", river_migration FROM " + role,
		"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO " + role,
	}
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", strings.SplitN(s, " TO ", 2)[0], err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("grant privileges to role %s: %w", m.role, err)
	}
	return nil
}
