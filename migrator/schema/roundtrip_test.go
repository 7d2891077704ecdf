package schema_test

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/golang-migrate/migrate/v4/source"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/migrations"
	"github.com/groundwork-dev/groundwork/migrator/schema"
)

// catalog describes every object of the public schema, one sorted line
// each: relations, columns, constraints, indexes, functions and types.
func (b *testBundle) catalog(t *testing.T) []string {
	t.Helper()
	rows, err := b.m.Pool().Query(context.Background(), `
SELECT 'relation ' || c.relkind::text || ' ' || c.relname
  FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
UNION ALL
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v') AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint ' || c.relname || '.' || k.conname || ' ' || pg_get_constraintdef(k.oid)
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
 WHERE c.relnamespace = 'public'::regnamespace
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
UNION ALL
SELECT 'type ' || t.typname FROM pg_type t
 WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd', 'c')
   AND NOT EXISTS (SELECT FROM pg_class c WHERE c.reltype = t.oid)
ORDER BY 1`)
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return lines
}

func embeddedVersions(t *testing.T) []uint {
	t.Helper()
	entries, err := fs.ReadDir(migrations.FS, ".")
	require.NoError(t, err)
	var versions []uint
	for _, e := range entries {
		m, err := source.DefaultParse(e.Name())
		require.NoError(t, err, e.Name())
		if m.Direction == source.Up {
			versions = append(versions, m.Version)
		}
	}
	slices.Sort(versions)
	require.NotEmpty(t, versions)
	return versions
}

// TestEmbeddedMigrationsRoundTrip applies the embedded migrations one at
// a time, then rolls them back one at a time: each down file must restore
// exactly the schema of the version before, and the last leaves nothing of
// the app behind.
func TestEmbeddedMigrationsRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t, schema.Options{})
	ctx := context.Background()
	versions := embeddedVersions(t)

	at := map[uint][]string{}
	for i, v := range versions {
		require.NoError(t, b.m.Goto(ctx, v))
		b.requireVersion(t, int(v))
		at[v] = b.catalog(t)
		if i > 0 {
			require.NotEqual(t, at[versions[i-1]], at[v], "%06d changes the schema", v)
		}
	}
	for i := len(versions) - 1; i >= 0; i-- {
		require.NoError(t, b.m.Down(ctx, 1), "down from %d", versions[i])
		if i > 0 {
			require.Equal(t, at[versions[i-1]], b.catalog(t), "%06d's down file must restore version %d exactly", versions[i], versions[i-1])
			b.requireVersion(t, int(versions[i-1]))
		}
	}
	b.requireVersion(t, -1)
	for _, line := range b.catalog(t) {
		owner := catalogOwner(line)
		require.True(t, strings.HasPrefix(owner, "river_") || strings.HasPrefix(owner, schema.MigrationsTable),
			"at no version only River's schema and the bookkeeping table remain, found %q", line)
	}

	_, err := b.m.Up(ctx)
	require.NoError(t, err)
	require.Equal(t, at[versions[len(versions)-1]], b.catalog(t), "up again gives the same schema")
}

// catalogOwner returns the table (or function, or type) a catalog line
// belongs to.
func catalogOwner(line string) string {
	f := strings.Fields(line)
	switch f[0] {
	case "relation":
		return f[2]
	case "column", "constraint":
		table, _, _ := strings.Cut(f[1], ".")
		return table
	case "index":
		i := slices.Index(f, "ON")
		return strings.TrimPrefix(f[i+1], "public.")
	case "function":
		name, _, _ := strings.Cut(f[1], "(")
		return name
	}
	return f[1]
}
