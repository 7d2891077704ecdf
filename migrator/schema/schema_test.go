package schema_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/migrator/schema"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type testBundle struct {
	db  *pgtest.DB
	m   *schema.Migrator
	log *bytes.Buffer
}

// setup opens a Migrator on a new empty database as the migrator role.
func setup(t *testing.T, opts schema.Options) *testBundle {
	t.Helper()
	b := &testBundle{db: pgtest.NewEmpty(t), log: &bytes.Buffer{}}
	b.m = open(t, b.db.MigratorURL, opts, b.log)
	return b
}

// setupUp is setup followed by a successful Up.
func setupUp(t *testing.T) *testBundle {
	t.Helper()
	b := setup(t, schema.Options{})
	_, err := b.m.Up(context.Background())
	require.NoError(t, err)
	b.log.Reset()
	return b
}

func open(t *testing.T, url string, opts schema.Options, log *bytes.Buffer) *schema.Migrator {
	t.Helper()
	if log != nil {
		opts.Log = log
	}
	m, err := schema.Open(context.Background(), url, opts)
	require.NoError(t, err)
	t.Cleanup(m.Close)
	return m
}

// tables lists the tables of the public schema.
func (b *testBundle) tables(t *testing.T) []string {
	t.Helper()
	rows, err := b.m.Pool().Query(context.Background(), "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return names
}

func (b *testBundle) requireVersion(t *testing.T, want int) {
	t.Helper()
	v, dirty, err := b.m.Version(context.Background())
	require.NoError(t, err)
	require.Equal(t, want, v, "schema version")
	require.False(t, dirty, "schema must be clean")
}

func latest(t *testing.T, m *schema.Migrator) int {
	t.Helper()
	v, err := m.Latest()
	require.NoError(t, err)
	return int(v)
}

var riverTables = []string{"river_job", "river_leader", "river_migration", "river_notification", "river_queue"}

func TestUpAppliesEverything(t *testing.T) {
	t.Parallel()
	b := setup(t, schema.Options{})
	ctx := context.Background()

	v, dirty, err := b.m.Version(ctx)
	require.NoError(t, err)
	require.Equal(t, -1, v, "an empty database has no version")
	require.False(t, dirty)

	res, err := b.m.Up(ctx)
	require.NoError(t, err)
	require.True(t, res.Changed())
	require.Equal(t, -1, res.AppFrom)
	require.Equal(t, latest(t, b.m), res.AppTo)
	require.Equal(t, 3, res.AppTo, "update this test when adding a migration")
	require.NotEmpty(t, res.River, "River's schema is applied too")
	require.Equal(t, 1, res.River[0])

	b.requireVersion(t, 3)
	got := b.tables(t)
	for _, want := range append([]string{"account_exports", "accounts", "users", schema.MigrationsTable}, riverTables...) {
		require.Contains(t, got, want)
	}
	require.Contains(t, b.log.String(), "river schema: applied versions [1 2 ")
	require.Contains(t, b.log.String(), "app schema: version none → 3\n")
}

func TestUpTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	b := setupUp(t)
	before := b.tables(t)

	res, err := b.m.Up(context.Background())
	require.NoError(t, err)
	require.False(t, res.Changed())
	require.Equal(t, 3, res.AppFrom)
	require.Equal(t, 3, res.AppTo)
	require.Empty(t, res.River)
	require.Empty(t, b.log.String(), "nothing to report")
	require.Equal(t, before, b.tables(t))
	b.requireVersion(t, 3)
}

func TestUpConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t, schema.Options{})
	ctx := context.Background()
	other := open(t, b.db.MigratorURL, schema.Options{}, nil)

	start := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]schema.UpResult, 2)
	errs := make([]error, 2)
	for i, m := range []*schema.Migrator{b.m, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = m.Up(ctx)
		}()
	}
	close(start)
	wg.Wait()

	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.NotEqual(t, results[0].Changed(), results[1].Changed(),
		"the migrators take turns: one applies the schema, the other finds nothing to do")
	b.requireVersion(t, 3)

	var n int
	require.NoError(t, b.m.Pool().QueryRow(ctx, "SELECT count(*) FROM "+schema.MigrationsTable).Scan(&n))
	require.Equal(t, 1, n, "golang-migrate keeps one row")
	var dup int
	require.NoError(t, b.m.Pool().QueryRow(ctx,
		"SELECT count(*) FROM (SELECT line, version FROM river_migration GROUP BY line, version HAVING count(*) > 1) d").Scan(&dup))
	require.Zero(t, dup, "no River migration recorded twice")
	require.NoError(t, b.m.Pool().QueryRow(ctx, "SELECT count(*) FROM river_migration").Scan(&n))
	require.Equal(t, len(results[0].River)+len(results[1].River), n, "each River migration ran once, in one of the two")
}

func TestDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OneThenUpAgain", func(t *testing.T) {
		t.Parallel()
		b := setupUp(t)
		require.NoError(t, b.m.Down(ctx, 1))
		b.requireVersion(t, 2)
		require.Contains(t, b.log.String(), "app schema: version 3 → 2\n")
		tables := b.tables(t)
		require.NotContains(t, tables, "account_exports")
		require.Contains(t, tables, "accounts")
		require.Subset(t, tables, riverTables, "Down leaves River's schema alone")

		res, err := b.m.Up(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, res.AppFrom)
		require.Equal(t, 3, res.AppTo)
		require.Empty(t, res.River)
		require.Contains(t, b.tables(t), "account_exports")
		b.requireVersion(t, 3)
	})

	t.Run("All", func(t *testing.T) {
		t.Parallel()
		b := setupUp(t)
		require.NoError(t, b.m.Down(ctx, 3))
		b.requireVersion(t, -1)
		require.Equal(t, append(riverTables, schema.MigrationsTable), b.tables(t), "only River's and the bookkeeping tables remain")
	})

	t.Run("MoreThanApplied", func(t *testing.T) {
		t.Parallel()
		// Asking for more than there is rolls back everything there is.
		b := setupUp(t)
		require.NoError(t, b.m.Down(ctx, 5))
		b.requireVersion(t, -1)
		require.NotContains(t, b.tables(t), "users")
	})

	t.Run("NothingToRollBack", func(t *testing.T) {
		t.Parallel()
		b := setup(t, schema.Options{})
		err := b.m.Down(ctx, 1)
		require.EqualError(t, err, "down 1: nothing to roll back at version none")
		b.requireVersion(t, -1)
	})

	t.Run("NotPositive", func(t *testing.T) {
		t.Parallel()
		b := setupUp(t)
		for _, n := range []int{0, -1} {
			err := b.m.Down(ctx, n)
			require.ErrorContains(t, err, "down: the number of migrations to roll back must be positive")
		}
		b.requireVersion(t, 3)
		require.Contains(t, b.tables(t), "accounts")
	})
}

