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
	"strconv"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/migrator/migrations"
)

// ErrNotOwner means the migrator is connected as a role that does not own
// the database, so it may not change the schema.
var ErrNotOwner = errors.New("not the database owner")

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
	src := opts.Source
	if src == nil {
		src = migrations.FS
	}
	if err := checkSource(src); err != nil {
		return nil, err
	}
	pool, err := dbconn.Connect(ctx, url, func(c *pgxpool.Config) {
		c.MinConns = 0
		c.MaxConns = 4
	})
	if err != nil {
		return nil, err
	}
	m := &Migrator{pool: pool, src: src, role: opts.ServerRole, log: opts.Log}
	if m.role == "" {
		m.role = "server"
	}
	if m.log == nil {
		m.log = io.Discard
	}
	return m, nil
}

// checkSource fails when src is not a usable migrations directory, so
// that a bad Options.Source is reported by Open rather than found later.
func checkSource(src fs.FS) error {
	d, err := iofs.New(src, ".")
	if err != nil {
		return fmt.Errorf("migrations source: %w", err)
	}
	if _, err := d.First(); err != nil {
		return errors.New("migrations source: no migration files (NNNNNN_name.up.sql)")
	}
	return nil
}

// Close releases the connections.
func (m *Migrator) Close() {
	m.pool.Close()
}

// Pool returns the migrator's connection pool.
func (m *Migrator) Pool() *pgxpool.Pool { return m.pool }

// ErrDirty means golang-migrate recorded a migration as started but not
// finished. Callers branch on it with errors.As. Version is -1 when the
// interrupted migration was rolling back the first one.
type ErrDirty struct{ Version int }

func (e *ErrDirty) Error() string {
	return fmt.Sprintf("the database is marked dirty at version %s: a migration was interrupted (the process was killed, or a migration ran outside a transaction). "+
		"Check the schema (go tool mage db:shell), then record the last version that is fully applied with `migrator force <version>` and run `migrator up` again", versionString(e.Version))
}

// FailedError reports a migration file that failed and was rolled back.
type FailedError struct {
	Version  uint   // the version of the file that failed
	File     string // its name: NNNNNN_name.up.sql, or .down.sql when rolling back
	Line     uint   // where PostgreSQL reported the error in File; 0 if it gave no position
	Previous int    // the version the database stays at; -1 for none
	Err      error  // PostgreSQL's error (a *pgconn.PgError) when it reported one
}