func TestGoto(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("DownAndUp", func(t *testing.T) {
		t.Parallel()
		b := setupUp(t)
		require.NoError(t, b.m.Goto(ctx, 1))
		b.requireVersion(t, 1)
		require.NotContains(t, b.tables(t), "accounts")
		require.NoError(t, b.m.Goto(ctx, 3))
		b.requireVersion(t, 3)
		require.Contains(t, b.tables(t), "accounts")
		require.Contains(t, b.tables(t), "account_exports")
		require.NoError(t, b.m.Goto(ctx, 3), "going to the current version is a no-op")
		b.requireVersion(t, 3)
	})

	t.Run("OnEmptyDatabase", func(t *testing.T) {
		t.Parallel()
		// App migrations may refer to River's tables, and the grants cover
		// them: Goto applies River's schema first, as Up does.
		b := setup(t, schema.Options{})
		require.NoError(t, b.m.Goto(ctx, 1))
		b.requireVersion(t, 1)
		tables := b.tables(t)
		require.Contains(t, tables, "users")
		require.NotContains(t, tables, "accounts")
		require.Subset(t, tables, riverTables)
	})

	t.Run("ZeroIsNone", func(t *testing.T) {
		t.Parallel()
		// goto 0: every app migration rolled back, River's schema kept.
		b := setupUp(t)
		require.NoError(t, b.m.Goto(ctx, 0))
		b.requireVersion(t, -1)
		tables := b.tables(t)
		require.NotContains(t, tables, "users")
		require.NotContains(t, tables, "accounts")
		require.Subset(t, tables, riverTables)
		require.NoError(t, b.m.Goto(ctx, 0), "already at none: a no-op")
		b.requireVersion(t, -1)
		require.NoError(t, b.m.Goto(ctx, 3), "and back up")
		b.requireVersion(t, 3)
	})

	t.Run("UnknownVersion", func(t *testing.T) {
		t.Parallel()
		b := setupUp(t)
		for _, v := range []uint{4, 99} {
			err := b.m.Goto(ctx, v)
			require.EqualError(t, err, fmt.Sprintf("goto %d: no migration has that version; the versions are 0 (none applied) and 1, 2, 3", v))
		}
		b.requireVersion(t, 3)
		require.Contains(t, b.tables(t), "accounts")
	})
}

func TestForce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("RecordsWithoutRunning", func(t *testing.T) {
		t.Parallel()
		b := setupUp(t)
		require.NoError(t, b.m.Force(ctx, 1))
		b.requireVersion(t, 1)
		require.Contains(t, b.tables(t), "accounts", "Force runs nothing")
		require.Contains(t, b.log.String(), "app schema: version recorded as 1\n")

		require.NoError(t, b.m.Force(ctx, -1))
		b.requireVersion(t, -1)
		require.Contains(t, b.tables(t), "users")
	})

	t.Run("BadVersion", func(t *testing.T) {
		t.Parallel()
		b := setupUp(t)
		require.EqualError(t, b.m.Force(ctx, -2), "force: version must be -1 (none) or a migration's version, got -2")
		require.EqualError(t, b.m.Force(ctx, 4), "force 4: no migration has that version; the versions are -1 (none) and 1, 2, 3")
		require.EqualError(t, b.m.Force(ctx, 0), "force 0: no migration has that version; the versions are -1 (none) and 1, 2, 3")
		b.requireVersion(t, 3)
	})
}

func TestDirty(t *testing.T) {
	t.Parallel()
	b := setupUp(t)
	ctx := context.Background()
	_, err := b.m.Pool().Exec(ctx, "UPDATE "+schema.MigrationsTable+" SET dirty = true")
	require.NoError(t, err)

	v, dirty, err := b.m.Version(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, v)
	require.True(t, dirty)

	_, err = b.m.Up(ctx)
	var de *schema.ErrDirty
	require.ErrorAs(t, err, &de)
	require.Equal(t, 3, de.Version)
	require.ErrorContains(t, err, "the database is marked dirty at version 3")
	require.ErrorContains(t, err, "`migrator force <version>`", "the message tells the way out")
	require.ErrorContains(t, err, "`migrator up`")

	require.ErrorAs(t, b.m.Down(ctx, 1), &de)
	require.ErrorAs(t, b.m.Goto(ctx, 1), &de)
	require.Contains(t, b.tables(t), "accounts", "nothing ran on a dirty database")

	require.NoError(t, b.m.Force(ctx, 3))
	b.requireVersion(t, 3)
	res, err := b.m.Up(ctx)
	require.NoError(t, err)
	require.False(t, res.Changed())
}

func TestFailedMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good := fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("CREATE TABLE a (id int);\n")},
		"000001_a.down.sql": {Data: []byte("DROP TABLE a;\n")},
		"000002_b.down.sql": {Data: []byte("DROP TABLE b;\n")},
	}
	with := func(up string) fstest.MapFS {
		fsys := fstest.MapFS{"000002_b.up.sql": {Data: []byte(up)}}
		for k, v := range good {
			fsys[k] = v
		}
		return fsys
	}

	t.Run("SecondFileRolledBack", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewEmpty(t)
		broken := open(t, db.MigratorURL, schema.Options{Source: with("CREATE TABLE b (id int);\nSELECT * FROM does_not_exist;\n")}, nil)

		_, err := broken.Up(ctx)
		var fe *schema.FailedError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, uint(2), fe.Version)
		require.Equal(t, "000002_b.up.sql", fe.File)
		require.Equal(t, 1, fe.Previous)
		require.Equal(t, uint(2), fe.Line, "where PostgreSQL reported the error")
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, "callers reach PostgreSQL's error")
		require.Equal(t, "42P01", pgErr.Code)
		require.EqualError(t, err, `migration 000002_b.up.sql failed at line 2 and was rolled back, the schema stays at version 1: `+
			`relation "does_not_exist" does not exist (SQLSTATE 42P01); fix the file and run `+"`migrator up`"+` again`)

		b := &testBundle{db: db, m: broken}
		b.requireVersion(t, 1)
		tables := b.tables(t)
		require.Contains(t, tables, "a")
		require.NotContains(t, tables, "b", "the failed file's first statement was rolled back with it")

		fixed := open(t, db.MigratorURL, schema.Options{Source: with("CREATE TABLE b (id int);\n")}, nil)
		res, err := fixed.Up(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, res.AppFrom)
		require.Equal(t, 2, res.AppTo)
		b.requireVersion(t, 2)
		require.Contains(t, b.tables(t), "b")
	})

	t.Run("FirstFile", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewEmpty(t)
		m := open(t, db.MigratorURL, schema.Options{Source: fstest.MapFS{
			"000001_a.up.sql":   {Data: []byte("CREATE TABLE a (id int);\nINSERT INTO a VALUES (1 / 0);\n")},
			"000001_a.down.sql": {Data: []byte("DROP TABLE a;\n")},
		}}, nil)

		_, err := m.Up(ctx)
		var fe *schema.FailedError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, -1, fe.Previous)
		require.Zero(t, fe.Line, "a run-time error has no position")
		require.EqualError(t, err, "migration 000001_a.up.sql failed and was rolled back, the schema stays at no version (empty): "+
			"division by zero (SQLSTATE 22012); fix the file and run `migrator up` again")
		b := &testBundle{db: db, m: m}
		b.requireVersion(t, -1)
		require.NotContains(t, b.tables(t), "a")
	})

	t.Run("GotoUp", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewEmpty(t)
		m := open(t, db.MigratorURL, schema.Options{Source: with("CREATE TABLE b (id int);\nCREATE TABLE b (id int);\n")}, nil)
		b := &testBundle{db: db, m: m}

		var fe *schema.FailedError
		require.ErrorAs(t, m.Goto(ctx, 2), &fe, "Goto reports a failed file like Up")
		require.Equal(t, "000002_b.up.sql", fe.File)
		require.Equal(t, 1, fe.Previous)
		b.requireVersion(t, 1)
		require.NotContains(t, b.tables(t), "b")
	})

	// golang-migrate marks the version it rolls back *to* as dirty; the
	// schema really stays at the version whose down file failed.
	downs := fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("CREATE TABLE a (id int);\n")},
		"000001_a.down.sql": {Data: []byte("DROP TABLE a;\nDROP TABLE nope;\n")},
		"000002_b.up.sql":   {Data: []byte("CREATE TABLE b (id int);\n")},
		"000002_b.down.sql": {Data: []byte("DROP TABLE b;\nDROP TABLE nope;\n")},
		"000003_c.up.sql":   {Data: []byte("CREATE TABLE c (id int);\n")},
		"000003_c.down.sql": {Data: []byte("DROP TABLE c;\n")},
	}

	t.Run("Down", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewEmpty(t)
		m := open(t, db.MigratorURL, schema.Options{Source: downs}, nil)
		b := &testBundle{db: db, m: m}
		require.NoError(t, m.Goto(ctx, 2))

		err := m.Down(ctx, 1)
		var fe *schema.FailedError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, uint(2), fe.Version)
		require.Equal(t, "000002_b.down.sql", fe.File)
		require.Equal(t, 2, fe.Previous, "the schema is still at the version being rolled back")
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		require.Equal(t, "42P01", pgErr.Code)
		require.EqualError(t, err, `migration 000002_b.down.sql failed and was rolled back, the schema stays at version 2: `+
			`table "nope" does not exist (SQLSTATE 42P01); fix the file and roll back again`)
		b.requireVersion(t, 2)
		require.Contains(t, b.tables(t), "b", "the failed down file's first statement was rolled back")

		// The marker tells the truth: Up applies 3 only (from 1, it would
		// run 2 again and fail on the existing table).
		res, err := m.Up(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, res.AppFrom)
		require.Equal(t, 3, res.AppTo)
	})

	t.Run("DownFirst", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewEmpty(t)
		m := open(t, db.MigratorURL, schema.Options{Source: downs}, nil)
		b := &testBundle{db: db, m: m}
		require.NoError(t, m.Goto(ctx, 1))

		var fe *schema.FailedError
		require.ErrorAs(t, m.Down(ctx, 1), &fe)
		require.Equal(t, "000001_a.down.sql", fe.File)
		require.Equal(t, 1, fe.Previous)
		b.requireVersion(t, 1)
		require.Contains(t, b.tables(t), "a")
	})

	t.Run("GotoDownSeveral", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewEmpty(t)
		m := open(t, db.MigratorURL, schema.Options{Source: downs}, nil)
		b := &testBundle{db: db, m: m}
		require.NoError(t, m.Goto(ctx, 3))

		// 3's down succeeds, 2's fails: the schema is at 2.
		var fe *schema.FailedError
		require.ErrorAs(t, m.Goto(ctx, 1), &fe)
		require.Equal(t, "000002_b.down.sql", fe.File)
		require.Equal(t, 2, fe.Previous)
		b.requireVersion(t, 2)
		tables := b.tables(t)
		require.NotContains(t, tables, "c")
		require.Contains(t, tables, "b")
	})
}