func (e *FailedError) Error() string {
	at := fmt.Sprintf("version %d", e.Previous)
	if e.Previous < 0 {
		at = "no version (empty)"
	}
	line := ""
	if e.Line > 0 {
		line = fmt.Sprintf(" at line %d", e.Line)
	}
	again := "run `migrator up` again"
	if strings.HasSuffix(e.File, ".down.sql") {
		again = "roll back again"
	}
	return fmt.Sprintf("migration %s failed%s and was rolled back, the schema stays at %s: %s; fix the file and %s", e.File, line, at, pgMessage(e.Err), again)
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
		from, err := m.checkClean(ctx)
		if err != nil {
			return err
		}
		res.AppFrom = from
		if err := gm.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return m.rollbackMarker(ctx, gm, err, true)
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
		from, err := m.checkClean(ctx)
		if err != nil {
			return err
		}
		if err := gm.Steps(-n); err != nil {
			if errors.Is(err, migrate.ErrNoChange) || errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("down %d: nothing to roll back at version %s", n, versionString(from))
			}
			var short migrate.ErrShortLimit
			if !errors.As(err, &short) {
				return m.rollbackMarker(ctx, gm, err, false)
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

// Goto migrates the app schema up or down to version v. Like Up, it
// applies River's schema first (app migrations may refer to its tables) and
// the grants last. Version 0 means no app migration applied: every one is
// rolled back, and River's schema is left as it is (as Down leaves it).
// Migration versions start at 1, so 0 is never a migration's own.
func (m *Migrator) Goto(ctx context.Context, v uint) error {
	if v == 0 {
		return m.gotoNone(ctx)
	}
	if !m.hasVersion(v) {
		return fmt.Errorf("goto %d: no migration has that version; the versions are 0 (none applied) and %s", v, joinVersions(m.versions()))
	}
	return m.locked(ctx, func(gm *migrate.Migrate) error {
		if _, err := m.riverUp(ctx); err != nil {
			return err
		}
		from, err := m.checkClean(ctx)
		if err != nil {
			return err
		}
		if err := gm.Migrate(v); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return m.rollbackMarker(ctx, gm, err, int(v) > from)
		}
		fmt.Fprintf(m.log, "app schema: version %s → %d\n", versionString(from), v)
		return m.grant(ctx)
	})
}

// gotoNone rolls back every applied app migration.
func (m *Migrator) gotoNone(ctx context.Context) error {
	return m.locked(ctx, func(gm *migrate.Migrate) error {
		from, err := m.checkClean(ctx)
		if err != nil {
			return err
		}
		if from == -1 {
			fmt.Fprintln(m.log, "app schema: no version, nothing to roll back")
			return nil
		}
		if err := gm.Down(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return m.rollbackMarker(ctx, gm, err, false)
		}
		fmt.Fprintf(m.log, "app schema: version %d → none\n", from)
		return nil
	})
}

// versions lists the app migrations' versions in order.
func (m *Migrator) versions() []uint {
	d := m.sourceDriver()
	var out []uint
	v, err := d.First()
	for err == nil {
		out = append(out, v)
		v, err = d.Next(v)
	}
	return out
}

func joinVersions(vs []uint) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.FormatUint(uint64(v), 10)
	}
	return strings.Join(s, ", ")
}