func TestOpenRejectsBadSource(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmpty(t)
	_, err := schema.Open(context.Background(), db.MigratorURL, schema.Options{Source: fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("SELECT 1;")},
		"000001_b.up.sql":   {Data: []byte("SELECT 1;")},
		"000001_a.down.sql": {Data: []byte("SELECT 1;")},
	}})
	require.ErrorContains(t, err, "migrations source")
	require.ErrorContains(t, err, "duplicate migration file")

	_, err = schema.Open(context.Background(), db.MigratorURL, schema.Options{Source: fstest.MapFS{"README.md": {}}})
	require.ErrorContains(t, err, "migrations source: no migration files")
}

func TestOpenRejectsBadURL(t *testing.T) {
	t.Parallel()
	_, err := schema.Open(context.Background(), "postgres://migrator:s3cret@127.0.0.1:1/app?sslmode=disable", schema.Options{})
	require.ErrorContains(t, err, "sslmode is disable; it must be verify-full")
	require.NotContains(t, err.Error(), "s3cret")
}

func TestLatestVersion(t *testing.T) {
	t.Parallel()
	v, err := schema.LatestVersion(fstest.MapFS{
		"000001_a.up.sql": {}, "000001_a.down.sql": {}, "000010_b.up.sql": {}, "000003_c.up.sql": {}, "notes.txt": {},
	})
	require.NoError(t, err)
	require.Equal(t, uint(10), v)

	_, err = schema.LatestVersion(fstest.MapFS{"notes.txt": {}})
	require.ErrorContains(t, err, "read migrations")
}