// Force records version v (-1: none) as applied and clean without running
// anything: the way out of a dirty state after checking the schema by hand.
func (m *Migrator) Force(ctx context.Context, v int) error {
	if v < -1 {
		return fmt.Errorf("force: version must be -1 (none) or a migration's version, got %d", v)
	}
	if v >= 0 {
		if !m.hasVersion(uint(v)) {
			return fmt.Errorf("force %d: no migration has that version; the versions are -1 (none) and %s", v, joinVersions(m.versions()))
		}
	}
	return m.locked(ctx, func(gm *migrate.Migrate) error {
		if err := gm.Force(v); err != nil {
			return fmt.Errorf("force version %d: %w", v, dbCause(err))
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
		if errors.Is(err, os.ErrNotExist) {
			return v, nil // v is the last one
		}
		if err != nil {
			return 0, fmt.Errorf("read migrations: %w", err)
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
	// Only the owner may change the schema. Checked first because
	// PostgreSQL answers a non-owner's GRANT with a warning, not an error,
	// and because the message can then say which role to use.
	var user, owner, db string
	if err := conn.QueryRow(ctx, `SELECT current_user, pg_get_userbyid(datdba), datname
		FROM pg_database WHERE datname = current_database()`).Scan(&user, &owner, &db); err != nil {
		return fmt.Errorf("look up the database owner: %w", err)
	}
	if user != owner {
		return fmt.Errorf("%w: connected as role %q, but database %q is owned by %q; run the migrator as %q (MIGRATOR_DATABASE_URL)", ErrNotOwner, user, db, owner, owner)
	}
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
		return nil, fmt.Errorf("prepare golang-migrate: %w", dbCause(err))
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

// checkClean returns the app schema's version, or ErrDirty. It reads the
// bookkeeping table itself: golang-migrate reports "dirty at no version"
// (left by an interrupted rollback of the first migration) as no version.
func (m *Migrator) checkClean(ctx context.Context) (int, error) {
	v, dirty, err := m.Version(ctx)
	if err != nil {
		return 0, err
	}
	if dirty {
		return v, &ErrDirty{Version: v}
	}
	return v, nil
}

// dbCause takes the database's own error out of golang-migrate's
// database.Error, which has no Unwrap (so errors.As cannot reach a
// *pgconn.PgError through it) and quotes the whole statement or file.
// golang-migrate returns it both as a value and as a pointer.
func dbCause(err error) error {
	if dbErr, ok := asDBError(err); ok && dbErr.OrigErr != nil {
		return dbErr.OrigErr
	}
	return err
}

func asDBError(err error) (database.Error, bool) {
	var v database.Error
	if errors.As(err, &v) {
		return v, true
	}
	var p *database.Error
	if errors.As(err, &p) && p != nil {
		return *p, true
	}
	return database.Error{}, false
}

// hasVersion reports whether the source has an up migration numbered v.
func (m *Migrator) hasVersion(v uint) bool {
	r, _, err := m.sourceDriver().ReadUp(v)
	if err != nil {
		return false
	}
	r.Close()
	return true
}

// rollbackMarker handles a failed migration. Each migration file runs as a
// single implicit transaction, so PostgreSQL rolled its changes back; only
// golang-migrate's dirty marker is left, and it is reset to the version the
// schema is really at, so that the next command can simply run again.
//
// golang-migrate marks the version it is going to: when applying version
// v, v itself; when rolling v back, the version before v (-1 for none).
func (m *Migrator) rollbackMarker(ctx context.Context, gm *migrate.Migrate, runErr error, up bool) error {
	// Keep PostgreSQL's error, and the line of the file it points at.
	cause, line := dbCause(runErr), uint(0)
	var pgErr *pgconn.PgError
	if dbErr, ok := asDBError(runErr); ok && errors.As(cause, &pgErr) && pgErr.Position > 0 {
		line = dbErr.Line
	}
	marked, dirty, err := m.Version(ctx)
	if err != nil || !dirty {
		// golang-migrate failed before it ran a file (the role may not
		// write the bookkeeping table, say), or the marker is unreadable.
		return fmt.Errorf("migrate: %w", cause)
	}
	src := m.sourceDriver()
	var failed uint
	stays := -1
	if up {
		if marked < 0 {
			return fmt.Errorf("migrate: %w", cause)
		}
		failed = uint(marked)
		if p, err := src.Prev(failed); err == nil {
			stays = int(p)
		}
	} else {
		if marked < 0 {
			failed, err = src.First()
		} else {
			failed, err = src.Next(uint(marked))
		}
		if err != nil {
			return fmt.Errorf("migrate: %w", cause)
		}
		stays = int(failed)
	}
	file := m.fileName(failed, up)
	if err := gm.Force(stays); err != nil {
		return fmt.Errorf("migration %s failed (%s), and resetting the dirty marker failed too: %w", file, pgMessage(cause), err)
	}
	return &FailedError{Version: failed, File: file, Line: line, Previous: stays, Err: cause}
}

// fileName returns the name of the up or down file of version v.
func (m *Migrator) fileName(v uint, up bool) string {
	dir := source.Down
	if up {
		dir = source.Up
	}
	if entries, err := fs.ReadDir(m.src, "."); err == nil {
		for _, e := range entries {
			if mig, err := source.DefaultParse(e.Name()); err == nil && mig.Version == v && mig.Direction == dir {
				return e.Name()
			}
		}
	}
	return fmt.Sprintf("version %d (%s)", v, dir)
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
// linger, and runs in one transaction. Tables added by later migrations are
// covered by the next Up: the grants are re-applied on every run.
//
// River's maintenance services, which run in the worker as the server
// role, need nothing more: leader election, the job and queue cleaners,
// the rescuer, the scheduler and the periodic enqueuer only read and write
// rows of River's tables (and LISTEN/NOTIFY, which needs no grant).
// River's reindexer is the exception: REINDEX INDEX CONCURRENTLY needs
// ownership of the index on PostgreSQL before 17, and owning River's
// tables would let the server alter and drop them. It is deliberately not
// granted; the worker turns the reindexer off (docs/database.md, "River's
// privileges"; river_test.go shows both sides).
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
